"""The scheduler as `tandem serve` starts it: next occurrences stored, catch-up, settings, DST.

Every test starts the real TandemScheduler (APScheduler, the batch preparer, the per-channel poster,
the SlackMessenger against the fake Web API) on a FrozenClock, with APScheduler paused so that nothing
fires on the wall clock; a test runs the minutely due job itself, the way APScheduler would.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.config import Mode, Settings
from bot.runtime import Runtime
from db.cadence import Cadence, CadenceKind
from db.models import Occurrence, OccurrenceStatus
from db.occurrences import claim
from db.session import Database
from jobs.scheduler import (
    DUE_JOB_ID,
    HELD_DMS_JOB_ID,
    HOUSEKEEPING_JOB_ID,
    LEADS_DIGEST_JOB_ID,
    LEDGER_JOB_ID,
    PAIRING_JOB_ID,
    PULSES_JOB_ID,
    RECONCILE_JOB_ID,
    WRITTEN_ANSWERS_JOB_ID,
    TandemScheduler,
)
from tests.clock import FrozenClock
from tests.fake_slack import FakeSlack
from tests.world import CHECKIN_COUNTING, World, weekly

UTC = dt.UTC
# Tuesday 24 November 2026, 09:00 in Berlin.
BERLIN_TUESDAY_9 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    for i in range(6):
        fake_slack.add_channel(f"C{i}", name=f"c{i}", is_member=True)
    fake_slack.add_user("U_CREATOR")
    return fake_slack


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 10, 12, 0, tzinfo=UTC))


def start(scheduler: TandemScheduler) -> TandemScheduler:
    scheduler.start(paused=True)  # jobs get their next run times; nothing fires on real time
    assert scheduler.ready.wait(20), "the scheduler's first sync did not finish"
    return scheduler


@pytest.fixture
def world(database: Database, clock: FrozenClock) -> World:
    return World(database, clock, ritual_defaults=CHECKIN_COUNTING)


def run_job(scheduler: TandemScheduler) -> None:
    """What APScheduler does at the start of a minute: call the due job's function with its args."""
    job = scheduler.scheduler.get_job(DUE_JOB_ID)
    assert job is not None, "no minutely due job"
    job.func(*job.args, **job.kwargs)
    assert scheduler.join(20)


def occurrences(database: Database, ritual_id: int) -> list[Occurrence]:
    with database.begin() as session:
        return list(
            session.scalars(
                select(Occurrence).where(Occurrence.ritual_id == ritual_id).order_by(Occurrence.scheduled_at)
            )
        )


def posts(slack: FakeSlack, channel: str) -> list:  # type: ignore[type-arg]
    return [c for c in slack.calls("chat.postMessage") if c.params["channel"] == channel]


def test_start_schedules_every_active_ritual_by_its_stored_next_occurrence_with_one_minutely_job(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    weekly = world.ritual(channel="C0", name="Weekly")
    monthly = world.ritual(
        channel="C1",
        name="Monthly",
        # `weekly` here is the ritual above, so the monthly cadence is spelt out.
        cadence=Cadence(
            kind=CadenceKind.monthly, weekday=1, time_of_day=dt.time(10, 30), timezone="America/New_York"
        ),
    )
    paused = world.ritual(channel="C2", name="Paused", paused=True)
    deleted = world.ritual(channel="C3", name="Deleted", deleted=True)
    elsewhere = world.ritual(channel="C4", name="Uninstalled", team_id="T0002")
    world.mark_uninstalled("T0002")

    start(scheduler)

    # No job per ritual: one job a minute selects the rituals due by their stored next occurrence.
    assert {job.id for job in scheduler.scheduler.get_jobs()} == {
        DUE_JOB_ID,
        HOUSEKEEPING_JOB_ID,
        PULSES_JOB_ID,
        LEDGER_JOB_ID,
        RECONCILE_JOB_ID,
        PAIRING_JOB_ID,
        HELD_DMS_JOB_ID,
        LEADS_DIGEST_JOB_ID,
        WRITTEN_ANSWERS_JOB_ID,
    }
    # From Tuesday 10 Nov 12:00 UTC: Tuesday 17 Nov 09:00 in Berlin (CET), and the first Tuesday of
    # December at 10:30 in New York (EST).
    assert scheduler.next_run(weekly) == dt.datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    assert scheduler.next_run(monthly) == dt.datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    for ritual_id in (paused, deleted, elsewhere):
        assert scheduler.next_run(ritual_id) is None
    assert slack.calls("chat.postMessage") == []  # nothing was due


def test_start_fails_stale_claims_and_catches_up_within_the_grace_window(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    long_down = world.ritual(channel="C2", name="Long down", cadence=weekly(weekday=0))  # Monday 09:00
    clock.set(dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    late = world.ritual(channel="C0", name="Late")  # due 30 minutes ago: posted
    interrupted = world.ritual(channel="C1", name="Interrupted")
    # A process claimed Interrupted's check-in and died before it was posted, before claims kept
    # their message (so it cannot be looked up in the channel).
    with database.begin() as session:
        claim(session, interrupted, BERLIN_TUESDAY_9, now=BERLIN_TUESDAY_9, channel_id="C1")
    # Tandem was down from before Monday 16 Nov 09:00 Berlin until Tuesday 24 Nov 09:30.
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(minutes=30))

    start(scheduler)
    assert scheduler.join(20)

    (posted,) = occurrences(database, late)
    assert (posted.status, posted.scheduled_at) == (OccurrenceStatus.POSTED, BERLIN_TUESDAY_9)
    assert len(posts(slack, "C0")) == 1

    (uncertain,) = occurrences(database, interrupted)
    assert uncertain.status is OccurrenceStatus.UNCERTAIN  # never announced as failed
    assert uncertain.reason is not None and "cannot tell" in uncertain.reason
    assert posts(slack, "C1") == []  # never posted again: a duplicate is worse than a gap

    missed = occurrences(database, long_down)
    assert [(o.scheduled_at, o.status) for o in missed] == [
        (dt.datetime(2026, 11, 16, 8, 0, tzinfo=UTC), OccurrenceStatus.MISSED),
        (dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC), OccurrenceStatus.MISSED),
    ]
    assert all(o.reason == "Tandem was not running at the time" for o in missed)
    assert posts(slack, "C2") == []

    # A second start owes nothing more.
    scheduler.catch_up()
    assert scheduler.join(20)
    assert len(slack.calls("chat.postMessage")) == 1


def test_a_job_run_by_apscheduler_posts_once(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual()
    start(scheduler)
    due = scheduler.next_run(ritual_id)
    assert due == dt.datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    clock.set(due)
    run_job(scheduler)
    run_job(scheduler)  # a retry, or a second scheduler's run: nothing more
    assert len(posts(slack, "C0")) == 1
    (occ,) = occurrences(database, ritual_id)
    assert (occ.status, occ.scheduled_at) == (OccurrenceStatus.POSTED, due)


@pytest.mark.parametrize(
    ("hours", "outcome"), [(2.0, OccurrenceStatus.MISSED), (3.0, OccurrenceStatus.POSTED)]
)
def test_the_grace_setting_reaches_the_scheduler(
    database: Database,
    clock: FrozenClock,
    settings: Settings,
    slack: FakeSlack,
    world: World,
    hours: float,
    outcome: OccurrenceStatus,
) -> None:
    clock.set(dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    ritual_id = world.ritual()
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(hours=2, minutes=30))  # Tandem comes back 2.5 h late
    runtime = Runtime(
        settings.model_copy(update={"tandem_missed_grace_hours": hours}),
        Mode.HTTP,
        with_app=False,
        with_scheduler=True,
        clock=clock,
        poster_interval=0.0,
    )
    try:
        assert runtime.scheduler is not None
        assert runtime.scheduler.grace == dt.timedelta(hours=hours)
        start(runtime.scheduler)
        assert runtime.scheduler.join(20)
    finally:
        runtime.close()
    (occ,) = occurrences(database, ritual_id)
    assert (occ.scheduled_at, occ.status) == (BERLIN_TUESDAY_9, outcome)
    assert len(posts(slack, "C0")) == (1 if outcome is OccurrenceStatus.POSTED else 0)


# The 2026 transitions, and 09:00 local on the transition Sunday and the Monday after, in UTC.
DST_CASES = [
    # Berlin springs forward on Sunday 29 March (CET+1 -> CEST+2).
    ("Europe/Berlin", dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC), "2026-03-29T07:00", "2026-03-30T07:00"),
    # ...and falls back on Sunday 25 October (CEST+2 -> CET+1).
    ("Europe/Berlin", dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC), "2026-10-25T08:00", "2026-10-26T08:00"),
    # New York springs forward on Sunday 8 March (EST-5 -> EDT-4).
    ("America/New_York", dt.datetime(2026, 3, 7, 12, 0, tzinfo=UTC), "2026-03-08T13:00", "2026-03-09T13:00"),
    # ...and falls back on Sunday 1 November (EDT-4 -> EST-5).
    (
        "America/New_York",
        dt.datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
        "2026-11-01T14:00",
        "2026-11-02T14:00",
    ),
]


@pytest.mark.parametrize(("zone", "before", "sunday", "monday"), DST_CASES)
def test_a_nine_oclock_ritual_fires_once_at_nine_local_across_dst(
    scheduler: TandemScheduler,
    database: Database,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
    zone: str,
    before: dt.datetime,
    sunday: str,
    monday: str,
) -> None:
    clock.set(before)  # the Saturday before the transition
    on_sunday = world.ritual(channel="C0", name="Sunday", cadence=weekly(weekday=6, timezone=zone))
    on_monday = world.ritual(channel="C1", name="Monday", cadence=weekly(weekday=0, timezone=zone))
    start(scheduler)
    for ritual_id, channel, expected in ((on_sunday, "C0", sunday), (on_monday, "C1", monday)):
        due = dt.datetime.fromisoformat(expected).replace(tzinfo=UTC)
        assert scheduler.next_run(ritual_id) == due
        clock.set(due - dt.timedelta(seconds=1))
        run_job(scheduler)  # a second early: not due yet
        assert posts(slack, channel) == []
        clock.set(due)
        run_job(scheduler)
        run_job(scheduler)  # a retry posts nothing
        assert len(posts(slack, channel)) == 1
        (occ,) = occurrences(database, ritual_id)
        assert (occ.status, occ.scheduled_at) == (OccurrenceStatus.POSTED, due)
