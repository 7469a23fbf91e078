"""Posting by workspace: Slack's per-channel pace, each workspace's own rate, and a 429 that holds
back only the workspace that got it (issue 15).

The end-to-end tests run the real scheduler runtime under OAuth, so that each workspace posts with
its own token, against the fake Web API, which answers 429 to one token only: prepared check-ins of
two workspaces go to the outbox together, and the tests read what the fake received and what the
channels hold. Times are compared only as "not before" and "in this order".
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.app import make_installation_store
from bot.config import Mode, Settings
from bot.messenger import DeliveryError, SlackMessenger
from bot.runtime import Runtime
from bot.usecases.checkins import CHECKIN_EVENT, PreparedCheckin, prepare_due
from db.models import Occurrence, OccurrenceStatus
from db.session import Database
from jobs.poster import ChannelPoster, WorkspaceGate
from tests.clock import FrozenClock
from tests.conftest import SIGNING_SECRET
from tests.fake_slack import Call, FakeSlack
from tests.world import CHECKIN_COUNTING, World, weekly

UTC = dt.UTC
# Tuesday 24 November 2026, 09:00 in Berlin: when every ritual here is due.
DUE = dt.datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
TEAM_A, TEAM_B = "T0ALPHA", "T0BETA"
TOKEN_A, TOKEN_B = "xoxb-alpha", "xoxb-beta"


# -- the gate alone, on plain numbers ------------------------------------------------------------------


def test_a_workspace_gate_lets_a_burst_through_then_spaces_posts_at_its_rate() -> None:
    gate = WorkspaceGate(per_minute=60, burst=3)  # one a second after three at once

    starts = [gate.reserve(100.0) for _ in range(5)]

    assert starts == [100.0, 100.0, 100.0, 101.0, 102.0]
    # Quiet for long enough, it has its burst again.
    assert [gate.reserve(110.0) for _ in range(4)] == [110.0, 110.0, 110.0, 111.0]


def test_after_a_429_a_workspace_gate_opens_at_retry_after_without_a_burst() -> None:
    gate = WorkspaceGate(per_minute=60, burst=3)
    assert gate.reserve(100.0) == 100.0

    gate.block(130.0)  # Slack: Retry-After 30

    assert [gate.reserve(101.0) for _ in range(3)] == [130.0, 131.0, 132.0]
    # Back to as new once the last post reserved is a spacing behind.
    assert not gate.at_rest(134.9) and gate.at_rest(135.0)


# -- the poster alone, with sends that stand in for Slack --------------------------------------------


def test_a_send_refused_for_now_runs_again_after_retry_after_before_the_channels_next_one() -> None:
    poster = ChannelPoster(threads=4, interval=0.0, workspace_per_minute=None)
    ran: list[tuple[str, float]] = []
    refusals = [0.3]  # the first try of "first" is refused with Retry-After 0.3 s

    def first() -> None:
        ran.append(("first", time.monotonic()))
        if refusals:
            poster.rate_limited(refusals.pop())
            return
        poster.answered()

    def second() -> None:
        ran.append(("second", time.monotonic()))
        poster.answered()

    submitted = time.monotonic()
    poster.submit("C1", first, workspace="T1")
    poster.submit("C1", second, workspace="T1")
    assert poster.join(10)
    poster.stop(0)

    assert [name for name, _ in ran] == ["first", "first", "second"]
    assert ran[1][1] - submitted >= 0.3


def test_stopping_gives_back_a_send_that_waits_for_its_retry_after() -> None:
    poster = ChannelPoster(threads=2, interval=0.0, workspace_per_minute=None)
    tries: list[str] = []
    given_back = threading.Event()
    tried = threading.Event()

    def send() -> None:
        tries.append("try")
        poster.rate_limited(60.0)
        tried.set()

    poster.submit("C1", send, abandon=given_back.set, workspace="T1")
    assert tried.wait(5)

    assert poster.stop(timeout=0.2) == 1  # abandoned, not run again
    assert given_back.is_set() and tries == ["try"] and poster.pending == 0


# -- check-ins of two workspaces, through the scheduler's outbox ---------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
def world(database: Database, clock: FrozenClock) -> World:
    world = World(database, clock, ritual_defaults=CHECKIN_COUNTING)
    world.tokens(TEAM_A, bot_token=TOKEN_A)
    world.tokens(TEAM_B, bot_token=TOKEN_B)
    return world


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.auto_channels = True  # any C… channel exists, with Tandem in it
    fake_slack.add_user("U_CREATOR")
    return fake_slack


class PostLog:
    """The real messenger, noting when each post started and ended, and whether Slack refused it
    for now (a 429): what the poster did, beside what the fake received."""

    def __init__(self, inner: SlackMessenger) -> None:
        self.inner = inner
        self.posts: list[tuple[str, float, float, bool]] = []  # (team, started, ended, refused)
        self._lock = threading.Lock()

    def post(self, team_id: str, channel_id: str, **kwargs: Any) -> str:
        started, refused = time.monotonic(), False
        try:
            return self.inner.post(team_id, channel_id, **kwargs)
        except DeliveryError as exc:
            refused = exc.retry_after is not None
            raise
        finally:
            with self._lock:
                self.posts.append((team_id, started, time.monotonic(), refused))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def oauth_runtime(
    fake: FakeSlack,
    database: Database,
    database_url: str,
    clock: FrozenClock,
    *,
    per_minute: float,
    interval: float = 0.0,
) -> Runtime:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_client_id="1.2",
        slack_client_secret="secret",  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_api_url=fake.base_url,
        database_url=database_url,
        tandem_workspace_posts_per_minute=per_minute,
    )
    messenger = PostLog(SlackMessenger(settings, Mode.OAUTH, make_installation_store(settings, database)))
    return Runtime(
        settings,
        Mode.OAUTH,
        with_app=False,
        with_scheduler=True,
        clock=clock,
        poster_interval=interval,
        messenger=messenger,  # type: ignore[arg-type]  # PostLog forwards the rest by __getattr__
    )


@pytest.fixture
def runtime_factory(
    slack: FakeSlack, database: Database, database_url: str, clock: FrozenClock
) -> Iterator[Any]:
    made: list[Runtime] = []

    def make(*, per_minute: float, interval: float = 0.0) -> Runtime:
        made.append(
            oauth_runtime(slack, database, database_url, clock, per_minute=per_minute, interval=interval)
        )
        return made[-1]

    yield make
    for runtime in made:
        runtime.close()


def due_checkins(database: Database, clock: FrozenClock, ritual_ids: list[int]) -> list[PreparedCheckin]:
    clock.set(DUE + dt.timedelta(seconds=1))
    prepared: list[PreparedCheckin] = []
    for ritual_id in ritual_ids:
        with database.begin() as session:
            prepared += prepare_due(session, ritual_id, now=clock.now(), grace=dt.timedelta(hours=2))
    return prepared


def post_all(runtime: Runtime, checkins: list[PreparedCheckin]) -> float:
    """Hand every check-in to the outbox at once (as a due minute does); when that was."""
    submitted = time.monotonic()
    for checkin in checkins:
        runtime.outbox.submit(checkin)
    assert runtime.outbox.join(60)
    return submitted


def wait_until(found: Callable[[], float | None], timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    while (value := found()) is None:
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)
    return value


def posts(fake: FakeSlack, token: str) -> list[Call]:
    return sorted((c for c in fake.calls("chat.postMessage") if c.token == token), key=lambda c: c.at)


def checkins_held(fake: FakeSlack) -> dict[str, list[str]]:
    """The occurrence ids of the check-ins each channel holds."""
    held: dict[str, list[str]] = {}
    for (channel, _), message in sorted(fake.messages.items(), key=lambda item: float(item[0][1])):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == CHECKIN_EVENT:
            held.setdefault(channel, []).append(str(metadata["event_payload"]["id"]))
    return held


def statuses(database: Database) -> dict[int, OccurrenceStatus]:
    with database.begin() as session:
        return {o.id: o.status for o in session.scalars(select(Occurrence))}


def test_a_429_in_one_workspace_holds_back_that_workspace_only_and_its_checkins_go_out_once_after_retry_after(
    runtime_factory: Any, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    runtime = runtime_factory(per_minute=0)  # Slack's own 429 is the only limit here
    cadence = weekly(at=dt.time(9))
    # Workspace A: two rituals in CA0 (one after the other), one each in CA1 and CA2; B: three channels.
    a_ids = [world.ritual(team_id=TEAM_A, channel="CA0", name=f"A{i}", cadence=cadence) for i in range(2)]
    a_ids += [
        world.ritual(team_id=TEAM_A, channel=f"CA{i}", name=f"A{i + 1}", cadence=cadence) for i in (1, 2)
    ]
    b_ids = [world.ritual(team_id=TEAM_B, channel=f"CB{i}", name=f"B{i}", cadence=cadence) for i in range(3)]
    checkins = due_checkins(database, clock, a_ids + b_ids)
    assert len(checkins) == 7
    # A's first post is refused: "rate limited, come back in 2 s". B's token is never refused.
    slack.fail("chat.postMessage", status=429, retry_after=2, times=1, token=TOKEN_A)
    poster = runtime.outbox.poster
    first, *others = checkins  # A0, in CA0

    runtime.outbox.submit(first)
    held_until = wait_until(lambda: poster.held_until(TEAM_A))
    post_all(runtime, others)  # the rest of the due minute, A's and B's

    a_posts, b_posts = posts(slack, TOKEN_A), posts(slack, TOKEN_B)
    refused, *a_after = a_posts
    assert len(a_after) == 4 and len(b_posts) == 3  # 4 + 3 posted, plus the one refused
    # While A was held back, none of its posts started, in any of its channels...
    log: PostLog = runtime.outbox.messenger
    assert [p for p in log.posts if p[3]] == [p for p in log.posts if p[0] == TEAM_A and p[1] < held_until]
    assert min(c.at for c in a_after) >= refused.at + 2.0
    # ...and the refused check-in went out again after it, once, before its channel's next one.
    in_ca0 = [c for c in a_after if c.params["channel"] == "CA0"]
    assert len(in_ca0) == 2 and in_ca0[0].params["metadata"] == refused.params["metadata"]
    # Workspace B's posts were not held back by it: all in before A's first one after the 429.
    assert max(c.at for c in b_posts) < a_after[0].at
    held = checkins_held(slack)
    assert {channel: len(ids) for channel, ids in held.items()} == {
        "CA0": 2,
        "CA1": 1,
        "CA2": 1,
        "CB0": 1,
        "CB1": 1,
        "CB2": 1,
    }
    assert held["CA0"][0] == str(refused.params["metadata"]["event_payload"]["id"])
    assert set(statuses(database).values()) == {OccurrenceStatus.POSTED}


def test_a_workspace_posts_at_its_rate_after_its_burst_and_another_workspace_is_not_held_back(
    runtime_factory: Any, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    runtime = runtime_factory(per_minute=30)  # one post every 2 s after the burst of 10
    cadence = weekly(at=dt.time(9))
    a_ids = [world.ritual(team_id=TEAM_A, channel=f"CA{i}", name=f"A{i}", cadence=cadence) for i in range(12)]
    b_ids = [world.ritual(team_id=TEAM_B, channel=f"CB{i}", name=f"B{i}", cadence=cadence) for i in range(3)]
    checkins = due_checkins(database, clock, a_ids + b_ids)

    submitted = post_all(runtime, checkins)

    a_posts, b_posts = posts(slack, TOKEN_A), posts(slack, TOKEN_B)
    assert len(a_posts) == 12 and len(b_posts) == 3
    # A's eleventh post started no sooner than one spacing after the burst, its twelfth two.
    assert a_posts[10].at - submitted >= 2.0
    assert a_posts[11].at - submitted >= 4.0
    # B, in the same due minute, did not wait behind A's rate.
    assert max(c.at for c in b_posts) < a_posts[10].at
    assert set(statuses(database).values()) == {OccurrenceStatus.POSTED}
    assert sorted(checkins_held(slack)) == sorted(
        [f"CA{i}" for i in range(12)] + [f"CB{i}" for i in range(3)]
    )


def test_one_message_a_second_per_channel_holds_across_workspaces_and_their_gates(
    runtime_factory: Any, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    runtime = runtime_factory(per_minute=600, interval=0.3)
    cadence = weekly(at=dt.time(9))
    ids = [world.ritual(team_id=TEAM_A, channel="CA0", name=f"A{i}", cadence=cadence) for i in range(3)]
    ids += [world.ritual(team_id=TEAM_B, channel="CB0", name=f"B{i}", cadence=cadence) for i in range(3)]
    checkins = due_checkins(database, clock, ids)

    post_all(runtime, checkins)

    for token in (TOKEN_A, TOKEN_B):
        arrivals = [c.at for c in posts(slack, token)]
        assert len(arrivals) == 3
        # The next message into a channel starts `interval` after the previous one started (and not
        # before Slack answered it): arrivals are that far apart, give or take the fake's jitter.
        assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.3 * 0.9
    # The two channels were served side by side, not one after the other.
    assert posts(slack, TOKEN_B)[0].at < posts(slack, TOKEN_A)[-1].at


def test_a_burst_across_channels_is_posted_once_each_with_fewer_write_transactions_than_check_ins(
    runtime_factory: Any, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    # Each check-in's lease is taken before its post and its ts recorded after it, but the posting
    # threads doing so at the same moment share transactions (Database.together): on SQLite, 10,000
    # check-ins had been 20,000 write transactions in a row (bench/README.md, "burst10k").
    runtime = runtime_factory(per_minute=0)
    slack.latency = 0.05  # the posts overlap, as they do with Slack a network away
    cadence = weekly(at=dt.time(9))
    ids = [
        world.ritual(team_id=team, channel=f"C{team[-4:]}{i}", name=f"R{team}{i}", cadence=cadence)
        for team in (TEAM_A, TEAM_B)
        for i in range(20)
    ]
    checkins = due_checkins(database, clock, ids)
    assert len(checkins) == 40
    commits = [0]

    @event.listens_for(runtime.outbox.database.engine, "commit")
    def counted(_conn: object) -> None:
        commits[0] += 1

    post_all(runtime, checkins)

    held = checkins_held(slack)
    assert sorted(i for ids_ in held.values() for i in ids_) == sorted(str(c.occurrence_id) for c in checkins)
    assert all(len(ids_) == 1 for ids_ in held.values()) and len(held) == 40
    assert set(statuses(database).values()) == {OccurrenceStatus.POSTED}
    # Two writes per check-in: 80 commits if each had its own transaction (measured: 20 to 35, quiet or
    # with two other processes spinning on this 2-core machine).
    assert 0 < commits[0] <= 60
