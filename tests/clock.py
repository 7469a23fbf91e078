"""A clock tests set and move by hand."""

from __future__ import annotations

import datetime as dt
import threading


class FrozenClock:
    def __init__(self, now: dt.datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = now
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, now: dt.datetime) -> None:
        with self._lock:
            self._now = now

    def advance(self, **delta: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(**delta)
            return self._now
