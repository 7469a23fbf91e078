"""Scheduling benchmarks for check-in rituals.

    python -m bench.scheduling burst     # 1,000 rituals over 50 channels due in the same minute
    python -m bench.scheduling startup   # 10,000 rituals: time to healthy, scheduler ready, memory

`burst` runs the real TandemScheduler (APScheduler, the per-channel poster, the SlackMessenger)
against the fake Web API answering every call in 100 ms, and waits for the wall-clock minute the
rituals are due in. `startup` starts `tandem serve` as an operator would, on a SQLite database
holding 10,000 rituals, and reads the resident memory of its processes from /proc.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import requests
from sqlalchemy import insert, select

from bot.config import Mode, Settings
from bot.messenger import SlackMessenger
from db.clock import SystemClock
from db.migrate import upgrade
from db.models import Person, Ritual, RitualMember, Side, Workspace
from db.session import Database
from jobs.scheduler import TandemScheduler
from tests.fake_slack import FakeSlack


def seed(database: Database, *, rituals: int, channels: int, at: dt.time, tz: str, weekday: int) -> None:
    """Insert rituals in bulk (domain code is exercised by the tests; this only has to be fast)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with database.begin() as session:
        workspace = Workspace(team_id="T0001", installed_at=now)
        session.add(workspace)
        session.flush()
        people = [
            Person(workspace_id=workspace.id, slack_user_id=u, side=s)
            for u, s in (("U_M", Side.MARKETING), ("U_I", Side.IT))
        ]
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
            {"ritual_id": rid, "person_id": p.id, "side": p.side.value}
            for rid in ids
            for p in people  # type: ignore[union-attr]
        ]
        for start in range(0, len(members), 4000):
            session.execute(insert(RitualMember), members[start : start + 4000])


def burst(rituals: int = 1000, channels: int = 50, latency: float = 0.1) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        fake.auto_channels = True
        fake.latency = latency
        database = Database(f"sqlite:///{Path(tmp) / 'burst.db'}")
        upgrade(database.engine)
        # Due at the start of the next wall-clock minute that leaves time to set up.
        due = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=75)).replace(second=0, microsecond=0)
        seed(database, rituals=rituals, channels=channels, at=due.time(), tz="UTC", weekday=due.weekday())
        settings = Settings(
            _env_file=None,
            slack_bot_token="xoxb-bench",
            slack_signing_secret="x",
            slack_api_url=fake.base_url,
            database_url=database.url,
        )  # type: ignore[call-arg, arg-type]
        scheduler = TandemScheduler(database, SystemClock(), SlackMessenger(settings, Mode.HTTP))
        scheduler.start()
        scheduler.ready.wait(120)
        print(
            f"{rituals} rituals over {channels} channels due at {due:%H:%M:%S} UTC; Web API latency {latency * 1000:.0f} ms"
        )
        while dt.datetime.now(dt.UTC) < due:
            time.sleep(0.2)
        deadline = time.monotonic() + 120
        while len(fake.calls("chat.postMessage")) < rituals and time.monotonic() < deadline:
            time.sleep(0.05)
        scheduler.shutdown()
        posts = fake.calls("chat.postMessage")
        due_mono = posts[0].at - (posts[0].at - posts[0].at)  # reference: first arrival
        by_channel: dict[str, list[float]] = defaultdict(list)
        for call in posts:
            by_channel[call.params["channel"]].append(call.at)
        min_gap = min(b - a for times in by_channel.values() for a, b in itertools.pairwise(sorted(times)))
        span = max(c.at for c in posts) - due_mono
        wall_first = time.time() - (time.monotonic() - posts[0].at)
        lag_first = wall_first - due.timestamp()
        per_message = {(c.params["channel"], c.params["text"]) for c in posts}
        print(
            f"posted {len(posts)} messages ({len(per_message)} distinct): first {lag_first:.2f} s after the due minute, "
            f"last {lag_first + span:.2f} s after it"
        )
        print(f"smallest gap between two messages in one channel: {min_gap:.3f} s (limit 1.000 s)")
        print(
            f"floor set by the limit: {rituals // channels} messages per channel need at least {rituals // channels - 1} s"
        )
        database.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024  # type: ignore[union-attr]


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def startup(rituals: int = 10_000) -> None:
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
        healthy = None
        try:
            while time.monotonic() - started < 60:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        healthy = time.monotonic() - started
                        break
                except requests.ConnectionError:
                    time.sleep(0.05)
            ready = None
            assert proc.stderr is not None
            for line in proc.stderr:
                if "scheduler started with" in line:
                    ready = time.monotonic() - started
                    print(line.strip().split(": ", 1)[-1])
                    break
            time.sleep(2)
            pids = [proc.pid, *children(proc.pid)]
            total = sum(rss_mb(p) for p in pids)
            print(
                f"{rituals} rituals: /healthz 200 after {healthy:.2f} s; every job scheduled after {ready:.2f} s"
            )
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
    parser.add_argument("which", choices=["burst", "startup"])
    args = parser.parse_args()
    burst() if args.which == "burst" else startup()
