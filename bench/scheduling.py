"""Scheduling benchmarks for check-in rituals.

    python -m bench.scheduling burst      # 1,000 rituals over 50 channels due in the same minute
    python -m bench.scheduling burst10k   # 10,000 rituals in 10,000 channels of 1,000 workspaces
    python -m bench.scheduling prepare    # claiming and building only, in process: check-ins per second
    python -m bench.scheduling startup    # `tandem scheduler` with 100,000 rituals: ready, memory, a quiet minute
    python -m bench.scheduling share --postgres URL   # two `tandem scheduler` processes, one 2,000 burst

`burst` runs the real TandemScheduler (APScheduler, the batch preparer, the per-channel poster, the
SlackMessenger) against the fake Web API answering every call in 100 ms, in a process of its own,
and waits for the wall-clock minute the rituals are due in. `prepare` times the preparation alone
(the minutely job's batches: select, claim, build) on one thread, by its CPU time. `startup` starts
`tandem scheduler` as an operator would on a SQLite database holding 100,000 rituals, waits for its
"scheduler started" line and reads its resident memory from /proc, then times (CPU) the minutely job
when nothing changed and nothing is due. `share` starts two `tandem scheduler` processes on one
PostgreSQL database (each with a bot token of its own, so the fake tells their posts apart).
Results and how to read them: bench/README.md, "Scheduling".
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import insert, select

from bot.config import Mode, load_settings
from bot.runtime import Runtime
from db.migrate import upgrade
from db.models import Occurrence, Person, Ritual, RitualMember, Side, Workspace
from db.session import Database, normalize_url
from tests.fake_slack import FakeSlack

# A server key for the processes benchmarked (none is generated into the working directory).
BENCH_KEY = "bench-secret-key-0123456789abcdef0123"


def seed(
    database: Database,
    *,
    rituals: int,
    channels: int,
    at: dt.time,
    tz: str,
    weekday: int,
    workspaces: int = 1,
) -> None:
    """Insert rituals in bulk (domain code is exercised by the tests; this only has to be fast).

    Ritual i posts into channel i % channels of workspace i % workspaces. Rows are written around
    the ORM, so their next occurrence is left empty: the scheduler fills it in when it starts.
    """
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with database.begin() as session:
        teams = [Workspace(team_id=f"T{w + 1:04d}", installed_at=now) for w in range(workspaces)]
        session.add_all(teams)
        session.flush()
        sides = {"U_M": Side.MARKETING, "U_I": Side.IT}
        people = {
            team.id: [Person(workspace_id=team.id, slack_user_id=u, side=s) for u, s in sides.items()]
            for team in teams
        }
        session.add_all([p for ps in people.values() for p in ps])
        session.flush()
        rows = [
            {
                "workspace_id": teams[i % workspaces].id,
                "channel_id": f"C{i % channels:05d}",
                "name": f"Ritual {i}",
                "cadence_kind": "weekly",
                "weekday": weekday,
                "local_time": at,
                "timezone": tz,
                "interval_weeks": 1,
                "week_of_month": 1,
                "themes": [],
                # Check-ins only: this measures posting them (a pulse would be a second message per ritual).
                "pulse_enabled": False,
                "pulse_anonymous": True,
                "status": "active",
                "created_by": "U_M",
                "created_at": now,
                "updated_at": now,
                "schedule_from": now,
            }
            for i in range(rituals)
        ]
        for start in range(0, len(rows), 2000):  # itertools.batched is Python 3.12
            session.execute(insert(Ritual), rows[start : start + 2000])
        found = session.execute(select(Ritual.id, Ritual.workspace_id)).all()
        members = [
            {"ritual_id": rid, "person_id": p.id, "side": sides[p.slack_user_id].value}
            for rid, workspace_id in found
            for p in people[workspace_id]
        ]
        for start in range(0, len(members), 4000):
            session.execute(insert(RitualMember), members[start : start + 4000])


def analyze(database: Database) -> None:
    """Give PostgreSQL's planner statistics of the freshly seeded tables, as autovacuum keeps them on a
    live database (without them it joins 10,000 due rituals by nested loops: 150 ms for a batch's
    select instead of 5 ms)."""
    if database.backend == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def serve_fake(latency: float) -> None:
    """`python -m bench.scheduling fake --latency L`: the fake Web API in a process of its own.

    In the scheduler's process its request threads would compete for the GIL with Tandem's, and the
    time a request is recorded as arriving would carry that wait (up to ~80 ms measured), which is
    not what Slack would see. One line each way: `{"url": ...}` once ready; `count` answers the
    number of chat.postMessage calls, `posts` all of them as `[channel, text, arrival, token]`
    (`time.monotonic()`, the same clock in every process), `quit` stops.
    """
    with FakeSlack() as fake:
        fake.auto_channels = True
        fake.latency = latency
        print(json.dumps({"url": fake.base_url}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "count":
                print(json.dumps(len(fake.calls("chat.postMessage"))), flush=True)
            elif command == "posts":
                calls = fake.calls("chat.postMessage")
                print(
                    json.dumps([[c.params["channel"], c.params["text"], c.at, c.token] for c in calls]),
                    flush=True,
                )
            elif command == "quit":
                break


class RemoteFake:
    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scheduling", "fake", "--latency", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.base_url = self.ask("")["url"]

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if command:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def burst(
    rituals: int = 1000,
    channels: int = 50,
    workspaces: int = 1,
    latency: float = 0.1,
    postgres: str | None = None,
) -> None:
    fake = RemoteFake(latency)
    try:
        with tempfile.TemporaryDirectory() as tmp, _database(Path(tmp), postgres) as url:
            _burst(fake, url, rituals, channels, workspaces, latency)
    finally:
        fake.close()


def _burst(fake: RemoteFake, url: str, rituals: int, channels: int, workspaces: int, latency: float) -> None:
    database = Database(url)
    upgrade(database.engine)
    # Due at the start of the next wall-clock minute that leaves time to set up.
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=75)).replace(second=0, microsecond=0)
    seed(
        database,
        rituals=rituals,
        channels=channels,
        workspaces=workspaces,
        at=due.time(),
        tz="UTC",
        weekday=due.weekday(),
    )
    analyze(database)  # PostgreSQL: as autovacuum keeps a live database (see `prepare`)
    settings = load_settings(
        _env_file=None,
        slack_bot_token="xoxb-bench",
        slack_signing_secret="x",
        slack_api_url=fake.base_url,
        database_url=database.url,
        tandem_secret_key=BENCH_KEY,
    )
    # What `tandem scheduler` builds (bot/runtime.py), on the real clock.
    runtime = Runtime(settings, Mode.HTTP, with_app=False, with_scheduler=True)
    scheduler = runtime.scheduler
    assert scheduler is not None
    scheduler.start()
    scheduler.ready.wait(120)
    print(
        f"{rituals} rituals over {channels} channels of {workspaces} workspaces due at {due:%H:%M:%S} UTC; "
        f"Web API latency {latency * 1000:.0f} ms (fake in its own process)"
    )
    due_mono = await_posts(fake, due, rituals)
    runtime.close()
    posts = fake.ask("posts")
    report_posts(posts, due_mono, rituals, channels)
    with database.read() as session:
        # (A post's lease moves claimed_at to when it was posted: preparation is timed by the scheduler.)
        posted = sorted(
            (p - due).total_seconds() for p in session.scalars(select(Occurrence.posted_at)) if p is not None
        )
    print(f"occurrences recorded as posted: {len(posted)}")
    if scheduler.prepared_log:
        first_batch, last_batch = scheduler.prepared_log[0], scheduler.prepared_log[-1]
        count = sum(n for _, n in scheduler.prepared_log)
        span = (last_batch[0] - due).total_seconds()
        print(
            f"prepared (claimed and built) {count} check-ins in {len(scheduler.prepared_log)} batches: "
            f"the first batch {(first_batch[0] - due).total_seconds():.2f} s after the due minute, "
            f"the last {span:.2f} s after it ({count / max(span, 1e-9):.0f} per second)"
        )
    database.dispose()


def await_posts(fake: RemoteFake, due: dt.datetime, rituals: int) -> float:
    """Wait for the due minute, then until the fake holds `rituals` posts (at most 3 minutes); the due
    minute on the monotonic clock the fake records arrivals with."""
    while dt.datetime.now(dt.UTC) < due:
        time.sleep(0.2)
    due_mono = time.monotonic() - (time.time() - due.timestamp())
    deadline = time.monotonic() + 180
    while fake.ask("count") < rituals and time.monotonic() < deadline:
        time.sleep(0.2)
    return due_mono


def report_posts(posts: list[list[Any]], due_mono: float, rituals: int, channels: int) -> None:
    by_channel: dict[str, list[float]] = defaultdict(list)
    for channel, _, at, _ in posts:
        by_channel[channel].append(at)
    gaps = [b - a for times in by_channel.values() for a, b in itertools.pairwise(sorted(times))]
    arrivals = sorted(at - due_mono for _, _, at, _ in posts)
    per_message = {(channel, text) for channel, text, _, _ in posts}
    print(
        f"posted {len(posts)} messages ({len(per_message)} distinct) of {rituals}: first {arrivals[0]:.2f} s "
        f"after the due minute, half by {arrivals[len(arrivals) // 2]:.2f} s, last {arrivals[-1]:.2f} s"
    )
    if gaps:
        print(f"smallest gap between two messages in one channel: {min(gaps):.3f} s (limit 1.000 s)")
        per = -(-rituals // channels)
        print(f"floor set by the limit: {per} messages per channel need at least {per - 1} s")


def prepare(rituals: int = 10_000, postgres: str | None = None, profile: bool = False) -> None:
    """Claim and build `rituals` check-ins due in one minute, as the minutely job's batches do, on
    this thread, without posting: check-ins per CPU second."""
    import cProfile
    import pstats

    from bot.usecases.checkins import prepare_batch
    from db import schedule
    from jobs.scheduler import DUE_BATCH

    with tempfile.TemporaryDirectory() as tmp, _database(Path(tmp), postgres) as url:
        database = Database(url)
        upgrade(database.engine)
        due = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
        seed(
            database,
            rituals=rituals,
            channels=rituals,
            workspaces=max(1, rituals // 10),
            at=due.time(),
            tz="UTC",
            weekday=due.weekday(),
        )
        with database.begin() as session:
            session.execute(Ritual.__table__.update().values(schedule_from=due - dt.timedelta(days=1)))
        with database.begin() as session:
            schedule.fill_missing(session, limit=rituals)
        analyze(database)
        now = due + dt.timedelta(seconds=1)
        profiler = cProfile.Profile() if profile else None
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        prepared = 0
        while True:
            with database.begin() as session:
                ids = schedule.take_due(session, now=now, limit=DUE_BATCH)
                if not ids:
                    break
                prepared += len(prepare_batch(session, ids, now=now, grace=dt.timedelta(hours=2)))
                schedule.advance(session, ids, now=now)
        if profiler:
            profiler.disable()
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        print(
            f"{prepared} of {rituals} check-ins claimed and built on {database.backend}: "
            f"{prepared / cpu:.0f} per CPU second ({cpu * 1000 / prepared:.2f} ms each), "
            f"{prepared / wall:.0f} per wall second; load average {Path('/proc/loadavg').read_text().split()[0]}"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        database.dispose()


@contextmanager
def _database(tmp: Path, postgres: str | None) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    from tests.databases import fresh_postgres_database

    with fresh_postgres_database(normalize_url(postgres), prefix="tandem_bench") as url:
        yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    assert found is not None, f"no VmRSS for process {pid}"
    return int(found.group(1)) / 1024


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _watch_log(stream: IO[str], started: float, events: dict[str, float], lines: dict[str, str]) -> None:
    """Read the process's log as it comes: when the scheduler was ready (and what it said), trouble."""
    for line in stream:
        now = time.monotonic() - started
        if "scheduler started with" in line and "ready" not in events:
            events["ready"] = now
            lines["ready"] = line.strip().split(": ", 1)[-1]
        if "Traceback" in line:
            events.setdefault("problem", now)
            lines.setdefault("problem", line.strip())


def scheduler_process(env: dict[str, str], cwd: str) -> subprocess.Popen[str]:
    """`tandem scheduler`, as an operator starts it (the database is migrated already)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "scheduler", "--no-migrate"],
        env=env,
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
    )


def startup(rituals: int = 100_000, limit: float = 120.0) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        url = f"sqlite:///{Path(tmp) / 'tandem.db'}"
        database = Database(url)
        upgrade(database.engine)
        t0 = time.monotonic()
        seed(
            database,
            rituals=rituals,
            channels=2000,
            workspaces=200,
            at=dt.time(9, 0),
            tz="Europe/Berlin",
            weekday=(dt.datetime.now(dt.UTC).weekday() + 3) % 7,  # none due today
        )
        print(f"seeded {rituals} rituals in {time.monotonic() - t0:.1f} s")
        database.dispose()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "x",
            "SLACK_API_URL": fake.base_url,
            "DATABASE_URL": url,
            "TANDEM_SECRET_KEY": BENCH_KEY,
        }
        for run in ("first start (every next occurrence to fill in)", "restart"):
            started = time.monotonic()
            proc = scheduler_process(env, tmp)
            events: dict[str, float] = {}
            lines: dict[str, str] = {}
            threading.Thread(
                target=_watch_log, args=(proc.stderr, started, events, lines), daemon=True
            ).start()
            try:
                while "ready" not in events and time.monotonic() - started < limit and proc.poll() is None:
                    time.sleep(0.05)
                at_ready = rss_mb(proc.pid)
                peak = at_ready
                for _ in range(50):  # the first run's ledger and pairing work follow the ready line
                    time.sleep(0.1)
                    peak = max(peak, rss_mb(proc.pid))
                print(
                    f"{run}: ready after "
                    + (
                        f"{events['ready']:.2f} s"
                        if "ready" in events
                        else f"more than {limit:.0f} s (never)"
                    )
                    + f"; resident memory {at_ready:.0f} MB when ready, {rss_mb(proc.pid):.0f} MB 5 s later"
                    + f" (peak {peak:.0f} MB)"
                )
                if "ready" in lines:
                    print(f"  {lines['ready']}")
                if "problem" in events:
                    print(f"  log trouble at {events['problem']:.1f} s: {lines['problem']}")
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        quiet_minute(url, fake.base_url)


def quiet_minute(url: str, api_url: str) -> None:
    """The minutely job's CPU when nothing changed and nothing is due (in this process)."""
    settings = load_settings(
        _env_file=None,
        slack_bot_token="xoxb-bench",
        slack_signing_secret="x",
        slack_api_url=api_url,
        database_url=url,
        tandem_secret_key=BENCH_KEY,
    )
    runtime = Runtime(settings, Mode.HTTP, with_app=False, with_scheduler=True)
    scheduler = runtime.scheduler
    assert scheduler is not None
    try:
        cpu0 = time.thread_time()
        scheduler.due_work()  # the first run reads the stamp and the earliest next occurrence
        first = time.thread_time() - cpu0
        runs = []
        for _ in range(20):
            cpu0 = time.thread_time()
            scheduler.due_work()
            runs.append(time.thread_time() - cpu0)
        runs.sort()
        print(
            f"minutely job, nothing changed: median {runs[len(runs) // 2] * 1000:.2f} ms CPU, "
            f"max {runs[-1] * 1000:.2f} ms (first run after start {first * 1000:.1f} ms)"
        )
    finally:
        runtime.close()


def share(postgres: str, rituals: int = 2000, latency: float = 0.1) -> None:
    """Two `tandem scheduler` processes on one PostgreSQL database, one burst due in the same minute."""
    from tests.databases import fresh_postgres_database

    fake = RemoteFake(latency)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            fresh_postgres_database(normalize_url(postgres), prefix="tandem_bench") as url,
        ):
            database = Database(url)
            upgrade(database.engine)
            due = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=75)).replace(second=0, microsecond=0)
            seed(
                database,
                rituals=rituals,
                channels=rituals,
                workspaces=rituals // 10,
                at=due.time(),
                tz="UTC",
                weekday=due.weekday(),
            )
            analyze(database)
            procs = []
            for name in ("a", "b"):
                env = {
                    **os.environ,
                    "SLACK_BOT_TOKEN": f"xoxb-bench-{name}",
                    "SLACK_SIGNING_SECRET": "x",
                    "SLACK_API_URL": fake.base_url,
                    "DATABASE_URL": url,
                    "TANDEM_SECRET_KEY": BENCH_KEY,
                }
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bot.cli", "scheduler", "--no-migrate"],
                        env=env,
                        cwd=tmp,
                        stderr=subprocess.DEVNULL,
                    )
                )
            print(
                f"{rituals} rituals in {rituals} channels due at {due:%H:%M:%S} UTC; two schedulers on PostgreSQL"
            )
            due_mono = await_posts(fake, due, rituals)
            time.sleep(2)  # anything posted twice would arrive now
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=60)
            posts = fake.ask("posts")
            report_posts(posts, due_mono, rituals, rituals)
            by_token = Counter(token for _, _, _, token in posts)
            per_channel = Counter(channel for channel, _, _, _ in posts)
            print(
                "posted by each scheduler: "
                + ", ".join(
                    f"{token}: {n} ({n * 100 / max(1, len(posts)):.1f}%)"
                    for token, n in sorted(by_token.items())
                )
                + f"; duplicates: {sum(n - 1 for n in per_channel.values() if n > 1)}"
            )
            database.dispose()
    finally:
        fake.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["burst", "burst10k", "prepare", "startup", "share", "fake"])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rituals", type=int)
    parser.add_argument(
        "--postgres",
        help="a PostgreSQL server URL (burst, burst10k, prepare: instead of SQLite; share: needed)",
    )
    parser.add_argument("--profile", action="store_true", help="prepare: print cProfile's top functions")
    args = parser.parse_args()
    if args.which == "fake":
        serve_fake(args.latency)
    elif args.which == "burst":
        burst(rituals=args.rituals or 1000, channels=50, latency=args.latency, postgres=args.postgres)
    elif args.which == "burst10k":
        n = args.rituals or 10_000
        burst(rituals=n, channels=n, workspaces=max(1, n // 10), latency=args.latency, postgres=args.postgres)
    elif args.which == "prepare":
        prepare(rituals=args.rituals or 10_000, postgres=args.postgres, profile=args.profile)
    elif args.which == "startup":
        startup(rituals=args.rituals or 100_000)
    else:
        if not args.postgres:
            parser.error("share needs --postgres URL")
        share(args.postgres, rituals=args.rituals or 2000, latency=args.latency)
