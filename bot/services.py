"""What listeners need besides what Bolt gives them, handed over through the Bolt context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slack_bolt import BoltContext

from bot.config import Settings
from db.clock import Clock, SystemClock
from db.session import Database


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock = field(default_factory=SystemClock)
    # Called with a team id after a change that the scheduler must see at once (in this process;
    # a separate scheduler process picks changes up on its periodic resync).
    on_schedule_change: Callable[[str | None], None] = lambda team_id: None

    @staticmethod
    def of(context: BoltContext) -> Services:
        return context["tandem"]
