"""The scheduler at scale: each ritual's next occurrence stored, one minutely job, change stamps,
schedulers sharing a burst, and a failed batch that loses nothing.

The scheduler is the one `tandem scheduler` runs (tests/conftest.py `scheduler`), on a FrozenClock,
with APScheduler paused: a test runs the minutely job itself, as APScheduler does at second 0.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update

import jobs.scheduler
from bot.config import Mode, Settings
from bot.runtime import Runtime
from db.models import Occurrence, OccurrenceStatus, Ritual
from db.rituals import pause_ritual, resume_ritual, spec_of, update_ritual
from db.session import Database
from jobs.scheduler import DUE_JOB_ID, TandemScheduler
from tests.clock import FrozenClock
from tests.fake_slack import FakeSlack
from tests.world import CHECKIN_COUNTING, World, weekly

UTC = dt.UTC
# Saturday 21 March 2026, noon UTC: Berlin is on CET (UTC+1) until Sunday 29 March, 02:00.
BEFORE_SPRING = dt.datetime(2026, 3, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(BEFORE_SPRING)


@pytest.fixture
def world(database: Database, clock: FrozenClock) -> World:
    return World(database, clock, ritual_defaults=CHECKIN_COUNTING)


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.auto_channels = True
    fake_slack.add_user("U_CREATOR")
    return fake_slack


def start(scheduler: TandemScheduler) -> TandemScheduler:
    scheduler.start(paused=True)
    assert scheduler.ready.wait(20), "the scheduler's first run did not finish"
    return scheduler


def run_due_job(scheduler: TandemScheduler) -> None:
    """What APScheduler does at the start of every minute."""
    job = scheduler.scheduler.get_job(DUE_JOB_ID)
    assert job is not None
    job.func(*job.args, **job.kwargs)
    assert scheduler.join(60)


def stored_next(database: Database, ritual_id: int) -> dt.datetime | None:
    with database.read() as session:
        return session.scalar(select(Ritual.next_due_at).where(Ritual.id == ritual_id))


def posted_channels(slack: FakeSlack) -> list[str]:
    return [c.params["channel"] for c in slack.calls("chat.postMessage")]


def test_the_next_occurrence_is_stored_and_recomputed_across_dst_on_claim_edit_pause_and_resume(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual(channel="C1", cadence=weekly(weekday=6))  # Sundays 09:00 in Berlin
    # Created: the first Sunday after now, 09:00 CET.
    assert stored_next(database, ritual_id) == dt.datetime(2026, 3, 22, 8, 0, tzinfo=UTC)
    start(scheduler)

    clock.set(dt.datetime(2026, 3, 22, 8, 0, tzinfo=UTC))
    run_due_job(scheduler)
    assert posted_channels(slack) == ["C1"]
    # Claimed: the next is the Sunday of the spring transition, 09:00 CEST (07:00 UTC).
    assert stored_next(database, ritual_id) == dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert scheduler.next_run(ritual_id) == dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC)

    # Edited (another time of day) in a unit of work of its own: recomputed with the change.
    clock.set(dt.datetime(2026, 3, 23, 12, 0, tzinfo=UTC))
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None
        spec = spec_of(ritual)
        update_ritual(
            session, ritual, replace(spec, cadence=weekly(weekday=6, at=dt.time(17, 30))), now=clock.now()
        )
    assert stored_next(database, ritual_id) == dt.datetime(2026, 3, 29, 15, 30, tzinfo=UTC)

    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None
        pause_ritual(ritual, reason=None)
    assert stored_next(database, ritual_id) is None
    assert scheduler.next_run(ritual_id) is None

    clock.set(dt.datetime(2026, 3, 30, 12, 0, tzinfo=UTC))  # resumed after the Sunday it was paused over
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None
        resume_ritual(ritual, now=clock.now())
    assert stored_next(database, ritual_id) == dt.datetime(2026, 4, 5, 15, 30, tzinfo=UTC)
    clock.set(dt.datetime(2026, 3, 30, 12, 1, tzinfo=UTC))
    run_due_job(scheduler)
    assert posted_channels(slack) == ["C1"]  # the paused Sunday is not owed


def test_one_minutely_job_claims_only_the_rituals_due_and_moves_each_to_its_next_occurrence(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    nine = [world.ritual(channel=f"C{i}", name=f"Nine {i}", cadence=weekly(weekday=0)) for i in range(5)]
    ten = world.ritual(channel="C9", name="Ten", cadence=weekly(weekday=0, at=dt.time(10)))
    start(scheduler)
    # One job for every ritual: nothing in APScheduler grows with them.
    assert [j.id for j in scheduler.scheduler.get_jobs()].count(DUE_JOB_ID) == 1
    assert not [j for j in scheduler.scheduler.get_jobs() if "checkin" in j.id and j.id != DUE_JOB_ID]

    clock.set(dt.datetime(2026, 3, 23, 8, 0, tzinfo=UTC))  # Monday 09:00 in Berlin
    run_due_job(scheduler)
    assert sorted(posted_channels(slack)) == [f"C{i}" for i in range(5)]
    for ritual_id in nine:
        assert stored_next(database, ritual_id) == dt.datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # CEST
    assert stored_next(database, ten) == dt.datetime(2026, 3, 23, 9, 0, tzinfo=UTC)

    clock.set(dt.datetime(2026, 3, 23, 8, 1, tzinfo=UTC))
    run_due_job(scheduler)  # the next minute: nothing more is due
    assert len(slack.calls("chat.postMessage")) == 5
    clock.set(dt.datetime(2026, 3, 23, 9, 0, tzinfo=UTC))
    run_due_job(scheduler)
    assert posted_channels(slack)[-1] == "C9" and len(slack.calls("chat.postMessage")) == 6


def test_the_change_stamp_picks_up_an_edit_made_by_another_process(
    scheduler: TandemScheduler,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
) -> None:
    ritual_id = world.ritual(channel="C1", cadence=weekly(weekday=1))  # Tuesdays 09:00
    start(scheduler)
    run_due_job(scheduler)  # it has read the stamp and the earliest next occurrence (Tuesday)

    # Another process (its own engine; the scheduler is not told) moves the ritual to today 13:30.
    other = Database(database_url)
    try:
        with other.begin() as session:
            ritual = session.get(Ritual, ritual_id)
            assert ritual is not None
            spec = spec_of(ritual)
            update_ritual(
                session, ritual, replace(spec, cadence=weekly(weekday=5, at=dt.time(13, 30))), now=clock.now()
            )
    finally:
        other.dispose()

    clock.set(dt.datetime(2026, 3, 21, 12, 30, tzinfo=UTC))  # 13:30 in Berlin
    run_due_job(scheduler)
    assert posted_channels(slack) == ["C1"]
    with database.read() as session:
        (scheduled_at,) = session.scalars(select(Occurrence.scheduled_at)).all()
    assert scheduled_at == dt.datetime(2026, 3, 21, 12, 30, tzinfo=UTC)


def test_without_a_change_stamp_the_scheduler_does_not_read_the_rituals_again(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    """The stamp is what tells it: a next occurrence moved earlier behind its back (no stamp) is not
    seen before the earliest one it knows of, which is what makes a quiet minute cost one read."""
    ritual_id = world.ritual(channel="C1", cadence=weekly(weekday=1))
    start(scheduler)
    with database.begin() as session:
        session.execute(update(Ritual).where(Ritual.id == ritual_id).values(next_due_at=clock.now()))
    run_due_job(scheduler)
    assert posted_channels(slack) == []
    scheduler.sync()  # told (as a change in this process, or a stamp, tells it)
    run_due_job(scheduler)
    # Read again, it is due: nothing is owed at this instant, so nothing is posted, and it moves on.
    assert posted_channels(slack) == []
    assert stored_next(database, ritual_id) == dt.datetime(2026, 3, 24, 8, 0, tzinfo=UTC)


def test_a_batch_that_fails_to_prepare_is_prepared_ritual_by_ritual_and_nothing_is_lost(
    scheduler: TandemScheduler,
    database: Database,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(12):
        world.ritual(channel=f"C{i}", name=f"R{i}", cadence=weekly(weekday=0))
    start(scheduler)
    scheduler.due_batch = 5

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the batch query failed")

    monkeypatch.setattr(jobs.scheduler, "prepare_batch", broken)
    clock.set(dt.datetime(2026, 3, 23, 8, 0, 30, tzinfo=UTC))
    run_due_job(scheduler)
    assert sorted(posted_channels(slack)) == sorted(f"C{i}" for i in range(12))
    with database.read() as session:
        statuses = Counter(session.scalars(select(Occurrence.status)))
    assert statuses == {OccurrenceStatus.POSTED: 12}


@pytest.mark.postgres_only
def test_two_schedulers_on_postgresql_take_disjoint_shares_of_a_burst(
    database: Database, settings: Settings, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    if database.backend != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's (CI's second run)")
    for i in range(30):
        world.ritual(channel=f"C{i}", name=f"R{i}", cadence=weekly(weekday=0))
    clock.set(dt.datetime(2026, 3, 23, 8, 0, 5, tzinfo=UTC))
    runtimes = [
        Runtime(settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0)
        for _ in range(2)
    ]
    first, second = (r.scheduler for r in runtimes)
    assert first is not None and second is not None
    took: dict[str, list[int]] = {"first": [], "second": []}
    second_done = threading.Event()
    prepare = jobs.scheduler.prepare_batch

    def recording(session: Any, ritual_ids: list[int], **kwargs: Any) -> Any:
        name = threading.current_thread().name
        took[name] += ritual_ids
        if name == "first" and len(took["first"]) == len(ritual_ids):
            # The first scheduler holds its first batch (its rows locked) until the second is done:
            # the second must neither wait for it nor take any of its rows.
            assert second_done.wait(60)
        return prepare(session, ritual_ids, **kwargs)

    jobs.scheduler.prepare_batch = recording  # type: ignore[assignment]
    try:
        for scheduler in (first, second):
            scheduler.due_batch = 4
        threads = {
            "first": threading.Thread(target=first.due_work, name="first"),
            "second": threading.Thread(target=lambda: (second.due_work(), second_done.set()), name="second"),
        }
        threads["first"].start()
        while not took["first"]:
            threading.Event().wait(0.01)
        threads["second"].start()
        for thread in threads.values():
            thread.join(60)
        assert first.join(60) and second.join(60)
    finally:
        jobs.scheduler.prepare_batch = prepare  # type: ignore[assignment]
        for runtime in runtimes:
            runtime.close()

    assert took["first"] and took["second"]  # both worked
    assert not set(took["first"]) & set(took["second"])  # on disjoint rituals
    assert len(took["first"]) + len(took["second"]) == 30
    assert Counter(posted_channels(slack)) == {f"C{i}": 1 for i in range(30)}
    with database.read() as session:
        assert Counter(session.scalars(select(Occurrence.status))) == {OccurrenceStatus.POSTED: 30}


def test_two_schedulers_at_once_on_either_backend_post_each_checkin_once(
    database: Database, settings: Settings, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    """On SQLite the two take turns (one writer at a time); on PostgreSQL they share the rows."""
    for i in range(40):
        world.ritual(channel=f"C{i}", name=f"R{i}", cadence=weekly(weekday=0))
    clock.set(dt.datetime(2026, 3, 23, 8, 0, 5, tzinfo=UTC))
    runtimes = [
        Runtime(settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0)
        for _ in range(2)
    ]
    try:
        schedulers = [r.scheduler for r in runtimes]
        queued: list[int] = []
        threads = []
        for scheduler in schedulers:
            assert scheduler is not None
            scheduler.due_batch = 5
            threads.append(threading.Thread(target=lambda s=scheduler: queued.append(s.due_work())))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(s is not None and s.join(60) for s in schedulers)
    finally:
        for runtime in runtimes:
            runtime.close()
    assert sum(queued) == 40
    assert Counter(posted_channels(slack)) == {f"C{i}": 1 for i in range(40)}
    with database.read() as session:
        assert Counter(session.scalars(select(Occurrence.status))) == {OccurrenceStatus.POSTED: 40}
