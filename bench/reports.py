"""Report and export benchmarks (issue: insight).

    python -m bench.reports [--postgres URL]

Seeds 200 rituals with 50 closed pulses each (10,000 pulses) and 100 answers per pulse
(1,000,000 answers, stored as Tandem stores them: counts per question, side and score), then times,
for rituals picked at random: the report's figures (SQL over the tallies), the chart, and an export
of a year of one large ritual (52 pulses, 500 people). Runs on SQLite, and on PostgreSQL when a
server URL is given (a database of its own is created there and dropped afterwards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from bot.usecases.insight import build_export, build_report
from db.migrate import upgrade
from db.models import (
    Person,
    Pulse,
    PulseQuestion,
    PulseTally,
    PulseVote,
    Ritual,
    RitualMember,
    Side,
    Workspace,
)
from db.session import Database
from tests.databases import fresh_postgres_database

RITUALS, PULSES, ANSWERS = 200, 50, 100
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def seed(database: Database) -> list[int]:
    rng = random.Random(7)
    with database.begin() as session:
        ws = Workspace(team_id="T0001", installed_at=NOW)
        session.add(ws)
        session.flush()
        session.execute(
            insert(Ritual),
            [
                {
                    "workspace_id": ws.id,
                    "channel_id": f"C{i:04d}",
                    "name": f"Ritual {i}",
                    "cadence_kind": "weekly",
                    "weekday": 1,
                    "local_time": dt.time(9),
                    "timezone": "Europe/Berlin",
                    "interval_weeks": 1,
                    "week_of_month": 1,
                    "themes": [],
                    "pulse_enabled": True,
                    "pulse_anonymous": True,
                    "status": "active",
                    "created_by": "U1",
                    "created_at": NOW,
                    "updated_at": NOW,
                    "schedule_from": NOW,
                }
                for i in range(RITUALS)
            ],
        )
        ritual_ids = list(session.scalars(select(Ritual.id)))
        pulses = []
        for rid in ritual_ids:
            for week in range(PULSES):
                opened = NOW - dt.timedelta(weeks=PULSES - week)
                pulses.append(
                    {
                        "ritual_id": rid,
                        "channel_id": "C",
                        "owner": "U1",
                        "anonymous": True,
                        "opened_at": opened,
                        "closes_at": opened + dt.timedelta(days=1),
                        "closed_at": opened + dt.timedelta(days=1),
                        "theme": "data",
                    }
                )
        for start in range(0, len(pulses), 5000):
            session.execute(insert(Pulse), pulses[start : start + 5000])
        pulse_ids = list(session.scalars(select(Pulse.id)))
        tallies = []
        for pid in pulse_ids:
            # 100 answers: 40 marketing and 40 IT on the partner question, 100 on the level question.
            for question, side, n in (
                (PulseQuestion.PARTNER, Side.MARKETING, 40),
                (PulseQuestion.PARTNER, Side.IT, 40),
                (PulseQuestion.LEVEL, Side.MARKETING, 50),
                (PulseQuestion.LEVEL, Side.IT, 50),
            ):
                counts = [0] * 5
                for _ in range(n):
                    counts[rng.randrange(5)] += 1
                tallies += [
                    {"pulse_id": pid, "question": question, "side": side, "score": s + 1, "count": c}
                    for s, c in enumerate(counts)
                    if c
                ]
        for start in range(0, len(tallies), 20000):
            session.execute(insert(PulseTally), tallies[start : start + 20000])
    return ritual_ids


def run(url: str, label: str) -> None:
    database = Database(url)
    upgrade(database.engine)
    started = time.perf_counter()
    ritual_ids = seed(database)
    print(
        f"[{label}] seeded {RITUALS} rituals, {RITUALS * PULSES} pulses, {RITUALS * PULSES * ANSWERS:,} answers "
        f"in {time.perf_counter() - started:.1f} s"
    )
    figures, charts, exports = [], [], []
    for rid in random.Random(1).sample(ritual_ids, 20):
        # Read-only units of work, as `/tandem report` and `/tandem export` use.
        with database.read() as session:
            ritual = session.get(Ritual, rid)
            assert ritual is not None
            from db.reports import pulse_points, summarise

            t0 = time.perf_counter()
            since = NOW - dt.timedelta(weeks=52)
            points = pulse_points(session, rid, since=since, min_answers=3)
            summarise(session, ritual, points, since=since, until=NOW)
            figures.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            build_report(session, ritual, weeks=52, now=NOW, min_answers=3)
            charts.append(time.perf_counter() - t0 - figures[-1])
            t0 = time.perf_counter()
            build_export(session, ritual, requester="U1", now=NOW, min_answers=3)
            exports.append(time.perf_counter() - t0)

    def ms(xs: list[float]) -> str:
        return f"median {statistics.median(xs) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms"

    print(
        f"[{label}] report figures (52 weeks, one ritual, over 1M stored answers): {ms(figures)}  (target 200 ms)"
    )
    print(
        f"[{label}] chart drawing (52 points): {ms(charts[1:])} (first, with matplotlib's import: {charts[0] * 1000:.0f} ms)  (target 1 s)"
    )
    print(
        f"[{label}] export of a year (52 pulses; tallies hold the 500 people's answers): {ms(exports)}  (target 2 s)"
    )
    named = seed_named_ritual(database)
    times = []
    for _ in range(5):
        with database.read() as session:
            ritual = session.get(Ritual, named)
            assert ritual is not None
            t0 = time.perf_counter()
            export = build_export(session, ritual, requester="P0000", now=NOW, min_answers=3)
            times.append(time.perf_counter() - t0)
    lines = sum(data.count(b"\n") for _, data in export.files)
    print(
        f"[{label}] export of a year of a non-anonymous ritual (52 pulses x 500 people; {lines:,} CSV lines "
        f"with the per-answer file): {ms(times)}  (target 2 s)"
    )
    database.dispose()


def seed_named_ritual(database: Database) -> int:
    """One large non-anonymous ritual: 52 weekly pulses, 500 people, both questions answered."""
    rng = random.Random(11)
    with database.begin() as session:
        ws = session.scalars(select(Workspace)).one()
        ritual = Ritual(
            workspace_id=ws.id,
            channel_id="C_BIG",
            name="Big",
            cadence_kind="weekly",
            weekday=1,
            local_time=dt.time(9),
            timezone="UTC",
            themes=[],
            pulse_anonymous=False,
            created_by="P0000",
            created_at=NOW,
            schedule_from=NOW,
        )
        session.add(ritual)
        session.flush()
        session.execute(
            insert(Person),
            [
                {
                    "workspace_id": ws.id,
                    "slack_user_id": f"P{i:04d}",
                    "side": Side.MARKETING if i % 2 else Side.IT,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "reminders": True,
                }
                for i in range(500)
            ],
        )
        people = list(session.execute(select(Person.id, Person.side).where(Person.slack_user_id.like("P%"))))
        session.add(RitualMember(ritual_id=ritual.id, person_id=people[0][0], side=people[0][1]))
        votes, tallies = [], []
        for week in range(52):
            opened = NOW - dt.timedelta(weeks=52 - week)
            pulse = Pulse(
                ritual_id=ritual.id,
                channel_id="C_BIG",
                owner="P0000",
                anonymous=False,
                opened_at=opened,
                closes_at=opened + dt.timedelta(days=1),
                closed_at=opened + dt.timedelta(days=1),
            )
            session.add(pulse)
            session.flush()
            counts: dict[tuple[PulseQuestion, Side, int], int] = {}
            for person_id, side in people:
                assert side is not None  # every person seeded above has a side
                for question in PulseQuestion:
                    score = rng.randint(1, 5)
                    votes.append(
                        {
                            "pulse_id": pulse.id,
                            "question": question,
                            "person_id": person_id,
                            "side": side,
                            "score": score,
                        }
                    )
                    counts[(question, side, score)] = counts.get((question, side, score), 0) + 1
            tallies += [
                {"pulse_id": pulse.id, "question": q, "side": sd, "score": sc, "count": n}
                for (q, sd, sc), n in counts.items()
            ]
        for start in range(0, len(votes), 20000):
            session.execute(insert(PulseVote), votes[start : start + 20000])
        session.execute(insert(PulseTally), tallies)
        return ritual.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres", help="a PostgreSQL server URL, e.g. postgresql://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'reports.db'}", "SQLite")
    if args.postgres:
        with fresh_postgres_database(args.postgres, prefix="tandem_bench") as url:
            run(url, "PostgreSQL")


if __name__ == "__main__":
    main()
