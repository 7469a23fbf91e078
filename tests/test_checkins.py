"""Posting check-ins: exactly once, catch-up after downtime, Slack failures, two schedulers at once."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.config import Mode
from bot.messenger import SlackMessenger
from db.models import Occurrence, OccurrenceStatus, Ritual, RitualStatus, Workspace
from db.rituals import RitualSpec, create_ritual
from db.session import Database
from jobs.cadence import Cadence, CadenceKind
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.fake_slack import FakeSlack

BERLIN_TUESDAY_9 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)  # 09:00 Europe/Berlin


@pytest.fixture
def world(fake_slack: FakeSlack) -> FakeSlack:
    for i in range(5):
        fake_slack.add_channel(f"C{i}", name=f"c{i}", is_member=True)
    fake_slack.add_user("U_CREATOR")
    return fake_slack


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))


@pytest.fixture
def scheduler(
    database: Database, clock: FrozenClock, settings, world: FakeSlack
) -> Iterator[TandemScheduler]:  # type: ignore[no-untyped-def]
    sched = TandemScheduler(database, clock, SlackMessenger(settings, Mode.HTTP), poster_interval=0.0)
    yield sched
    sched.shutdown()


def make_ritual(database: Database, clock: FrozenClock, channel: str = "C0", name: str = "Weekly") -> int:
    spec = RitualSpec(
        channel_id=channel,
        name=name,
        cadence=Cadence(kind=CadenceKind.weekly, weekday=1, time_of_day=dt.time(9), timezone="Europe/Berlin"),
        marketing=("U_M",),
        it=("U_I",),
        pulse_enabled=False,  # these tests count check-ins; test_pulses covers the pulse that follows one
    )
    with database.begin() as session:
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == "T0001")).one_or_none()
        if workspace is None:
            workspace = Workspace(team_id="T0001")
            session.add(workspace)
            session.flush()
        return create_ritual(session, workspace, spec, created_by="U_CREATOR", now=clock.now()).id


def occurrence_rows(database: Database) -> list[Occurrence]:
    with database.begin() as session:
        return list(session.scalars(select(Occurrence).order_by(Occurrence.scheduled_at)))


def posts(world: FakeSlack, channel: str = "C0") -> list:  # type: ignore[type-arg]
    return [c for c in world.calls("chat.postMessage") if c.params["channel"] == channel]


def test_a_due_checkin_is_posted_exactly_once_however_often_it_fires(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack
) -> None:
    ritual_id = make_ritual(database, clock)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    for _ in range(3):  # the job, a retry, a restart's catch-up
        scheduler.fire(ritual_id)
    scheduler.catch_up()
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    assert len(posts(world)) == 1
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.POSTED and occ.scheduled_at == BERLIN_TUESDAY_9


def test_rotation_never_repeats_a_prompt_until_all_were_used(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack
) -> None:
    from db.prompt_library import BUILTIN_PROMPTS

    ritual_id = make_ritual(database, clock)
    with database.begin() as session:
        session.get(Ritual, ritual_id).themes = ["data", "credit"]  # type: ignore[union-attr]
    pool = [p.key for p in BUILTIN_PROMPTS if p.theme.value in ("data", "credit")]
    for week in range(len(pool) + 2):
        clock.set(BERLIN_TUESDAY_9 + dt.timedelta(weeks=week, seconds=1))
        scheduler.fire(ritual_id)
        assert scheduler.outbox is not None and scheduler.outbox.join(10)
    keys = [o.prompt_key for o in occurrence_rows(database)]
    assert sorted(keys[: len(pool)]) == sorted(pool)  # a full cycle first
    assert keys[len(pool)] in pool  # then the cycle starts again


def test_downtime_within_grace_is_posted_once_older_is_missed_and_mentioned(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack
) -> None:
    make_ritual(database, clock)
    # Tandem was down from before Tuesday 24 Nov until Tuesday 1 Dec 09:30 Berlin.
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(weeks=1, minutes=30))
    scheduler.catch_up()
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    rows = occurrence_rows(database)
    assert [(r.scheduled_at, r.status) for r in rows] == [
        (BERLIN_TUESDAY_9, OccurrenceStatus.MISSED),
        (BERLIN_TUESDAY_9 + dt.timedelta(weeks=1), OccurrenceStatus.POSTED),
    ]
    assert rows[0].reason == "Tandem was not running at the time"
    (post,) = posts(world)
    assert "Tue 24 Nov" in str(post.params["blocks"]) or "24 November" in str(post.params["blocks"])
    # A second restart changes nothing.
    scheduler.catch_up()
    scheduler.outbox.join(10)
    assert len(posts(world)) == 1


def test_past_the_grace_window_nothing_is_posted(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack
) -> None:
    ritual_id = make_ritual(database, clock)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(hours=2, minutes=1))
    assert scheduler.fire(ritual_id) == []
    assert [r.status for r in occurrence_rows(database)] == [OccurrenceStatus.MISSED]
    assert posts(world) == []


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
def test_channel_errors_pause_the_ritual_and_tell_its_creator(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack, error: str
) -> None:
    ritual_id = make_ritual(database, clock, channel="C1")
    world.fail("chat.postMessage", error=error, times=3)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.FAILED and error in (occ.reason or "")
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        assert (
            ritual is not None
            and ritual.status is RitualStatus.PAUSED
            and error in (ritual.paused_reason or "")
        )
    (dm,) = [c for c in world.calls("chat.postMessage") if c.params["channel"] == "U_CREATOR"]
    assert "/tandem resume Weekly" in str(dm.params["blocks"])


def test_a_revoked_token_pauses_without_a_dm(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack
) -> None:
    ritual_id = make_ritual(database, clock)
    world.revoke("xoxb-test-token")
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.FAILED and "token_revoked" in (occ.reason or "")
    assert [c for c in world.calls("chat.postMessage") if c.params["channel"] == "U_CREATOR"] == []


def test_rate_limits_and_server_errors_are_retried(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack
) -> None:
    ritual_id = make_ritual(database, clock)
    world.fail("chat.postMessage", status=429, retry_after=0, times=1)
    world.fail("chat.postMessage", status=503, times=1)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(20)
    assert len(world.calls("chat.postMessage")) == 3
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.POSTED


def test_slack_down_for_good_ends_as_failed_with_the_reason(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, world: FakeSlack
) -> None:
    ritual_id = make_ritual(database, clock)
    world.fail("chat.postMessage", status=500, times=None)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(30)
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.FAILED and occ.reason
    with database.begin() as session:
        assert session.get(Ritual, ritual_id).status is RitualStatus.ACTIVE  # type: ignore[union-attr]


class RecordingMessenger:
    """The real messenger, noting when each post into a channel started (the poster's promise)."""

    def __init__(self, inner: SlackMessenger) -> None:
        self.inner = inner
        self.starts: dict[str, list[float]] = {}

    def post(self, team_id: str, channel_id: str, **kwargs):  # type: ignore[no-untyped-def]
        self.starts.setdefault(channel_id, []).append(time.monotonic())
        return self.inner.post(team_id, channel_id, **kwargs)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def test_one_message_per_second_per_channel(
    database: Database, clock: FrozenClock, settings, world: FakeSlack
) -> None:  # type: ignore[no-untyped-def]
    messenger = RecordingMessenger(SlackMessenger(settings, Mode.HTTP))
    sched = TandemScheduler(database, clock, messenger, poster_interval=0.2)  # type: ignore[arg-type]
    try:
        ids_ = [make_ritual(database, clock, channel="C2", name=f"R{i}") for i in range(4)]
        ids_ += [make_ritual(database, clock, channel="C3", name=f"S{i}") for i in range(2)]
        clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
        for ritual_id in ids_:
            sched.fire(ritual_id)
        assert sched.outbox is not None and sched.outbox.join(20)
    finally:
        sched.shutdown()
    assert len(posts(world, "C2")) == 4 and len(posts(world, "C3")) == 2
    for channel in ("C2", "C3"):
        starts = messenger.starts[channel]
        assert all(b - a >= 0.2 for a, b in itertools.pairwise(starts)), starts
    # Channels do not wait for each other: C3's first post did not queue behind C2's four.
    assert messenger.starts["C3"][0] - messenger.starts["C2"][0] < 0.2


@pytest.mark.postgres_only
def test_two_scheduler_processes_on_postgresql_post_each_checkin_once(
    database: Database, clock: FrozenClock, world: FakeSlack, database_url: str
) -> None:
    if database.backend != "postgresql":
        pytest.skip("the two-process race runs on PostgreSQL (CI's second run)")
    for i in range(5):
        for j in range(4):
            make_ritual(database, clock, channel=f"C{i}", name=f"R{i}-{j}")
    now = (BERLIN_TUESDAY_9 + dt.timedelta(seconds=2)).isoformat()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.scheduler_process", database_url, world.base_url, now, "3"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    claimed = [int(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(claimed) == 20  # every occurrence claimed by exactly one of the two
    assert len(world.calls("chat.postMessage")) == 20
    rows = occurrence_rows(database)
    assert len(rows) == 20 and {r.status for r in rows} == {OccurrenceStatus.POSTED}
