"""Pulse polls driven the way Slack drives them: signed clicks and commands, the fake Web API's record."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot import ids
from bot.blocks.pulse import encode_answer
from db.models import (
    Occurrence,
    Person,
    Pulse,
    PulseBallot,
    PulseQuestion,
    PulseReminder,
    PulseVote,
    Side,
    Workspace,
)
from db.pulses import answer_counts, answered_count
from db.rituals import RitualSpec, create_ritual
from db.session import Database
from jobs.cadence import Cadence, CadenceKind
from jobs.pulses import close_due, open_pulse_for, send_reminders
from tests.conftest import RunningApp
from tests.fake_slack import FakeSlack

_names = itertools.count()
MARKETING = ("U_M1", "U_M2", "U_M3")
IT = ("U_I1", "U_I2", "U_I3")


@dataclass
class PulseWorld:
    app: RunningApp
    ritual_id: int
    pulse_id: int

    def click(self, user: str, question: PulseQuestion, score: int, *, opaque: bool = False, **kw):  # type: ignore[no-untyped-def]
        # Slack's response_urls carry no user id; `opaque` keeps the test's own names from adding one.
        name = f"r{next(_names)}" if opaque else f"{user}-{question.value}-{score}"
        return self.app.slack.block_action(
            f"{ids.ACTION_PULSE_ANSWER_PREFIX}:{question.value}:{score}",
            value=encode_answer(self.pulse_id, question, score),
            user_id=user,
            channel_id="C_SHARED",
            response_url=self.app.fake.response_url(name),
            **kw,
        )

    def pulse(self) -> Pulse:
        with self.app.services.database.begin() as session:
            pulse = session.get(Pulse, self.pulse_id)
            assert pulse is not None
            return pulse

    def tallies(self) -> dict[tuple[str, str, int], int]:
        """What the pulse counts: the ballots while it is open, the tallies once it closed."""
        with self.app.services.database.read() as session:
            counts = answer_counts(session, self.pulse())
        return {(q.value, s.value, score): n for (q, s, score), n in counts.items()}

    def close(self) -> None:
        services = self.app.services
        self.app.clock.set(self.pulse().closes_at + dt.timedelta(seconds=1))
        assert services.messenger is not None
        close_due(
            services.database, services.messenger, now=services.clock.now(), settings=services.pulse_settings
        )


def make_ritual(database: Database, now: dt.datetime, *, anonymous: bool = True, team: str = "T0001") -> int:
    spec = RitualSpec(
        channel_id="C_SHARED",
        name="Weekly sync",
        cadence=Cadence(kind=CadenceKind.weekly, weekday=1, time_of_day=dt.time(9), timezone="Europe/Berlin"),
        marketing=MARKETING,
        it=IT,
        pulse_anonymous=anonymous,
    )
    with database.begin() as session:
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == team)).one_or_none()
        if workspace is None:
            workspace = Workspace(team_id=team)
            session.add(workspace)
            session.flush()
        return create_ritual(session, workspace, spec, created_by="U_M1", now=now).id


@pytest.fixture
def world(running_app: RunningApp) -> PulseWorld:
    fake = running_app.fake
    fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    services = running_app.services
    ritual_id = make_ritual(services.database, running_app.clock.now())
    assert services.messenger is not None and services.checkins is not None
    pulse_id = open_pulse_for(
        services.database,
        services.messenger,
        services.checkins.send,
        ritual_id=ritual_id,
        owner="U_M1",
        now=running_app.clock.now(),
        settings=services.pulse_settings,
    )
    assert pulse_id is not None
    running_app.settle()
    return PulseWorld(running_app, ritual_id, pulse_id)


def ephemeral_to(fake: FakeSlack, name: str) -> dict:
    (call,) = fake.wait_for("response_url", lambda c: c.path == f"/response/{name}")
    return call.params


def test_the_pulse_message_asks_both_questions_with_one_click_answers(world: PulseWorld) -> None:
    (post,) = world.app.fake.calls("chat.postMessage")
    buttons = [e for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    answers = [b for b in buttons if b["action_id"].startswith(ids.ACTION_PULSE_ANSWER_PREFIX)]
    assert len(answers) == 10 and len({b["action_id"] for b in answers}) == 10
    assert world.pulse().message_ts == post.params.get("ts") or world.pulse().message_ts


def test_a_click_counts_for_the_clickers_side_and_can_be_changed(world: PulseWorld) -> None:
    assert world.click("U_M1", PulseQuestion.PARTNER, 2).status_code == 200
    world.app.drain()
    first = ephemeral_to(world.app.fake, "U_M1-partner-2")
    assert first["response_type"] == "ephemeral" and "2" in first["text"]
    assert world.tallies() == {("partner", "marketing", 2): 1}

    world.click("U_M1", PulseQuestion.PARTNER, 4)
    world.app.drain()
    assert world.tallies() == {("partner", "marketing", 4): 1}  # replaced, not added
    world.click("U_I1", PulseQuestion.PARTNER, 5)
    world.click("U_I1", PulseQuestion.LEVEL, 3)
    world.app.drain()
    assert world.tallies() == {
        ("partner", "marketing", 4): 1,
        ("partner", "it", 5): 1,
        ("level", "it", 3): 1,
    }
    # The channel message shows how many answered, never a score or an average.
    update = world.app.fake.wait_for(
        "chat.update", lambda c: "2 people have answered" in json.dumps(c.params["blocks"])
    )[-1]
    shown = update.params["text"] + json.dumps(update.params["blocks"])
    assert not re.search(r"\d\.\d|/ ?5\b|average", shown, re.IGNORECASE)


def test_someone_unknown_is_asked_their_side_once_and_their_click_is_kept(world: PulseWorld) -> None:
    world.click("U_NEW", PulseQuestion.PARTNER, 3)
    world.app.drain()
    question = ephemeral_to(world.app.fake, "U_NEW-partner-3")
    sides = [e for b in question["blocks"] if b["type"] == "actions" for e in b["elements"]]
    it_button = next(b for b in sides if b["action_id"] == f"{ids.ACTION_PULSE_SIDE_PREFIX}:it")
    assert world.tallies() == {}
    world.app.slack.block_action(
        it_button["action_id"],
        value=it_button["value"],
        user_id="U_NEW",
        response_url=world.app.fake.response_url("side"),
    )
    world.app.drain()
    assert world.tallies() == {("partner", "it", 3): 1}
    assert ephemeral_to(world.app.fake, "side")["replace_original"] is True
    with world.app.services.database.begin() as session:
        assert session.scalars(select(Person.side).where(Person.slack_user_id == "U_NEW")).one() is Side.IT


def test_role_command_and_other_side(world: PulseWorld) -> None:
    assert "IT side" in world.app.slack.command("role it", user_id="U_X").json()["text"]
    bad = world.app.slack.command("role finance", user_id="U_X").json()
    assert "marketing, it or other" in bad["text"] and "/tandem role marketing" in bad["text"]
    world.app.slack.command("role other", user_id="U_X")
    world.click("U_X", PulseQuestion.PARTNER, 3)
    world.click("U_X", PulseQuestion.LEVEL, 2)
    world.app.drain()
    assert world.tallies() == {("level", "other", 2): 1}


@pytest.mark.parametrize("value", ["banana", "1:partner:9", "1:partner:0", "x:level:3", "1:nonsense:3"])
def test_malformed_clicks_store_nothing(world: PulseWorld, value: str) -> None:
    response = world.app.slack.block_action(
        f"{ids.ACTION_PULSE_ANSWER_PREFIX}:partner:3",
        value=value,
        user_id="U_M1",
        response_url=world.app.fake.response_url("bad"),
    )
    assert response.status_code == 200
    world.app.drain()
    assert "nothing was stored" in ephemeral_to(world.app.fake, "bad")["text"]
    assert world.tallies() == {}


def test_forged_replayed_and_foreign_clicks_store_nothing(world: PulseWorld) -> None:
    assert world.click("U_M1", PulseQuestion.PARTNER, 3, signature="v0=" + "0" * 64).status_code == 401
    assert world.click("U_M1", PulseQuestion.PARTNER, 3, timestamp=int(time.time()) - 600).status_code == 401
    foreign = world.click("U_M1", PulseQuestion.PARTNER, 3, team_id="T_OTHER")
    assert foreign.status_code == 200
    world.app.drain()
    assert world.tallies() == {}


def test_closing_posts_results_in_the_thread_and_later_clicks_are_told_politely(world: PulseWorld) -> None:
    for user, score in zip(MARKETING, (2, 3, 3), strict=True):
        world.click(user, PulseQuestion.PARTNER, score)
        world.click(user, PulseQuestion.LEVEL, 2)
    for user, score in zip(IT, (4, 4, 5), strict=True):
        world.click(user, PulseQuestion.PARTNER, score)
        world.click(user, PulseQuestion.LEVEL, 4)
    world.app.drain()
    pulse = world.pulse()
    world.close()
    results = world.app.fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == pulse.thread_ts
    )[-1]
    rendered = results.params["text"] + json.dumps(results.params["blocks"])
    assert "2.67" in rendered or "2.7" in rendered  # marketing's view of IT
    assert "4.33" in rendered or "4.3" in rendered  # IT's view of marketing
    assert "gap 1.6" in rendered  # the gap, from the figures as shown (4.3 - 2.7)
    closed = world.app.fake.wait_for("chat.update", lambda c: c.params["ts"] == pulse.message_ts)[-1]
    assert not [
        e
        for b in closed.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith(ids.ACTION_PULSE_ANSWER_PREFIX)
    ]
    world.click("U_M1", PulseQuestion.PARTNER, 5)
    world.app.drain()
    assert "closed on" in ephemeral_to(world.app.fake, "U_M1-partner-5")["text"]


def test_a_side_below_three_answers_is_withheld(world: PulseWorld) -> None:
    for user in MARKETING:
        world.click(user, PulseQuestion.PARTNER, 3)
    world.click("U_I1", PulseQuestion.PARTNER, 1)
    world.click("U_I2", PulseQuestion.PARTNER, 2)
    world.app.drain()
    pulse = world.pulse()
    world.close()
    results = world.app.fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == pulse.thread_ts
    )[-1]
    rendered = results.params["text"] + json.dumps(results.params["blocks"])
    assert "too few answers from IT to show without identifying people" in rendered
    assert "1.5" not in rendered


def test_only_the_owner_closes_early(world: PulseWorld) -> None:
    other = world.app.slack.block_action(
        ids.ACTION_PULSE_CLOSE,
        value=str(world.pulse_id),
        user_id="U_I1",
        response_url=world.app.fake.response_url("c1"),
    )
    assert other.status_code == 200
    world.app.drain()
    assert "Only <@U_M1>" in ephemeral_to(world.app.fake, "c1")["text"]
    assert world.pulse().closed_at is None
    world.app.slack.block_action(ids.ACTION_PULSE_CLOSE, value=str(world.pulse_id), user_id="U_M1")
    world.app.drain()
    assert world.pulse().closed_at == world.app.clock.now()


def test_reminders_once_per_person_and_opt_out(world: PulseWorld) -> None:
    world.app.slack.command("reminders off", user_id="U_I3")
    world.click("U_M1", PulseQuestion.PARTNER, 4)
    world.app.drain()
    services = world.app.services
    assert services.messenger is not None
    pulse = world.pulse()
    assert pulse.reminders_due_at is not None
    world.app.clock.set(pulse.reminders_due_at + dt.timedelta(seconds=1))
    assert send_reminders(services.database, services.messenger, now=services.clock.now()) == 4
    assert send_reminders(services.database, services.messenger, now=services.clock.now()) == 0
    dms = {
        c.params["channel"]
        for c in world.app.fake.calls("chat.postMessage")
        if c.params["channel"].startswith("U_")
    }
    assert dms == {"U_M2", "U_M3", "U_I1", "U_I2"}


def test_forget_me_deletes_side_settings_and_named_answers(running_app: RunningApp) -> None:
    running_app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    services = running_app.services
    ritual_id = make_ritual(services.database, running_app.clock.now(), anonymous=False)
    assert services.messenger is not None and services.checkins is not None
    pulse_id = open_pulse_for(
        services.database,
        services.messenger,
        services.checkins.send,
        ritual_id=ritual_id,
        owner="U_M1",
        now=running_app.clock.now(),
        settings=services.pulse_settings,
    )
    running_app.settle()
    w = PulseWorld(running_app, ritual_id, pulse_id)  # type: ignore[arg-type]
    w.click("U_M2", PulseQuestion.PARTNER, 2)
    w.click("U_M2", PulseQuestion.LEVEL, 3)
    running_app.drain()
    ask = running_app.slack.command("forget-me", user_id="U_M2").json()
    confirm = next(
        e
        for b in ask["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.ACTION_FORGET_CONFIRM
    )
    running_app.slack.block_action(
        confirm["action_id"],
        value=confirm.get("value"),
        user_id="U_M2",
        response_url=running_app.fake.response_url("forget"),
    )
    running_app.drain()
    done = ephemeral_to(running_app.fake, "forget")["text"]
    assert "marketing" in done and "2" in done
    with services.database.begin() as session:
        assert session.scalars(select(Person).where(Person.slack_user_id == "U_M2")).first() is None
        assert session.scalar(select(func.count()).select_from(PulseVote)) == 0
    assert w.tallies() == {}


def _text_of(value: object) -> str:
    return json.dumps(value, default=str)


def test_anonymous_pulse_leaves_nothing_that_ties_an_answer_to_a_person(
    world: PulseWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    voters = (*MARKETING, *IT)
    for i, user in enumerate(voters):
        world.click(user, PulseQuestion.PARTNER, 1 + i % 5, opaque=True)
        world.click(user, PulseQuestion.LEVEL, 5 - i % 5, opaque=True)
    world.app.drain()
    world.close()
    world.app.settle()
    database = world.app.services.database
    assert world.pulse().ballot_salt is None
    # Every table: no row of a pulse table holds a voter, a salt or a hash of a voter.
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(PulseBallot)) == 0
        assert session.scalar(select(func.count()).select_from(PulseReminder)) == 0
        assert session.scalar(select(func.count()).select_from(PulseVote)) == 0
        from db.base import Base

        for table in Base.metadata.sorted_tables:
            if not table.name.startswith("pulse"):
                continue
            # The owner who started the pulse is named (they may close it); nothing else is.
            columns = [c for c in table.columns if c.name != "owner"]
            dump = _text_of([tuple(r) for r in session.execute(select(*columns)).all()])
            for user in voters:
                assert user not in dump, (table.name, user)
    # Messages: the results and the closed message name nobody who answered.
    for call in world.app.fake.calls():
        if call.method in ("chat.postMessage", "chat.update") and call.params.get("channel") == "C_SHARED":
            rendered = _text_of(call.params)
            for user in voters:
                if user != "U_M1":  # the owner is named as the one who may close it
                    assert user not in rendered
    # Logs: no line names a voter.
    for record in caplog.records:
        for user in voters:
            assert user not in record.getMessage()


@pytest.mark.parametrize("listener_threads", [16])  # as `tandem serve` runs: clicks write concurrently
def test_500_people_answer_one_pulse_within_a_minute(running_app: RunningApp, listener_threads: int) -> None:
    running_app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    services = running_app.services
    ritual_id = make_ritual(services.database, running_app.clock.now())
    users = [f"U{i:04d}" for i in range(500)]
    with services.database.begin() as session:
        ws = session.scalars(select(Workspace)).one()
        for i, user in enumerate(users[:450]):  # 50 are unknown: their first click asks their side
            session.add(
                Person(workspace_id=ws.id, slack_user_id=user, side=Side.MARKETING if i % 2 else Side.IT)
            )
    assert services.messenger is not None and services.checkins is not None
    pulse_id = open_pulse_for(
        services.database,
        services.messenger,
        services.checkins.send,
        ritual_id=ritual_id,
        owner="U_M1",
        now=running_app.clock.now(),
        settings=services.pulse_settings,
    )
    running_app.settle()
    running_app.fake.clear()
    w = PulseWorld(running_app, ritual_id, pulse_id)  # type: ignore[arg-type]
    base = time.time()

    def clicks(i: int) -> list[float]:
        user, slack = users[i], running_app.slack.clone()
        took = []
        # A first answer and a change of mind, each acknowledged on its own. Neighbours change in
        # opposite directions (1 -> 3 and 3 -> 5, ...), so concurrent changes cross each other.
        for n, score in enumerate((1 + i % 5, 1 + (i + 2) % 5)):
            stamp = f"{base + i * 0.001 + n * 0.0005:.6f}"
            value = encode_answer(pulse_id, PulseQuestion.PARTNER, score)  # type: ignore[arg-type]
            action_id = f"{ids.ACTION_PULSE_ANSWER_PREFIX}:partner:{score}"
            if i >= 450 and n == 1:
                # Someone unknown, asked their side after their first click, answers "IT" to the
                # side question that carries their new answer: it counts, for IT.
                action_id = f"{ids.ACTION_PULSE_SIDE_PREFIX}:it"
            started = time.monotonic()
            r = slack.block_action(action_id, value=value, user_id=user, action_extra={"action_ts": stamp})
            took.append(time.monotonic() - started)
            assert r.status_code == 200
        slack.close()
        return took

    with ThreadPoolExecutor(max_workers=32) as pool:
        latencies = [t for ts in pool.map(clicks, range(500)) for t in ts]
    # Each click is confirmed to its clicker once its answer is stored: wait for all 1,000.
    confirmations = running_app.fake.wait_for("response_url", count=1000, timeout=120)
    assert len(confirmations) == 1000
    assert max(latencies) < 3.0  # every click acknowledged within Slack's limit
    expected: dict[tuple[str, str, int], int] = {}
    for i in range(500):
        side = "it" if i >= 450 or i % 2 == 0 else "marketing"
        key = ("partner", side, 1 + (i + 2) % 5)
        expected[key] = expected.get(key, 0) + 1
    assert w.tallies() == expected  # the latest answer of each person, each exactly once
    with services.database.read() as session:
        assert session.scalar(select(func.count()).select_from(PulseBallot)) == 500
        assert answered_count(session, w.pulse()) == 500
    # The channel message's count catches up with everyone, and never shows a figure.
    update = running_app.fake.wait_for(
        "chat.update", lambda c: "500 people have answered" in json.dumps(c.params["blocks"]), timeout=30
    )[-1]
    assert not re.search(r"\d\.\d|/ ?5\b", json.dumps(update.params["blocks"]))
    w.close()
    assert w.tallies() == expected  # counted into the tallies at close, exactly as the ballots said


def test_a_checkin_brings_its_pulse_in_the_channel_and_the_next_shows_the_last_pulse(
    world: PulseWorld,
) -> None:
    app = world.app
    for user, score in zip(MARKETING, (2, 3, 3), strict=True):
        world.click(user, PulseQuestion.PARTNER, score)
    for user, score in zip(IT, (4, 4, 5), strict=True):
        world.click(user, PulseQuestion.PARTNER, score)
    app.drain()
    world.close()
    app.settle()
    app.fake.clear()
    answer = app.slack.command("now", user_id="U_M1", channel_id="C_SHARED").json()
    assert "Posting" in answer["text"]
    app.settle()
    checkin, pulse_message = app.fake.wait_for("chat.postMessage", count=2)[:2]
    agenda = json.dumps(checkin.params["blocks"])
    assert "Last pulse" in agenda and "Marketing's view of IT 2.7/5" in agenda and "Gap 1.6" in agenda
    assert any(
        e["action_id"].startswith(ids.ACTION_PULSE_ANSWER_PREFIX)
        for b in pulse_message.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )
    # Its results will go into the check-in's thread.
    with app.services.database.begin() as session:
        newest = session.scalars(select(Pulse).order_by(Pulse.id.desc())).first()
        checkin_ts = session.scalars(select(Occurrence.message_ts).where(Occurrence.manual.is_(True))).one()
        assert newest is not None and newest.thread_ts == checkin_ts and newest.occurrence_id is not None
