"""What use cases need besides their arguments: built once per process (`bot/runtime.py`), all required.

Use-case functions (`bot/usecases/`) take a `Services`; listeners get it from the Bolt context
(`bot.middleware.services_of`), scheduled jobs from the runtime that built them. Tests build the
same object through the same `Runtime`, with the local fake of Slack behind the messenger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.config import Settings
from bot.messenger import Messenger
from db.clock import Clock
from db.pulses import VoterKeys
from db.session import Database


@dataclass(frozen=True)
class PulseSettings:
    min_answers: int = 3
    reminder_hours: float = 4.0


class ChannelQueue(Protocol):
    """Posts into channels at Slack's pace (one message a second per channel, jobs/poster.py)."""

    def submit(self, checkin: Any) -> None:
        """Queue a prepared check-in (bot.usecases.checkins.PreparedCheckin); its outcome is recorded."""
        ...

    def send(self, channel_id: str, send: Callable[[], None], *, team_id: str | None = None) -> None:
        """Queue any other message into a channel, under the same one-per-second rule (and, given
        the workspace's `team_id`, behind that workspace's rate and any 429 it got)."""
        ...


class CountMarker(Protocol):
    """Keeps each open pulse's "N people have answered" line fresh, at most once an interval."""

    def mark(self, pulse_id: int) -> None: ...


class HomeRefresher(Protocol):
    """Publishes App Home tabs in the background; a failed publish never blocks an action."""

    def refresh(self, team_id: str, *user_ids: str) -> None: ...

    def publish(self, team_id: str, user_id: str) -> bool: ...


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    messenger: Messenger
    pulse_settings: PulseSettings
    # The server's secret key, as it names voters of open anonymous pulses (never stored in the
    # database; `bot.secret_key`).
    voter_keys: VoterKeys
    # Posts check-ins (the scheduler's outbox, or this web process's own when it runs no scheduler).
    checkins: ChannelQueue
    counts: CountMarker
    homes: HomeRefresher
    # Called with a team id after a change that the scheduler must see at once (in this process;
    # a separate scheduler process picks changes up on its periodic resync).
    on_schedule_change: Callable[[str | None], None]
    # Called with a ritual id after it was created, edited, paused, resumed or deleted.
    on_ritual_change: Callable[[int], None]
