"""Scheduling benchmarks for check-in rituals.

    python -m bench.scheduling burst     # 1,000 rituals over 50 channels due in the same minute
    python -m bench.scheduling startup   # 10,000 rituals: time to healthy, scheduler ready, memory

`burst` runs the real TandemScheduler (APScheduler, the preparer, the per-channel poster, the
SlackMessenger) against the fake Web API answering every call in 100 ms, in a process of its own,
and waits for the wall-clock minute the rituals are due in. `startup` starts `tandem serve` as an
operator would, on a SQLite database holding 10,000 rituals, asks /healthz until it answers and
while the scheduler's first run goes on, and reads the resident memory of its processes from /proc.
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
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

import requests
from sqlalchemy import insert, select

from bot.config import Mode, load_settings
from bot.runtime import Runtime
from db.migrate import upgrade
from db.models import Occurrence, Person, Ritual, RitualMember, Side, Workspace
from db.session import Database
from tests.fake_slack import FakeSlack


def seed(database: Database, *, rituals: int, channels: int, at: dt.time, tz: str, weekday: int) -> None:
    """Insert rituals in bulk (domain code is exercised by the tests; this only has to be fast)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with database.begin() as session:
        workspace = Workspace(team_id="T0001", installed_at=now)
        session.add(workspace)
        session.flush()
        sides = {"U_M": Side.MARKETING, "U_I": Side.IT}
        people = [Person(workspace_id=workspace.id, slack_user_id=u, side=s) for u, s in sides.items()]
        session.add_all(people)
        session.flush()
        rows = [
            {
                "workspace_id": workspace.id,
                "channel_id": f"C{i % channels:04d}",
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
        ids = list(session.scalars(select(Ritual.id)))
        members = [
            {"ritual_id": rid, "person_id": p.id, "side": sides[p.slack_user_id].value}
            for rid in ids
            for p in people
        ]
        for start in range(0, len(members), 4000):
            session.execute(insert(RitualMember), members[start : start + 4000])


def serve_fake(latency: float) -> None:
    """`python -m bench.scheduling fake LATENCY`: the fake Web API in a process of its own.

    In the scheduler's process its request threads would compete for the GIL with Tandem's, and the
    time a request is recorded as arriving would carry that wait (up to ~80 ms measured), which is
    not what Slack would see. One line each way: `{"url": ...}` once ready; `count` answers the
    number of chat.postMessage calls, `posts` all of them as `[channel, text, arrival]`
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
                print(json.dumps([[c.params["channel"], c.params["text"], c.at] for c in calls]), flush=True)
            elif command == "quit":
                break


class RemoteFake:
    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scheduling", "fake", str(latency)],
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


def burst(rituals: int = 1000, channels: int = 50, latency: float = 0.1) -> None:
    fake = RemoteFake(latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _burst(fake, Path(tmp), rituals, channels, latency)
    finally:
        fake.close()


def _burst(fake: RemoteFake, tmp: Path, rituals: int, channels: int, latency: float) -> None:
    database = Database(f"sqlite:///{tmp / 'burst.db'}")
    upgrade(database.engine)
    # Due at the start of the next wall-clock minute that leaves time to set up.
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=75)).replace(second=0, microsecond=0)
    seed(database, rituals=rituals, channels=channels, at=due.time(), tz="UTC", weekday=due.weekday())
    settings = load_settings(
        _env_file=None,
        slack_bot_token="xoxb-bench",
        slack_signing_secret="x",
        slack_api_url=fake.base_url,
        database_url=database.url,
    )
    # What `tandem scheduler` builds (bot/runtime.py), on the real clock.
    runtime = Runtime(settings, Mode.HTTP, with_app=False, with_scheduler=True)
    scheduler = runtime.scheduler
    assert scheduler is not None
    scheduler.start()
    scheduler.ready.wait(120)
    print(
        f"{rituals} rituals over {channels} channels due at {due:%H:%M:%S} UTC; "
        f"Web API latency {latency * 1000:.0f} ms (fake in its own process)"
    )
    while dt.datetime.now(dt.UTC) < due:
        time.sleep(0.2)
    # The due minute on the monotonic clock the fake records arrivals with.
    due_mono = time.monotonic() - (time.time() - due.timestamp())
    deadline = time.monotonic() + 120
    while fake.ask("count") < rituals and time.monotonic() < deadline:
        time.sleep(0.1)
    runtime.close()
    posts = fake.ask("posts")
    by_channel: dict[str, list[float]] = defaultdict(list)
    for channel, _, at in posts:
        by_channel[channel].append(at)
    min_gap = min(b - a for times in by_channel.values() for a, b in itertools.pairwise(sorted(times)))
    arrivals = sorted(at - due_mono for _, _, at in posts)
    per_message = {(channel, text) for channel, text, _ in posts}
    print(
        f"posted {len(posts)} messages ({len(per_message)} distinct): first {arrivals[0]:.2f} s after the "
        f"due minute, last {arrivals[-1]:.2f} s after it"
    )
    print(f"smallest gap between two messages in one channel: {min_gap:.3f} s (limit 1.000 s)")
    print(
        f"floor set by the limit: {rituals // channels} messages per channel need at least {rituals // channels - 1} s"
    )
    with database.read() as session:
        claimed = session.scalars(select(Occurrence.claimed_at))
        claims = sorted((c - due).total_seconds() for c in claimed if c is not None)
    if claims:
        print(
            f"claimed (prepared) from {claims[0]:.2f} s to {claims[-1]:.2f} s after the due minute; "
            f"half by {claims[len(claims) // 2]:.2f} s"
        )
    database.dispose()


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


def _watch_log(
    stream: IO[str], started: float, events: dict[str, float], lines: dict[str, str], boots: list[float]
) -> None:
    """Read the server's log as it comes: when the scheduler was ready (and what it said), trouble,
    and every worker (re)boot."""
    for line in stream:
        now = time.monotonic() - started
        if "Booting worker" in line:
            boots.append(now)
        if "scheduler started with" in line and "ready" not in events:
            events["ready"] = now
            lines["ready"] = line.strip().split(": ", 1)[-1]
        if "Traceback" in line or "WORKER TIMEOUT" in line:
            events.setdefault("problem", now)
            lines.setdefault("problem", line.strip())


def startup(rituals: int = 10_000, limit: float = 120.0) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        url = f"sqlite:///{Path(tmp) / 'tandem.db'}"
        database = Database(url)
        upgrade(database.engine)
        seed(database, rituals=rituals, channels=200, at=dt.time(9, 0), tz="Europe/Berlin", weekday=1)
        database.dispose()
        port = free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "x",
            "SLACK_API_URL": fake.base_url,
            "DATABASE_URL": url,
            "PORT": str(port),
        }
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=tmp, stderr=subprocess.PIPE, text=True
        )
        events: dict[str, float] = {}
        lines: dict[str, str] = {}
        boots: list[float] = []
        threading.Thread(
            target=_watch_log, args=(proc.stderr, started, events, lines, boots), daemon=True
        ).start()
        healthy = None
        try:
            while time.monotonic() - started < limit:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        healthy = time.monotonic() - started
                        break
                except requests.RequestException:  # not listening yet, or too busy to answer within 1 s
                    time.sleep(0.05)
            # Keep asking while the scheduler's first run is under way: an answer slower than 1 s
            # (or none) is what Slack's health checks and a load balancer would see.
            during: list[float] = []
            while "ready" not in events and time.monotonic() - started < limit:
                t0 = time.monotonic()
                try:
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
                    during.append(time.monotonic() - t0)
                except requests.RequestException:
                    during.append(float("inf"))
                time.sleep(0.1)
            # /healthz while the scheduler is settled (and how long one answer takes then).
            probes = []
            for _ in range(5):
                t0 = time.monotonic()
                try:
                    ok = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
                except requests.RequestException:
                    ok = False
                probes.append((time.monotonic() - t0) * 1000 if ok else float("inf"))
            time.sleep(2)
            pids = [proc.pid, *children(proc.pid)]
            total = sum(rss_mb(p) for p in pids)
            if "ready" in lines:
                print(lines["ready"])
            print(
                f"{rituals} rituals: /healthz 200 after "
                + (f"{healthy:.2f} s" if healthy is not None else f"more than {limit:.0f} s (never)")
                + "; every job scheduled after "
                + (f"{events['ready']:.2f} s" if "ready" in events else f"more than {limit:.0f} s (never)")
            )
            if during:
                slow = sum(1 for d in during if d > 1)
                fastest_slow = max((d for d in during if d <= 1), default=0) * 1000
                print(
                    f"/healthz during the scheduler's start: {len(during)} asked, {slow} slower than 1 s "
                    f"or unanswered, slowest answered {fastest_slow:.0f} ms"
                )
            print(
                f"worker boots: {len(boots)}; /healthz afterwards: "
                + ", ".join(f"{p:.0f} ms" for p in probes)
            )
            if "problem" in events:
                print(f"log trouble at {events['problem']:.1f} s: {lines['problem']}")
            print(
                "resident memory: "
                + ", ".join(f"pid {p} {rss_mb(p):.0f} MB" for p in pids)
                + f"; total {total:.0f} MB"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["burst", "startup", "fake"])
    parser.add_argument("latency", nargs="?", type=float, default=0.1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.which == "fake":
        serve_fake(args.latency)
    elif args.which == "burst":
        burst(latency=args.latency)
    else:
        startup()
