"""What listeners need besides what Bolt gives them, handed over through the Bolt context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from slack_bolt import BoltContext

from bot.config import Settings
from db.clock import Clock, SystemClock
from db.session import Database

if TYPE_CHECKING:
    from jobs.checkins import PreparedCheckin


class CheckinSink(Protocol):
    def submit(self, checkin: PreparedCheckin) -> None: ...


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
    # Posts check-ins (the scheduler's, or a direct one when this process runs no scheduler).
    checkins: CheckinSink | None = None

    @staticmethod
    def of(context: BoltContext) -> Services:
        return context["tandem"]
