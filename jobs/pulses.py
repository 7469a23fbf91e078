"""Pulse work the clock and the background do: the scheduler's minutely pulse job, the outbox's
"a check-in was posted" hook, and the thread that keeps open pulses' counts fresh.

What each does (read, decide, build, send, record) is in `bot.usecases.pulses`; this module only
says when.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from bot.services import Services
from bot.usecases import pulses
from bot.usecases.checkins import PreparedCheckin

log = logging.getLogger(__name__)

# Slack's chat.update is Tier 3 (about 50 a minute): one refresh of a pulse's count every few
# seconds keeps a busy pulse far below that, however many people click.
COUNT_REFRESH_SECONDS = 3.0


def run(services: Services, *, now: dt.datetime) -> None:
    """The minutely job: close pulses whose time is up (posting their results), then send due reminders."""
    pulses.close_due(services, now=now)
    # An erasure that readers or locks held up (or a restart interrupted) is finished here.
    services.database.erase_residue_if_pending()
    if services.pulse_settings.reminder_hours > 0:
        pulses.send_reminders(services, now=now)


def after_checkin(services: Services, checkin: PreparedCheckin, ts: str) -> None:
    """The outbox's hook: a check-in that reached its channel (at `ts`) brings its pulse, in its thread."""
    pulses.open_after_checkin(
        services,
        checkin.ritual_id,
        owner=checkin.created_by,
        occurrence_id=checkin.occurrence_id,
        thread_ts=ts,
        theme=checkin.prompt_theme,
    )


class CountRefresher:
    """Keeps each open pulse's "N people have answered" line fresh without flooding chat.update:
    pulses marked by clicks are refreshed (`refresh(pulse_id)`, `bot.usecases.pulses.refresh_count`)
    in one round at most once an interval, on a thread of their own."""

    def __init__(self, refresh: Callable[[int], None], *, interval: float = COUNT_REFRESH_SECONDS) -> None:
        self.refresh = refresh
        self.interval = interval
        self._dirty: set[int] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tandem-pulse-counts", daemon=True)
        self._thread.start()

    def mark(self, pulse_id: int) -> None:
        with self._cond:
            # Wake the thread only when the set was empty: that is when it may be waiting for work. While
            # it waits out its interval, waking it for every click (a busy pulse's every click) only made
            # it take the GIL back from the clicks and go to sleep again (bench/README.md).
            wake = not self._dirty
            self._dirty.add(pulse_id)
            if wake:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._dirty:
                    return
                batch, self._dirty = self._dirty, set()
            for pulse_id in batch:
                try:
                    self.refresh(pulse_id)
                except Exception:
                    # One pulse that cannot be refreshed must not stop the others' counts for good.
                    log.exception("the count of pulse %s could not be refreshed", pulse_id)
            # At most one round of updates per interval, however many clicks arrive meanwhile.
            deadline = time.monotonic() + self.interval
            with self._cond:
                while not self._stopping and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=10)
