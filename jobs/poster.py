"""Posting check-ins at most one message per second into any one channel, many channels at once.

Slack allows about one message per second per channel. A due minute may hold hundreds of check-ins
spread over dozens of channels: each channel gets its own queue, and a small pool of threads always
serves the channel whose next slot comes first, so a busy channel never holds up the others. A
channel's next slot is `interval` after Slack answered its previous message (see
PER_CHANNEL_INTERVAL); a send tells the poster when that was with `answered()`, or that nothing
went out with `nothing_sent()`, and otherwise the slot counts from the end of the send.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

# Seconds from Slack's answer to one message to the start of the next into the same channel. The
# first message reached Slack before its answer came back, and the next cannot reach Slack before
# it is sent, so two messages never arrive within this many seconds of each other, whatever the
# network or the GIL do to either. (Spacing the starts instead, by 1.05 s, measured 0.985 s between
# arrivals under load: a thread can wait tens of milliseconds for the GIL after its slot.)
PER_CHANNEL_INTERVAL = 1.0


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
        self._local = threading.local()  # what the send on a worker thread said about its channel
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
                            break
                        self._cond.wait(delay)
                    else:
                        self._cond.wait()
            self._local.answered = None
            self._local.nothing_sent = False
            try:
                send()
            except Exception:
                log.exception("posting into %s failed", channel)
            finally:
                answered, nothing_sent = self._local.answered, self._local.nothing_sent
                ended = time.monotonic()
                with self._cond:
                    if answered is not None:
                        self._next_slot[channel] = answered + self.interval
                    elif not nothing_sent:
                        # The send did not say: it may have posted, and it ended after any answer.
                        self._next_slot[channel] = ended + self.interval
                    self._pending -= 1
                    if self._queues[channel]:
                        self._schedule(channel)
                    else:
                        self._busy.discard(channel)
                        del self._queues[channel]
                    self._cond.notify_all()

    def answered(self) -> None:
        """Called by a send when Slack answered its message (or gave up on it): the channel's next
        message may start `interval` from now."""
        self._local.answered = time.monotonic()

    def nothing_sent(self) -> None:
        """Called by a send that sent nothing to Slack after all: the channel's next message need
        not wait for it."""
        self._local.nothing_sent = True

    @property
    def pending(self) -> int:
        """Messages queued or being sent (the outbox depth /metrics reports)."""
        return self._pending

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
