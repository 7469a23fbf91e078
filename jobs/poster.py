"""Posting check-ins at most one message per second into any one channel, many channels at once.

Slack allows about one message per second per channel. A due minute may hold hundreds of check-ins
spread over dozens of channels: each channel gets its own queue, and a small pool of threads always
serves the channel whose next slot comes first, so a busy channel never holds up the others.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

# Seconds between the starts of two posts into one channel: a little over Slack's one per second, so
# that network jitter never lands two of them within one second at Slack's end.
PER_CHANNEL_INTERVAL = 1.05


class ChannelPoster:
    def __init__(self, *, threads: int = 16, interval: float = PER_CHANNEL_INTERVAL) -> None:
        self.interval = interval
        self._queues: dict[str, deque[tuple[Callable[[], None], Callable[[], None] | None]]] = {}
        self._ready: list[tuple[float, int, str]] = []  # (earliest send time, tiebreak, channel)
        self._busy: set[str] = set()  # channels with a send in flight or scheduled in the heap
        self._next_slot: dict[str, float] = {}
        self._seq = 0
        self._pending = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._work, name=f"tandem-poster-{i}", daemon=True)
            for i in range(threads)
        ]
        for worker in self._workers:
            worker.start()

    def submit(
        self, channel_id: str, send: Callable[[], None], *, abandon: Callable[[], None] | None = None
    ) -> None:
        """Queue `send` (one message into `channel_id`) for the channel's next slot.

        `abandon` runs instead if the poster stops before `send` could run, so the caller can give
        back what it claimed.
        """
        with self._cond:
            if self._stopping:
                raise RuntimeError("poster is stopping")
            self._queues.setdefault(channel_id, deque()).append((send, abandon))
            self._pending += 1
            if channel_id not in self._busy:
                self._schedule(channel_id)
            self._cond.notify()

    def _schedule(self, channel_id: str) -> None:
        self._busy.add(channel_id)
        self._seq += 1
        at = max(time.monotonic(), self._next_slot.get(channel_id, 0.0))
        heapq.heappush(self._ready, (at, self._seq, channel_id))

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping and not self._ready:
                        return
                    if self._ready:
                        at, _, channel = self._ready[0]
                        delay = at - time.monotonic()
                        if delay <= 0:
                            heapq.heappop(self._ready)
                            send, _ = self._queues[channel].popleft()
                            self._next_slot[channel] = time.monotonic() + self.interval
                            break
                        self._cond.wait(delay)
                    else:
                        self._cond.wait()
            try:
                send()
            except Exception:
                log.exception("posting into %s failed", channel)
            finally:
                with self._cond:
                    self._pending -= 1
                    if self._queues[channel]:
                        self._schedule(channel)
                    else:
                        self._busy.discard(channel)
                        del self._queues[channel]
                    self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far has been sent; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self, timeout: float = 30.0) -> int:
        """Finish what can be sent within `timeout`, abandon the rest; returns how many were abandoned."""
        self.join(timeout)
        with self._cond:
            self._stopping = True
            leftover = [abandon for queue in self._queues.values() for _, abandon in queue]
            for queue in self._queues.values():
                self._pending -= len(queue)
                queue.clear()
            self._ready.clear()
            self._cond.notify_all()
        for worker in self._workers:
            worker.join(timeout=5)
        for abandon in leftover:
            if abandon is not None:
                try:
                    abandon()
                except Exception:
                    log.exception("could not give back an unsent check-in")
        return len(leftover)
