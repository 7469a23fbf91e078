"""What listeners need besides what Bolt gives them, handed over through the Bolt context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_bolt import BoltContext

from bot.config import Settings
from db.clock import Clock, SystemClock
from db.session import Database
from jobs.pulses import PulseSettings

if TYPE_CHECKING:
    from bot.home import HomePublisher
    from bot.responder import ResponseUrlClient
    from jobs.delivery import Messenger
    from jobs.outbox import CheckinOutbox
    from jobs.pulses import CountRefresher


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock = field(default_factory=SystemClock)
    # Called with a team id after a change that the scheduler must see at once (in this process;
    # a separate scheduler process picks changes up on its periodic resync).
    on_schedule_change: Callable[[str | None], None] = lambda team_id: None
    # Called with a ritual id after it was created, edited, paused, resumed or deleted.
    on_ritual_change: Callable[[int], None] = lambda ritual_id: None
    # Posts check-ins (the scheduler's outbox, or this web process's own when it runs no scheduler).
    checkins: CheckinOutbox | None = None
    # Slack for work done after the ack, outside Bolt's request client (pulse messages, counts).
    messenger: Messenger | None = None
    pulse_settings: PulseSettings = field(default_factory=PulseSettings)
    counts: CountRefresher | None = None
    # Refreshes App Home tabs in the background after changes that affect someone.
    homes: HomePublisher | None = None
    # Replies to response_urls over kept-alive connections (pulse clicks: see bot/responder.py).
    responses: ResponseUrlClient | None = None

    @staticmethod
    def of(context: BoltContext) -> Services:
        return context["tandem"]
