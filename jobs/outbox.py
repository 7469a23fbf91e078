"""The outbox: prepared check-ins go out through the per-channel poster and their outcome is recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.messenger import Messenger
from db.session import Database
from jobs.checkins import PreparedCheckin, deliver, release_unsent
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
        on_paused: Callable[[str], None] = lambda team_id: None,
        after_posted: Callable[[PreparedCheckin, str], None] | None = None,
    ) -> None:
        self.database = database
        self.messenger = messenger
        self.clock = clock
        self.on_paused = on_paused
        # Runs after a check-in was posted, with its ts (the pulse that goes with it).
        self.after_posted = after_posted
        self.poster = ChannelPoster(threads=threads, interval=interval)

    def submit(self, checkin: PreparedCheckin) -> None:
        def send() -> None:
            ts = deliver(
                self.database,
                self.messenger,
                checkin,
                clock=self.clock,
                on_paused=self.on_paused,
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
