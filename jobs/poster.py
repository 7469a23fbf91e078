"""Posting into many channels of many workspaces at once, as fast as Slack lets each one go.

Slack limits chat.postMessage twice: about one message a second into any one channel, and a
workspace-wide rate above that (over either, HTTP 429 with Retry-After). A due minute may hold thousands of check-ins in thousands of
channels of hundreds of workspaces. Each channel gets its own queue; a pool of threads always serves
the channel whose next slot comes first, so a busy channel never holds up the others, and each
workspace has a gate (`WorkspaceGate`) that spaces its posts at its rate and holds them all back
while Slack has said "not before" (a 429): one workspace being rate-limited never slows another.

A channel's next slot is `interval` after its previous message started, and never before Slack
answered that one (see PER_CHANNEL_INTERVAL); a send tells the poster when that was with `answered()`, that nothing went
out with `nothing_sent()`, or that Slack refused it with a 429 with `rate_limited(retry_after)`:
the same send then runs again once the workspace's Retry-After has passed (a 429 is Slack's clear
"not posted", so repeating it cannot duplicate anything). Otherwise the slot counts from the end of
the send.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Seconds between the starts of two messages into the same channel; and a channel never has two in
# flight: the next starts no sooner than Slack's answer to the one before. Slack's rule is "about one
# message a second per channel, short bursts allowed", so starts a second apart keep within it
# (arrivals measured 0.985 s apart at worst under load, when a thread waited for the GIL); counting
# the second from Slack's *answer* instead, as Tandem once did, added a round trip per message, and
# a channel with 20 check-ins due took 20 x 1.1 s at 100 ms latency instead of 19 s. A 429 is the
# backstop: it is Slack's clear "not posted", and holds back only its workspace (see below).
PER_CHANNEL_INTERVAL = 1.0

# chat.postMessage's workspace-wide limit: the one figure Slack gives is on the method's page, "several
# hundred messages per minute" (unverified here; the tier table has none for this "special" method).
# So by default Tandem sets no workspace rate of its own (TANDEM_WORKSPACE_POSTS_PER_MINUTE=0) and lets
# Slack's answer govern: a 429 costs one refused post (a clear "not posted", safe to repeat) and holds
# back only the workspace that got it, for as long as Retry-After says, whereas a guessed cap set too
# low would slow every large workspace's Monday-morning burst for nothing (1,000 check-ins over 50
# channels of one workspace would take 3⅓ minutes at 300 a minute instead of ~20 s). Operators who
# know their workspaces' limit can set one.
WORKSPACE_POSTS_PER_MINUTE = 0.0
# Posts a workspace may send at once before its rate applies ("short bursts allowed"): a workspace's
# handful of rituals due at nine all go out at nine.
WORKSPACE_BURST = 10

# Threads that send. A post holds one for a Web API round trip plus Tandem's own work, so the pool
# is what bounds a burst: with Slack 100 ms away, 64 threads posted ~570 a second, 128 ~1,090 and
# 256 ~940, where the process's CPU (the GIL) is the limit instead (bench/posting.py, bench/README.md).
# A workspace held back by a 429 holds none of them while it waits.
POSTER_THREADS = 128


class WorkspaceGate:
    """When the next post into one workspace may start: at most `burst` at once, then one every
    `60 / per_minute` seconds (`per_minute` None: no rate of Tandem's own), and none before a 429's
    Retry-After has passed.

    A generic cell rate algorithm: `reserve` hands out start times and counts each as taken, so
    posts waiting for the gate each get a time of their own instead of racing for the next one.
    Times are `time.monotonic()` values, passed in (tests drive it with plain numbers).
    """

    def __init__(self, *, per_minute: float | None, burst: int) -> None:
        if (per_minute is not None and per_minute <= 0) or burst < 1:
            raise ValueError("a workspace gate needs a positive rate (or None) and a burst of at least 1")
        self.spacing = 0.0 if per_minute is None else 60.0 / per_minute
        self.tolerance = (burst - 1) * self.spacing
        self._theoretical = 0.0  # when the next post would start if every earlier one went at the rate
        self.blocked_until = 0.0

    def reserve(self, now: float) -> float:
        """The start time (`now` or later) of one more post, taken."""
        at = max(now, self._theoretical - self.tolerance, self.blocked_until)
        self._theoretical = max(self._theoretical, at) + self.spacing
        return at

    def block(self, until: float) -> None:
        """Slack answered 429: nothing before `until`, and no burst after it either (Slack has just
        said the workspace is over its limit), one post per spacing from then on."""
        self.blocked_until = max(self.blocked_until, until)
        self._theoretical = max(self._theoretical, self.blocked_until + self.tolerance)

    def at_rest(self, now: float) -> bool:
        """True when a new gate would behave the same (it may be dropped)."""
        return self._theoretical <= now and self.blocked_until <= now


@dataclass
class _Job:
    send: Callable[[], None]
    abandon: Callable[[], None] | None
    workspace: str | None


class ChannelPoster:
    def __init__(
        self,
        *,
        threads: int = POSTER_THREADS,
        interval: float = PER_CHANNEL_INTERVAL,
        workspace_per_minute: float | None = None,
        workspace_burst: int = WORKSPACE_BURST,
    ) -> None:
        """`workspace_per_minute`: each workspace's rate (None: no limit of Tandem's own; Slack's
        429s are honoured either way)."""
        self.interval = interval
        self._queues: dict[str, deque[_Job]] = {}
        # (earliest start, tiebreak, channel, whether its workspace gate already gave it that start)
        self._ready: list[tuple[float, int, str, bool]] = []
        self._busy: set[str] = set()  # channels with a send in flight or scheduled in the heap
        self._next_slot: dict[str, float] = {}
        self._gates: dict[str, WorkspaceGate] = {}
        self._workspace_per_minute = workspace_per_minute
        self._workspace_burst = workspace_burst
        self._seq = 0
        self._pending = 0
        self._lock = threading.Lock()
        # Workers wait on one condition, join() on another: a finished send wakes one worker, not
        # all of them (with dozens of threads, waking every one per post costs more than the post).
        self._work = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._local = threading.local()  # what the send on a worker thread said about its channel
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._serve, name=f"tandem-poster-{i}", daemon=True)
            for i in range(threads)
        ]
        for worker in self._workers:
            worker.start()

    def limit_workspaces(self, *, per_minute: float | None, burst: int = WORKSPACE_BURST) -> None:
        """Set each workspace's rate from now on (None: no limit of Tandem's own)."""
        with self._lock:
            self._workspace_per_minute = per_minute
            self._workspace_burst = burst
            self._gates.clear()

    def submit(
        self,
        channel_id: str,
        send: Callable[[], None],
        *,
        abandon: Callable[[], None] | None = None,
        workspace: str | None = None,
    ) -> None:
        """Queue `send` (one message into `channel_id`) for the channel's next slot.

        `workspace` (the team id) puts it behind that workspace's gate too; without one only the
        channel's pacing applies. `abandon` runs instead if the poster stops before `send` could
        run, so the caller can give back what it claimed.
        """
        with self._lock:
            if self._stopping:
                raise RuntimeError("poster is stopping")
            self._queues.setdefault(channel_id, deque()).append(_Job(send, abandon, workspace))
            self._pending += 1
            if channel_id not in self._busy:
                self._busy.add(channel_id)
                self._schedule(channel_id, workspace, time.monotonic())

    # -- inside the lock ----------------------------------------------------------------------------

    def _gate(self, workspace: str | None) -> WorkspaceGate | None:
        if workspace is None:
            return None
        gate = self._gates.get(workspace)
        if gate is None:
            gate = self._gates[workspace] = WorkspaceGate(
                per_minute=self._workspace_per_minute, burst=self._workspace_burst
            )
        return gate

    def _schedule(self, channel_id: str, workspace: str | None, now: float) -> None:
        """Put a channel with a queued send into the heap, at its own next slot (or when its
        workspace's Retry-After ends); its workspace's rate is applied when that time comes."""
        at = max(now, self._next_slot.get(channel_id, 0.0))
        gate = self._gates.get(workspace) if workspace is not None else None
        if gate is not None:
            at = max(at, gate.blocked_until)
        self._push(at, channel_id, reserved=False)

    def _push(self, at: float, channel_id: str, *, reserved: bool) -> None:
        self._seq += 1
        heapq.heappush(self._ready, (at, self._seq, channel_id, reserved))
        self._work.notify()

    def _take(self) -> tuple[str, _Job] | None:
        """The next send whose channel slot and workspace gate both allow it now; waits for one.
        None when the poster is stopping and nothing is left."""
        while True:
            if self._stopping and not self._ready:
                return None
            if not self._ready:
                self._work.wait()
                continue
            at, _, channel, reserved = self._ready[0]
            now = time.monotonic()
            if at > now:
                self._work.wait(at - now)
                continue
            heapq.heappop(self._ready)
            job = self._queues[channel][0]
            gate = self._gate(job.workspace)
            if gate is not None:
                if reserved and gate.blocked_until > now:
                    # A 429 came in after this start was handed out: wait for its Retry-After.
                    self._push(gate.blocked_until, channel, reserved=False)
                    continue
                if not reserved:
                    start = gate.reserve(now)
                    if start > now:
                        self._push(start, channel, reserved=True)
                        continue
            self._queues[channel].popleft()
            if self._ready and self._ready[0][0] <= now:
                self._work.notify()  # more is due: hand it to another worker
            return channel, job

    def _finish(self, channel: str, job: _Job, started: float, ended: float) -> Callable[[], None] | None:
        """Account for a send that ended; returns what to run (outside the lock) to give back a
        send that was refused for now while the poster stops."""
        answered, nothing_sent, retry_after = (
            self._local.answered,
            self._local.nothing_sent,
            self._local.retry_after,
        )
        if retry_after is not None and self._stopping:
            self._pending -= 1
            self._settle(channel, job, ended)
            return job.abandon
        if retry_after is not None:
            # Slack refused it (429): nothing was posted. The same send goes first again, after
            # Retry-After, and every other post of its workspace waits for that too.
            self._queues[channel].appendleft(job)
            gate = self._gate(job.workspace)
            if gate is not None:
                gate.block(ended + retry_after)
            else:
                self._next_slot[channel] = max(self._next_slot.get(channel, 0.0), ended + retry_after)
            self._schedule(channel, job.workspace, ended)
            return None
        if answered is not None:
            self._next_slot[channel] = max(started + self.interval, answered)
        elif not nothing_sent:
            # The send did not say: it may have posted, and it ended after any answer.
            self._next_slot[channel] = max(started + self.interval, ended)
        self._pending -= 1
        self._settle(channel, job, ended)
        return None

    def _settle(self, channel: str, job: _Job, ended: float) -> None:
        """The channel's send is over: schedule its next one, or let the channel (and its workspace's
        gate, once at rest) go."""
        queue = self._queues[channel]
        if queue:
            self._schedule(channel, queue[0].workspace, ended)
        else:
            self._busy.discard(channel)
            del self._queues[channel]
            gate = self._gates.get(job.workspace) if job.workspace is not None else None
            if gate is not None and gate.at_rest(ended):
                del self._gates[job.workspace]  # type: ignore[arg-type]
        if not self._pending:
            self._idle.notify_all()

    # -- the workers --------------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            with self._lock:
                taken = self._take()
            if taken is None:
                return
            channel, job = taken
            self._local.answered = None
            self._local.nothing_sent = False
            self._local.retry_after = None
            self._local.started = None
            started = time.monotonic()
            try:
                job.send()
            except Exception:
                log.exception("posting into %s failed", channel)
            finally:
                ended = time.monotonic()
                with self._lock:
                    give_back = self._finish(channel, job, self._local.started or started, ended)
            if give_back is not None:
                _give_back(give_back)

    # -- what a send says about itself ------------------------------------------------------------

    def sending(self) -> None:
        """Called by a send right before its message goes to Slack (after any database work): the
        channel's next message starts `interval` from then. Without it, from when the send began."""
        self._local.started = time.monotonic()

    def answered(self) -> None:
        """Called by a send when Slack answered its message (or gave up on it): the channel's next
        message may start from now, and `interval` after this one started."""
        self._local.answered = time.monotonic()

    def nothing_sent(self) -> None:
        """Called by a send that sent nothing to Slack after all: the channel's next message need
        not wait for it."""
        self._local.nothing_sent = True

    def rate_limited(self, retry_after: float) -> None:
        """Called by a send whose message Slack refused with a 429 (nothing was posted): run the same
        send again `retry_after` seconds from now, and no other post of its workspace before then."""
        self._local.retry_after = max(0.0, retry_after)

    # -- the caller's side --------------------------------------------------------------------------

    def held_until(self, workspace: str) -> float | None:
        """Until when (`time.monotonic()`) a workspace's posts are held back because Slack answered
        it 429; None when they are not."""
        with self._lock:
            gate = self._gates.get(workspace)
            if gate is None or gate.blocked_until <= time.monotonic():
                return None
            return gate.blocked_until

    @property
    def pending(self) -> int:
        """Messages queued or being sent (the outbox depth /metrics reports)."""
        return self._pending

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far has been sent; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stop(self, timeout: float = 30.0) -> int:
        """Finish what can be sent within `timeout`, abandon the rest; returns how many were abandoned."""
        self.join(timeout)
        with self._lock:
            self._stopping = True
            leftover = [job.abandon for queue in self._queues.values() for job in queue]
            for queue in self._queues.values():
                self._pending -= len(queue)
                queue.clear()
            self._ready.clear()
            self._work.notify_all()
            self._idle.notify_all()
        for worker in self._workers:
            worker.join(timeout=5)
        for abandon in leftover:
            if abandon is not None:
                _give_back(abandon)
        return len(leftover)


def _give_back(abandon: Callable[[], None]) -> None:
    try:
        abandon()
    except Exception:
        log.exception("could not give back an unsent check-in")
