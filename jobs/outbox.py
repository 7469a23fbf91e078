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
from bot.usecases.checkins import PreparedCheckin, RateLimited, deliver, release_unsent
from db.session import Database
from jobs.poster import PER_CHANNEL_INTERVAL, POSTER_THREADS, ChannelPoster


class CheckinOutbox:
    def __init__(
        self,
        database: Database,
        messenger: Messenger,
        clock: Callable[[], dt.datetime],
        *,
        grace: dt.timedelta = dt.timedelta(hours=2),
        threads: int = POSTER_THREADS,
        interval: float = PER_CHANNEL_INTERVAL,
        workspace_per_minute: float | None = None,
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
        # Posts go out per channel and per workspace (`workspace_per_minute`: each workspace's rate,
        # None for none of Tandem's own; Slack's 429s hold back only their workspace either way).
        self.poster = ChannelPoster(
            threads=threads, interval=interval, workspace_per_minute=workspace_per_minute
        )

    def submit(self, checkin: PreparedCheckin) -> None:
        # The check-in as it is now: a 429 hands it back holding the lease its delivery took.
        current = [checkin]

        def send() -> None:
            try:
                ts = deliver(
                    self,
                    current[0],
                    clock=self.clock,
                    grace=self.grace,
                    answered=self.poster.answered,
                    sending=self.poster.sending,
                    nothing_sent=self.poster.nothing_sent,
                )
            except RateLimited as later:
                # Not posted: the poster runs this send again after Retry-After (still in flight here).
                current[0] = later.checkin
                self.poster.rate_limited(later.retry_after)
                return
            except BaseException:
                self._done(checkin.occurrence_id)
                raise
            self._done(checkin.occurrence_id)
            # Only a check-in that reached its channel brings its pulse (ts is None when it did not).
            if ts and self.after_posted is not None:
                self.after_posted(current[0], ts)

        def abandon() -> None:
            self._done(checkin.occurrence_id)
            release_unsent(self.database, [current[0]])

        with self._lock:
            if checkin.occurrence_id in self._in_flight:
                return  # queued here already (a reconciler found it while it waited)
            self._in_flight.add(checkin.occurrence_id)
        try:
            self.poster.submit(checkin.channel_id, send, abandon=abandon, workspace=checkin.team_id)
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

    def send(self, channel_id: str, send: Callable[[], None], *, team_id: str | None = None) -> None:
        """Queue any other message into a channel, under the same one-per-second rule (and, given the
        workspace's `team_id`, behind that workspace's rate and any 429 it got)."""
        self.poster.submit(channel_id, send, workspace=team_id)

    def join(self, timeout: float | None = None) -> bool:
        return self.poster.join(timeout)

    def stop(self, timeout: float = 20.0) -> int:
        return self.poster.stop(timeout)
