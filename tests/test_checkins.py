"""Posting check-ins: exactly once, catch-up after downtime, Slack failures, two schedulers at once."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from bot.config import Mode
from bot.messenger import SlackMessenger
from bot.runtime import Runtime
from bot.usecases.checkins import prepare_due
from db.models import Occurrence, OccurrenceStatus, Pulse, Ritual, RitualStatus
from db.occurrences import STALE_CLAIM
from db.rituals import delete_ritual, pause_ritual
from db.session import Database
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.fake_slack import FakeSlack
from tests.world import CHECKIN_COUNTING, World

BERLIN_TUESDAY_9 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)  # 09:00 Europe/Berlin


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    for i in range(5):
        fake_slack.add_channel(f"C{i}", name=f"c{i}", is_member=True)
    fake_slack.add_user("U_CREATOR")
    return fake_slack


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))


@pytest.fixture
def world(database: Database, clock: FrozenClock) -> World:
    return World(database, clock, ritual_defaults=CHECKIN_COUNTING)


def occurrence_rows(database: Database) -> list[Occurrence]:
    with database.begin() as session:
        return list(session.scalars(select(Occurrence).order_by(Occurrence.scheduled_at)))


def posts(slack: FakeSlack, channel: str = "C0") -> list:  # type: ignore[type-arg]
    return [c for c in slack.calls("chat.postMessage") if c.params["channel"] == channel]


def test_a_due_checkin_is_posted_exactly_once_however_often_it_fires(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual()
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    for _ in range(3):  # the job, a retry, a restart's catch-up
        scheduler.fire(ritual_id)
    scheduler.catch_up()
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    assert len(posts(slack)) == 1
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.POSTED and occ.scheduled_at == BERLIN_TUESDAY_9


def test_rotation_never_repeats_a_prompt_of_a_theme_until_all_of_its_prompts_were_used(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    from db.prompt_library import BUILTIN_PROMPTS

    ritual_id = world.ritual(themes=("data", "credit"))
    pools = {t: [p.key for p in BUILTIN_PROMPTS if p.theme.value == t] for t in ("data", "credit")}
    weeks = 2 * max(len(pool) for pool in pools.values()) + 2
    for week in range(weeks):
        clock.set(BERLIN_TUESDAY_9 + dt.timedelta(weeks=week, seconds=1))
        scheduler.fire(ritual_id)
        assert scheduler.outbox is not None and scheduler.outbox.join(10)
    keys = [o.prompt_key for o in occurrence_rows(database)]
    themes = [k.rsplit("-", 1)[0] for k in keys]
    # With no pulse to steer it, the two themes take turns...
    assert all(a != b for a, b in itertools.pairwise(themes))
    for theme, pool in pools.items():
        of_theme = [k for k in keys if k.startswith(theme + "-")]
        assert sorted(of_theme[: len(pool)]) == sorted(pool)  # ...a full cycle of each theme first
        assert of_theme[len(pool)] in pool  # then its cycle starts again


def test_downtime_within_grace_is_posted_once_older_is_missed_and_mentioned(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    world.ritual()
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
    (post,) = posts(slack)
    assert "Tue 24 Nov 2026" in str(post.params["blocks"]) or "24 November" in str(post.params["blocks"])
    # A second restart changes nothing.
    scheduler.catch_up()
    scheduler.outbox.join(10)
    assert len(posts(slack)) == 1


def test_past_the_grace_window_nothing_is_posted(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual()
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(hours=2, minutes=1))
    assert scheduler.fire(ritual_id) == []
    assert [r.status for r in occurrence_rows(database)] == [OccurrenceStatus.MISSED]
    assert posts(slack) == []


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
def test_channel_errors_pause_the_ritual_and_tell_its_creator(
    scheduler: TandemScheduler,
    database: Database,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
    error: str,
) -> None:
    ritual_id = world.ritual(channel="C1")
    slack.fail("chat.postMessage", error=error, times=3)
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
    (dm,) = [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "U_CREATOR"]
    assert "/tandem resume Weekly" in str(dm.params["blocks"])


def test_a_revoked_token_pauses_without_a_dm(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual()
    slack.revoke("xoxb-test-token")
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.FAILED and "token_revoked" in (occ.reason or "")
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None and ritual.status is RitualStatus.PAUSED
        assert ritual.paused_reason == "Slack no longer accepts Tandem's token (token_revoked)"
    assert scheduler.next_run(ritual_id) is None  # no job for a paused ritual
    assert [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "U_CREATOR"] == []


def test_rate_limits_and_server_errors_are_retried(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual()
    slack.fail("chat.postMessage", status=429, retry_after=0, times=1)
    slack.fail("chat.postMessage", status=503, times=1)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(20)
    assert len(slack.calls("chat.postMessage")) == 3
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.POSTED


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried(
    scheduler: TandemScheduler,
    database: Database,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
    status: int,
) -> None:
    ritual_id = world.ritual()
    slack.fail("chat.postMessage", status=status, times=1)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(20)
    assert len(slack.calls("chat.postMessage")) == 2
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.POSTED


def test_a_checkin_whose_answer_times_out_is_not_posted_twice(
    database: Database, clock: FrozenClock, settings, slack: FakeSlack, world: World
) -> None:  # type: ignore[no-untyped-def]
    # Slack got the message but its answer is late: a retry could post the check-in twice, and so could
    # a look at the channel before Slack has stored it. The reconciler looks once the claim is stale.
    slow = settings.model_copy(update={"slack_timeout": 1})
    runtime = Runtime(slow, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0)
    assert runtime.scheduler is not None
    sched = runtime.scheduler
    try:
        ritual_id = world.ritual()
        slack.method_latency["chat.postMessage"] = 1.5
        clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
        sched.fire(ritual_id)
        assert sched.outbox is not None and sched.outbox.join(20)
        (occ,) = occurrence_rows(database)
        assert occ.status is OccurrenceStatus.CLAIMED  # not known to have failed, nor to have arrived
        deadline = time.monotonic() + 5
        while not slack.messages and time.monotonic() < deadline:
            time.sleep(0.05)  # the fake stores the message 1.5 s after it arrived (its latency)

        clock.set(BERLIN_TUESDAY_9 + STALE_CLAIM + dt.timedelta(minutes=1))
        assert sched.reconcile() == 1
        assert sched.outbox.join(20)
    finally:
        runtime.close()
    assert len(slack.calls("chat.postMessage")) == 1
    (stored,) = [m for (channel, _), m in slack.messages.items() if channel == "C0"]
    (occ,) = occurrence_rows(database)
    assert (occ.status, occ.message_ts) == (OccurrenceStatus.POSTED, stored["ts"])


def test_read_timeouts_are_retried_only_where_a_retry_cannot_duplicate() -> None:
    from slack_sdk.http_retry.request import HttpRequest
    from slack_sdk.http_retry.state import RetryState

    from bot.slack_client import ReadTimeoutRetryHandler

    handler = ReadTimeoutRetryHandler(max_retry_count=1)

    def retried(method: str, error: Exception) -> bool:
        request = HttpRequest(method="POST", url=f"https://slack.com/api/{method}", headers={})
        return handler.can_retry(state=RetryState(), request=request, response=None, error=error)

    assert retried("users.info", TimeoutError("read timed out"))
    assert retried("conversations.info", TimeoutError("read timed out"))
    assert not retried("chat.postMessage", TimeoutError("read timed out"))
    assert not retried("views.open", TimeoutError("read timed out"))
    assert not retried("users.info", ValueError("not a timeout"))


@pytest.mark.parametrize(("status", "error"), [(500, None), (200, "channel_not_found")])
def test_a_failed_checkin_brings_no_pulse(
    scheduler: TandemScheduler,
    database: Database,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
    status: int,
    error: str | None,
) -> None:
    ritual_id = world.ritual(pulse_enabled=True)
    slack.fail("chat.postMessage", status=status, error=error, times=None)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(30)
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.FAILED
    with database.begin() as session:
        assert session.scalars(select(Pulse)).all() == []
    # Every message Slack was asked to post was the check-in (and its retries), or the creator's DM.
    texts = {c.params["text"] for c in slack.calls("chat.postMessage") if c.params["channel"] == "C0"}
    assert len(texts) == 1 and "Weekly" in texts.pop()


def test_the_same_checkin_posted_brings_its_pulse(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    # The other side of the test above: with Slack working, the pulse does follow.
    ritual_id = world.ritual(pulse_enabled=True)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(30)
    (occ,) = occurrence_rows(database)
    with database.begin() as session:
        (pulse,) = session.scalars(select(Pulse)).all()
    assert occ.message_ts is not None and pulse.thread_ts == occ.message_ts
    assert len(posts(slack)) == 2


def test_a_checkin_that_fails_to_prepare_is_recorded_and_mentioned_next_time(
    scheduler: TandemScheduler,
    database: Database,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.usecases.checkins

    ritual_id = world.ritual()

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("a bug while building the message")

    monkeypatch.setattr(bot.usecases.checkins, "build_for", broken)
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    assert scheduler.fire(ritual_id) == []
    (occ,) = occurrence_rows(database)
    assert (occ.status, occ.scheduled_at) == (OccurrenceStatus.FAILED, BERLIN_TUESDAY_9)
    assert occ.reason == "Tandem could not prepare it (an internal error: KeyError)"
    assert posts(slack) == []
    scheduler.fire(ritual_id)  # a retry of the job changes nothing: the occurrence has its outcome
    assert len(occurrence_rows(database)) == 1

    monkeypatch.undo()
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(weeks=1, seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    (post,) = posts(slack)
    assert (
        "The check-in of Tue 24 Nov 2026 could not be posted: Tandem could not prepare it (an internal error: KeyError)."
        in str(post.params["blocks"])
    )


@pytest.mark.parametrize("change", ["paused", "deleted"])
def test_a_queued_checkin_of_a_ritual_stopped_meanwhile_is_skipped(
    scheduler: TandemScheduler,
    database: Database,
    clock: FrozenClock,
    slack: FakeSlack,
    world: World,
    change: str,
) -> None:
    ritual_id = world.ritual()
    clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
    with database.begin() as session:
        (prepared,) = prepare_due(session, ritual_id, now=clock.now(), grace=dt.timedelta(hours=2))
    with database.begin() as session:  # while it waited for its channel's slot
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None
        if change == "paused":
            pause_ritual(ritual, reason="paused by <@U_M>")
        else:
            delete_ritual(ritual)
    scheduler.submit(prepared)
    assert scheduler.outbox is not None and scheduler.outbox.join(10)
    assert posts(slack) == []
    (occ,) = occurrence_rows(database)
    assert occ.status is OccurrenceStatus.SKIPPED
    assert occ.reason == f"its ritual was {change} before it could be posted"


def test_slack_down_for_good_ends_as_failed_with_the_reason(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual()
    slack.fail("chat.postMessage", status=500, times=None)
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
        self.answers: dict[str, list[float]] = {}

    def post(self, team_id: str, channel_id: str, **kwargs):  # type: ignore[no-untyped-def]
        self.starts.setdefault(channel_id, []).append(time.monotonic())
        try:
            return self.inner.post(team_id, channel_id, **kwargs)
        finally:
            self.answers.setdefault(channel_id, []).append(time.monotonic())

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def test_one_message_per_second_per_channel(
    database: Database, clock: FrozenClock, settings, slack: FakeSlack, world: World
) -> None:  # type: ignore[no-untyped-def]
    messenger = RecordingMessenger(SlackMessenger(settings, Mode.HTTP))
    runtime = Runtime(
        settings,
        Mode.HTTP,
        with_app=False,
        with_scheduler=True,
        clock=clock,
        poster_interval=0.2,
        messenger=messenger,  # type: ignore[arg-type]  # RecordingMessenger forwards the rest by __getattr__
    )
    assert runtime.scheduler is not None
    sched = runtime.scheduler
    try:
        ids_ = [world.ritual(channel="C2", name=f"R{i}") for i in range(4)]
        ids_ += [world.ritual(channel="C3", name=f"S{i}") for i in range(2)]
        clock.set(BERLIN_TUESDAY_9 + dt.timedelta(seconds=1))
        prepared = []
        for ritual_id in ids_:
            with database.begin() as session:
                prepared += prepare_due(session, ritual_id, now=clock.now(), grace=sched.grace)
        for checkin in prepared:  # all six due at once, C2's four first
            sched.submit(checkin)
        assert sched.outbox is not None and sched.outbox.join(20)
    finally:
        runtime.close()
    assert len(posts(slack, "C2")) == 4 and len(posts(slack, "C3")) == 2
    for channel in ("C2", "C3"):
        starts, answers = messenger.starts[channel], messenger.answers[channel]
        # Each post starts the interval after the one before it started (give or take the database
        # work a send does before it calls Slack), and never before Slack answered that one: a
        # channel never has two messages in flight.
        assert all(b - a >= 0.2 * 0.9 for a, b in itertools.pairwise(starts))
        assert all(start >= answered for answered, start in zip(answers, starts[1:], strict=False))
    # Channels do not wait for each other: C3's first post did not queue behind C2's four (it went
    # out before C2's last, which had to wait three intervals).
    assert messenger.starts["C3"][0] < messenger.starts["C2"][-1]


@pytest.mark.postgres_only
def test_two_scheduler_processes_on_postgresql_post_each_checkin_once(
    database: Database, clock: FrozenClock, slack: FakeSlack, world: World, database_url: str
) -> None:
    if database.backend != "postgresql":
        pytest.skip("the two-process race runs on PostgreSQL (CI's second run)")
    for i in range(5):
        for j in range(4):
            world.ritual(channel=f"C{i}", name=f"R{i}-{j}")
    now = (BERLIN_TUESDAY_9 + dt.timedelta(seconds=2)).isoformat()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.scheduler_process", database_url, slack.base_url, now, "3"],
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
    assert len(slack.calls("chat.postMessage")) == 20
    rows = occurrence_rows(database)
    assert len(rows) == 20 and {r.status for r in rows} == {OccurrenceStatus.POSTED}
