"""The outbox: prepared check-ins go out through the per-channel poster and their outcome is recorded.

It offers what `bot.usecases.checkins.deliver` needs to pause a channel's rituals when Slack refuses a
check-in there (the database, the messenger, `on_ritual_change`), so a scheduler that runs without a
web app behaves the same as one inside it.
"""

from __future__ import annotations

import datetime as dt
import threading
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
        grace: dt.timedelta = dt.timedelta(hours=2),
        threads: int = 16,
        interval: float = PER_CHANNEL_INTERVAL,
        on_ritual_change: Callable[[int], None] = lambda ritual_id: None,
        after_posted: Callable[[PreparedCheckin, str], None] | None = None,
    ) -> None:
        self.database = database
        self.messenger = messenger
        self.clock = clock
        # How late a check-in whose first post went astray may still be posted (TANDEM_MISSED_GRACE_HOURS).
        self.grace = grace
        # Occurrences queued or being posted here: the reconciler leaves them alone.
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()
        # Called with the id of each ritual a refused check-in paused (the scheduler drops its job).
        self.on_ritual_change = on_ritual_change
        # Runs after a check-in was posted, with its ts (the pulse that goes with it).
        self.after_posted = after_posted
        self.poster = ChannelPoster(threads=threads, interval=interval)

    def submit(self, checkin: PreparedCheckin) -> None:
        def send() -> None:
            try:
                ts = deliver(
                    self,
                    checkin,
                    clock=self.clock,
                    grace=self.grace,
                    answered=self.poster.answered,
                    nothing_sent=self.poster.nothing_sent,
                )
            finally:
                self._done(checkin.occurrence_id)
            # Only a check-in that reached its channel brings its pulse (ts is None when it did not).
            if ts and self.after_posted is not None:
                self.after_posted(checkin, ts)

        def abandon() -> None:
            self._done(checkin.occurrence_id)
            release_unsent(self.database, [checkin])

        with self._lock:
            if checkin.occurrence_id in self._in_flight:
                return  # queued here already (a reconciler found it while it waited)
            self._in_flight.add(checkin.occurrence_id)
        try:
            self.poster.submit(checkin.channel_id, send, abandon=abandon)
        except BaseException:
            self._done(checkin.occurrence_id)
            raise

    def _done(self, occurrence_id: int) -> None:
        with self._lock:
            self._in_flight.discard(occurrence_id)

    def in_flight(self) -> list[int]:
        """The occurrences queued or being posted by this process."""
        with self._lock:
            return list(self._in_flight)

    def send(self, channel_id: str, send: Callable[[], None]) -> None:
        """Queue any other message into a channel, under the same one-per-second rule."""
        self.poster.submit(channel_id, send)

    def join(self, timeout: float | None = None) -> bool:
        return self.poster.join(timeout)

    def stop(self, timeout: float = 20.0) -> int:
        return self.poster.stop(timeout)
