"""The outbox: prepared check-ins go out through the per-channel poster and their outcome is recorded.

It offers what `bot.usecases.checkins.deliver` needs to pause a channel's rituals when Slack refuses a
check-in there (the database, the messenger, `on_ritual_change`), so a scheduler that runs without a
web app behaves the same as one inside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.messenger import Messenger
from bot.usecases.checkins import PreparedCheckin, deliver, release_unsent
from db.session import Database
from jobs.poster import PER_CHANNEL_INTERVAL, ChannelPoster


class CheckinOutbox:
    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        clock: Callable[[], dt.datetime],
        *,
        threads: int = 16,
        interval: float = PER_CHANNEL_INTERVAL,
        on_ritual_change: Callable[[int], None] = lambda ritual_id: None,
        after_posted: Callable[[PreparedCheckin, str], None] | None = None,
    ) -> None:
        self.database = database
        self.messenger = messenger
        self.clock = clock
        # Called with the id of each ritual a refused check-in paused (the scheduler drops its job).
        self.on_ritual_change = on_ritual_change
        # Runs after a check-in was posted, with its ts (the pulse that goes with it).
        self.after_posted = after_posted
        self.poster = ChannelPoster(threads=threads, interval=interval)

    def submit(self, checkin: PreparedCheckin) -> None:
        def send() -> None:
            ts = deliver(
                self,
                checkin,
                clock=self.clock,
                answered=self.poster.answered,
                nothing_sent=self.poster.nothing_sent,
            )
            # Only a check-in that reached its channel brings its pulse (ts is None when it did not).
            if ts and self.after_posted is not None:
                self.after_posted(checkin, ts)

        self.poster.submit(checkin.channel_id, send, abandon=lambda: release_unsent(self.database, [checkin]))

    def send(self, channel_id: str, send: Callable[[], None]) -> None:
        """Queue any other message into a channel, under the same one-per-second rule."""
        self.poster.submit(channel_id, send)

    def join(self, timeout: float | None = None) -> bool:
        return self.poster.join(timeout)

    def stop(self, timeout: float = 20.0) -> int:
        return self.poster.stop(timeout)
