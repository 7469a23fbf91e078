"""Load generators for the benchmark: a closed loop (as fast as possible) and an open loop (fixed rate).

Three interchangeable clients, all keeping HTTP/1.1 connections alive (gunicorn's `keepalive` is 5 s):

- ``threads-raw`` (the default): one thread per connection with a blocking socket, writing pre-built
  request bytes and parsing just the status line and `Content-Length` of the answer.
- ``asyncio``: one thread, one event loop, `asyncio` streams, same pre-built bytes and parsing.
- ``threads``: one thread per connection with `http.client.HTTPConnection` (the stdlib client).

README.md ("How the load is generated") has the measurements behind the default: ``threads-raw``
costs the least CPU per request and keeps the closest to the open loop's timetable. Every response's status is checked (anything but 200 is an error) and connection
failures are counted, never retried silently.

Latency in the closed loop is measured from each request's send. In the open loop every request has a
scheduled send time on a fixed timetable (``t0 + i / rate``) and latency is measured from *that* time,
not from the actual send, so a server (or generator) stall that delays later sends shows up in their
latency instead of being hidden (no coordinated omission). The lag between schedule and actual send is
recorded as well, so generator-side lateness can be told apart.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

CLIENTS = ("threads-raw", "asyncio", "threads")
# gunicorn closes a keep-alive connection idle for `keepalive` (5 s) seconds; reopen before that.
IDLE_MAX = 4.0
# A request that takes longer than this is counted as an error ("timeout").
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class Request:
    """One pre-signed request: body and headers (for http.client) and the complete raw HTTP bytes."""

    body: bytes
    headers: dict[str, str]
    raw: bytes

    @classmethod
    def make(cls, body: bytes, headers: dict[str, str], host: str, port: int, path: str) -> Request:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        return cls(body=body, headers=dict(headers), raw=raw)


@dataclass
class PhaseStats:
    """What one phase measured. Latencies and lags are in seconds."""

    mode: str  # "closed" or "open"
    client: str
    elapsed: float  # first send (or first scheduled send) to last response
    responses: int = 0  # responses received, whatever their status
    ok: int = 0  # responses with status 200
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    send_lags: list[float] = field(default_factory=list)  # open loop: actual send - scheduled send
    scheduled: int = 0  # open loop: requests on the timetable
    # Requests taken from the list, in order: always its first `taken` ones, wrapping around if the
    # phase needed more (`taken` > the list's length). A taken request was sent, unless it is counted
    # among the errors.
    taken: int = 0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`, or NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


# ---------------------------------------------------------------------------------------- parsing


class ProtocolError(Exception):
    pass


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, content length, server will close) from a response's head, without the final CRLFCRLF."""
    if not head.startswith(b"HTTP/1."):
        raise ProtocolError("not an HTTP/1.x response")
    status = int(head[9:12])
    lower = head.lower()
    i = lower.find(b"\r\ncontent-length:")
    if i < 0:
        raise ProtocolError("response without Content-Length")
    j = lower.find(b"\r\n", i + 2)
    length = int(lower[i + 17 : j if j >= 0 else len(lower)])
    close = b"\r\nconnection: close" in lower or head.startswith(b"HTTP/1.0")
    return status, length, close


# ---------------------------------------------------------------------------------------- connections


class SyncConn(Protocol):
    closed: bool
    last_used: float

    def roundtrip(self, request: Request) -> int: ...

    def close(self) -> None: ...


class RawConn:
    """A blocking keep-alive socket that writes pre-built bytes and parses only what it must."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=REQUEST_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False
        self.last_used = time.perf_counter()

    def roundtrip(self, request: Request) -> int:
        self.sock.sendall(request.raw)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        status, length, close = _parse_head(buf[:end])
        rest = buf[end + 4 :]
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection mid-body")
            rest += chunk
        self.buf = rest[length:]
        self.closed = close
        return status

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class HttpClientConn:
    """`http.client.HTTPConnection`, the standard library's keep-alive client."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.path = path
        self.closed = False
        self.last_used = time.perf_counter()

    def roundtrip(self, request: Request) -> int:
        self.conn.request("POST", self.path, request.body, request.headers)
        response = self.conn.getresponse()
        response.read()
        self.closed = bool(response.will_close)
        return response.status

    def close(self) -> None:
        self.closed = True
        self.conn.close()


class AsyncConn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.closed = False
        self.last_used = time.perf_counter()

    @classmethod
    async def open(cls, host: str, port: int) -> AsyncConn:
        reader, writer = await asyncio.open_connection(host, port)  # asyncio sets TCP_NODELAY
        return cls(reader, writer)

    async def roundtrip(self, request: Request) -> int:
        self.writer.write(request.raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length, close = _parse_head(head[:-4])
        if length:
            await self.reader.readexactly(length)
        self.closed = close
        return status

    def close(self) -> None:
        self.closed = True
        self.writer.close()


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    return type(exc).__name__


# ---------------------------------------------------------------------------------------- threads


class _Collector:
    """Per-thread results merged under a lock at the end of each thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.responses = 0
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.send_lags: list[float] = []
        self.last_done = 0.0
        self.taken = 0

    def merge(
        self, responses: int, ok: int, errors: Counter[str], lat: list[float], lags: list[float], last: float
    ) -> None:
        with self.lock:
            self.responses += responses
            self.ok += ok
            self.errors.update(errors)
            self.latencies.extend(lat)
            self.send_lags.extend(lags)
            self.last_done = max(self.last_done, last)


def _sync_factory(client: str, host: str, port: int, path: str) -> Callable[[], SyncConn]:
    cls: Any = RawConn if client == "threads-raw" else HttpClientConn
    return lambda: cls(host, port, path)


def _closed_threads(
    factory: Callable[[], SyncConn], requests: Sequence[Request], concurrency: int, duration: float
) -> tuple[_Collector, float]:
    collector = _Collector()
    counter = itertools.count()
    barrier = threading.Barrier(concurrency + 1)
    start = [0.0]

    def client() -> None:
        lat: list[float] = []
        errors: Counter[str] = Counter()
        responses = ok = 0
        last = 0.0
        conn: SyncConn | None
        try:
            conn = factory()
        except OSError as exc:
            errors[_error_name(exc)] += 1
            conn = None
        barrier.wait()
        deadline = start[0] + duration
        while (t0 := time.perf_counter()) < deadline:
            if conn is None:
                try:
                    conn = factory()
                except OSError as exc:
                    errors[_error_name(exc)] += 1
                    time.sleep(0.01)
                    continue
                t0 = time.perf_counter()
            request = requests[next(counter) % len(requests)]
            try:
                status = conn.roundtrip(request)
            except (OSError, ProtocolError, http.client.HTTPException, ValueError) as exc:
                errors[_error_name(exc)] += 1
                conn.close()
                conn = None
                continue
            last = time.perf_counter()
            lat.append(last - t0)
            responses += 1
            if status == 200:
                ok += 1
            else:
                errors[f"HTTP {status}"] += 1
            if conn.closed:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        collector.merge(responses, ok, errors, lat, [], last)

    threads = [
        threading.Thread(target=client, name=f"bench-client-{i}", daemon=True) for i in range(concurrency)
    ]
    for t in threads:
        t.start()
    start[0] = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join(timeout=duration + REQUEST_TIMEOUT + 5)
    collector.taken = next(counter)  # one draw per request taken
    return collector, start[0]


def _open_threads(
    factory: Callable[[], SyncConn],
    requests: Sequence[Request],
    rate: float,
    total: int,
    max_inflight: int,
) -> tuple[_Collector, float]:
    collector = _Collector()
    counter = itertools.count()
    barrier = threading.Barrier(max_inflight + 1)
    start = [0.0]

    def worker() -> None:
        lat: list[float] = []
        lags: list[float] = []
        errors: Counter[str] = Counter()
        responses = ok = 0
        last = 0.0
        # Connect lazily, just before the first send: gunicorn's gthread worker gives a fresh connection
        # a thread until its first request arrives, so idle pre-opened connections would stall it.
        conn: SyncConn | None = None
        barrier.wait()
        t0 = start[0]
        while (i := next(counter)) < total:
            scheduled = t0 + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                if conn is not None and time.perf_counter() - conn.last_used > IDLE_MAX:
                    conn.close()
                    conn = None
                if conn is None:
                    conn = factory()
                lags.append(time.perf_counter() - scheduled)
                status = conn.roundtrip(requests[i % len(requests)])
            except (OSError, ProtocolError, http.client.HTTPException, ValueError) as exc:
                errors[_error_name(exc)] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            last = conn.last_used = time.perf_counter()
            lat.append(last - scheduled)
            responses += 1
            if status == 200:
                ok += 1
            else:
                errors[f"HTTP {status}"] += 1
            if conn.closed:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        collector.merge(responses, ok, errors, lat, lags, last)

    threads = [
        threading.Thread(target=worker, name=f"bench-sender-{i}", daemon=True) for i in range(max_inflight)
    ]
    for t in threads:
        t.start()
    start[0] = time.perf_counter() + 0.05
    barrier.wait()
    for t in threads:
        t.join(timeout=total / rate + REQUEST_TIMEOUT + 5)
    collector.taken = min(next(counter), total)  # each sender's last draw is past the end
    return collector, start[0]


# ---------------------------------------------------------------------------------------- asyncio


async def _closed_async(
    host: str, port: int, requests: Sequence[Request], concurrency: int, duration: float
) -> tuple[_Collector, float]:
    collector = _Collector()
    counter = itertools.count()
    opened = await asyncio.gather(
        *(AsyncConn.open(host, port) for _ in range(concurrency)), return_exceptions=True
    )
    in_flight = 0
    start = time.perf_counter()
    deadline = start + duration

    async def client(first: AsyncConn | BaseException) -> None:
        nonlocal in_flight
        conn: AsyncConn | None = first if isinstance(first, AsyncConn) else None
        if isinstance(first, BaseException):
            collector.errors[_error_name(first)] += 1
        while (t0 := time.perf_counter()) < deadline:
            if conn is None:
                try:
                    conn = await AsyncConn.open(host, port)
                except OSError as exc:
                    collector.errors[_error_name(exc)] += 1
                    await asyncio.sleep(0.01)
                    continue
                t0 = time.perf_counter()
            request = requests[next(counter) % len(requests)]
            in_flight += 1
            try:
                status = await conn.roundtrip(request)
            except (
                OSError,
                ProtocolError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
            ) as exc:
                collector.errors[_error_name(exc)] += 1
                conn.close()
                conn = None
                continue
            finally:
                in_flight -= 1
            done = time.perf_counter()
            collector.latencies.append(done - t0)
            collector.last_done = done
            collector.responses += 1
            if status == 200:
                collector.ok += 1
            else:
                collector.errors[f"HTTP {status}"] += 1
            if conn.closed:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    try:
        async with asyncio.timeout(duration + REQUEST_TIMEOUT):
            await asyncio.gather(*(client(c) for c in opened))
    except TimeoutError:
        collector.errors["timeout"] += in_flight
    collector.taken = next(counter)
    return collector, start


async def _open_async(
    host: str, port: int, requests: Sequence[Request], rate: float, total: int, max_inflight: int
) -> tuple[_Collector, float]:
    collector = _Collector()
    pool: deque[AsyncConn] = deque()
    for _ in range(min(8, max_inflight)):
        pool.append(await AsyncConn.open(host, port))
    slots = asyncio.Semaphore(max_inflight)
    in_flight = 0

    async def one(i: int, scheduled: float) -> None:
        nonlocal in_flight
        async with slots:
            conn: AsyncConn | None = None
            while pool and conn is None:
                candidate = pool.pop()
                if time.perf_counter() - candidate.last_used > IDLE_MAX:
                    candidate.close()
                else:
                    conn = candidate
            in_flight += 1
            try:
                if conn is None:
                    conn = await AsyncConn.open(host, port)
                collector.send_lags.append(time.perf_counter() - scheduled)
                status = await conn.roundtrip(requests[i % len(requests)])
            except (
                OSError,
                ProtocolError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
            ) as exc:
                collector.errors[_error_name(exc)] += 1
                if conn is not None:
                    conn.close()
                return
            finally:
                in_flight -= 1
            done = conn.last_used = time.perf_counter()
            collector.latencies.append(done - scheduled)
            collector.last_done = done
            collector.responses += 1
            if status == 200:
                collector.ok += 1
            else:
                collector.errors[f"HTTP {status}"] += 1
            if conn.closed:
                conn.close()
            else:
                pool.append(conn)

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.05
    try:
        async with asyncio.timeout(total / rate + REQUEST_TIMEOUT + 1):
            for i in range(total):
                scheduled = start + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i, scheduled)))
            await asyncio.gather(*tasks)
    except TimeoutError:
        collector.errors["timeout"] += in_flight + (total - len(tasks))
    for conn in pool:
        conn.close()
    collector.taken = len(tasks)
    return collector, start


# ---------------------------------------------------------------------------------------- phases


def _finish(mode: str, client: str, collector: _Collector, start: float, scheduled: int = 0) -> PhaseStats:
    return PhaseStats(
        mode=mode,
        client=client,
        elapsed=max(0.0, collector.last_done - start),
        responses=collector.responses,
        ok=collector.ok,
        errors=collector.errors,
        latencies=collector.latencies,
        send_lags=collector.send_lags,
        scheduled=scheduled,
        taken=collector.taken,
    )


def closed_loop(
    client: str,
    host: str,
    port: int,
    path: str,
    requests: Sequence[Request],
    *,
    concurrency: int,
    duration: float,
) -> PhaseStats:
    """`concurrency` clients, each sending its next request as soon as the last one is answered."""
    if client == "asyncio":
        collector, start = asyncio.run(_closed_async(host, port, requests, concurrency, duration))
    else:
        collector, start = _closed_threads(
            _sync_factory(client, host, port, path), requests, concurrency, duration
        )
    return _finish("closed", client, collector, start)


def open_loop(
    client: str,
    host: str,
    port: int,
    path: str,
    requests: Sequence[Request],
    *,
    rate: float,
    duration: float,
    max_inflight: int = 64,
) -> PhaseStats:
    """`rate * duration` requests sent on a fixed timetable, at most `max_inflight` outstanding."""
    total = round(rate * duration)
    if client == "asyncio":
        collector, start = asyncio.run(_open_async(host, port, requests, rate, total, max_inflight))
    else:
        collector, start = _open_threads(
            _sync_factory(client, host, port, path), requests, rate, total, max_inflight
        )
    return _finish("open", client, collector, start, scheduled=total)
