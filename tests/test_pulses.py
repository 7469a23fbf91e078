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
from bot.usecases.pulses import close_due, open_pulse, send_reminders
from db.models import (
    Occurrence,
    Person,
    Pulse,
    PulseBallot,
    PulseQuestion,
    PulseReminder,
    PulseVote,
    Side,
)
from db.pulses import answer_counts, answered_count
from tests.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.world import World

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
            response_url=kw.pop("response_url", None) or self.app.fake.response_url(name),
            **kw,
        )

    def partner_scores(self, marketing: tuple[int, ...], it: tuple[int, ...]) -> None:
        """Each of MARKETING and IT rates the other side, in order, then the clicks are processed."""
        for users, scores in ((MARKETING, marketing), (IT, it)):
            for user, score in zip(users, scores, strict=True):
                self.click(user, PulseQuestion.PARTNER, score)
        self.app.drain()

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
        close_due(services, now=services.clock.now())


def make_ritual(app: RunningApp, *, anonymous: bool = True, team: str = "T0001", window: int = 24) -> int:
    """The ritual these pulses belong to: MARKETING and IT, set up by U_M1."""
    return World(app.services.database, app.clock).ritual(
        team_id=team, marketing=MARKETING, it=IT, pulse_anonymous=anonymous, pulse_window_hours=window
    )


def start_pulse(app: RunningApp, ritual_id: int | None = None, **ritual: object) -> PulseWorld:
    """Open a pulse as a check-in would (for a new ritual made with `ritual`'s options, unless given
    one) and wait until its message is posted."""
    app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    services = app.services
    if ritual_id is None:
        ritual_id = make_ritual(app, **ritual)  # type: ignore[arg-type]
    pulse_id = open_pulse(services, ritual_id, owner="U_M1")
    assert pulse_id is not None
    app.settle()
    return PulseWorld(app, ritual_id, pulse_id)


# The default pulse opens Monday 09:00 UTC and reminds Tuesday 05:00 UTC. Its members work in Tokyo
# (14:00 then), so its reminders go out at once; quiet hours have their own tests
# (tests/test_quiet_hours.py).
AWAKE_AT_REMINDER = "Asia/Tokyo"


@pytest.fixture
def world(running_app: RunningApp) -> PulseWorld:
    people = World(running_app.services.database, running_app.clock)
    for user in MARKETING + IT:
        people.person(user, timezone=AWAKE_AT_REMINDER)
    return start_pulse(running_app)


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
    assert send_reminders(services, now=services.clock.now()) == 4
    assert send_reminders(services, now=services.clock.now()) == 0
    dms = {
        c.params["channel"]
        for c in world.app.fake.calls("chat.postMessage")
        if c.params["channel"].startswith("U_")
    }
    assert dms == {"U_M2", "U_M3", "U_I1", "U_I2"}


def forget_me(app: RunningApp, user: str) -> str:
    """`/tandem forget-me`, then its confirmation button; what the person is told was deleted."""
    ask = app.slack.command("forget-me", user_id=user).json()
    confirm = next(
        e
        for b in ask["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.ACTION_FORGET_CONFIRM
    )
    app.slack.block_action(
        confirm["action_id"],
        value=confirm.get("value"),
        user_id=user,
        response_url=app.fake.response_url("forget"),
    )
    app.drain()
    return ephemeral_to(app.fake, "forget")["text"]


def test_forget_me_deletes_side_settings_and_named_answers(running_app: RunningApp) -> None:
    w = start_pulse(running_app, anonymous=False)
    services = running_app.services
    w.click("U_M2", PulseQuestion.PARTNER, 2)
    w.click("U_M2", PulseQuestion.LEVEL, 3)
    running_app.drain()
    done = forget_me(running_app, "U_M2")
    assert "marketing" in done and "2" in done
    with services.database.begin() as session:
        assert session.scalars(select(Person).where(Person.slack_user_id == "U_M2")).first() is None
        assert session.scalar(select(func.count()).select_from(PulseVote)) == 0
    assert w.tallies() == {}


def _text_of(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


# Tables that name people but hold no answer: who is on which side, who runs which ritual, who owns
# a pulse (may close it early), who opened a Home tab. An answer must never sit in a row next to a name.
NAMING_TABLES = {"people", "ritual_members", "rituals", "pulses", "occurrences", "workspaces"}


def test_anonymous_pulse_leaves_nothing_that_ties_an_answer_to_a_person(
    world: PulseWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    app, fake = world.app, world.app.fake
    voters = (*MARKETING, *IT)
    for i, user in enumerate(voters[:-1]):
        world.click(user, PulseQuestion.PARTNER, 1 + i % 5, opaque=True)
        world.click(user, PulseQuestion.LEVEL, 5 - i % 5, opaque=True)
    world.click("U_I1", PulseQuestion.PARTNER, 2, opaque=True)  # a change of mind
    # Someone unknown answers, is asked their side, and answers it: their answer counts for IT.
    world.click("U_NEW", PulseQuestion.LEVEL, 4, response_url=fake.response_url("ask"))
    app.drain()
    side_button = next(
        e
        for b in fake.responses("ask")[-1]["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].endswith(":it")
    )
    app.slack.block_action(
        side_button["action_id"],
        value=side_button["value"],
        user_id="U_NEW",
        response_url=fake.response_url(),
    )
    app.drain()
    # One member (the last IT voter) hasn't answered: a reminder goes out before the pulse closes.
    services = app.services
    assert services.messenger is not None
    reminders_due = world.pulse().reminders_due_at
    assert reminders_due is not None
    app.clock.set(reminders_due + dt.timedelta(seconds=1))
    assert send_reminders(services, now=services.clock.now()) == 1
    world.close()
    app.settle()
    everyone = (*voters, "U_NEW")
    assert world.pulse().ballot_salt is None
    assert world.tallies()[("level", "it", 4)] >= 1  # U_NEW's answer was counted

    # Every table: no row that holds an answer names anyone, and no pulse row holds a hash of a voter.
    with services.database.read() as session:
        assert session.scalar(select(func.count()).select_from(PulseBallot)) == 0
        assert session.scalar(select(func.count()).select_from(PulseReminder)) == 0
        assert session.scalar(select(func.count()).select_from(PulseVote)) == 0
        from db.base import Base

        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table)).all()
            for row in rows:
                cells = [str(v) for v in row]
                named = [user for user in everyone if any(user in cell for cell in cells)]
                if table.name in NAMING_TABLES:
                    continue
                assert not named, (table.name, row)
            if table.name.startswith("pulse_"):
                # Nothing that could be a keyed hash of a person survives (64 hex characters).
                assert not any(re.fullmatch(r"[0-9a-f]{64}", str(v)) for row in rows for v in row), table.name

    # The export: a CSV of figures that names nobody who answered.
    fake.clear()
    app.slack.command("export", user_id="U_M1", channel_id="C_SHARED")
    app.settle()
    fake.wait_for("files.completeUploadExternal")
    (csv_data,) = fake.uploads.values()
    exported = csv_data.decode()
    assert "partner" in exported
    for user in everyone:
        assert user not in exported

    # Messages and Home tabs: whatever Slack was sent names no voter next to an answer. The only
    # messages that name a voter are those sent to the voter themself (their reminder DM).
    for call in fake.calls():
        if call.method == "response_url":
            continue  # ephemeral replies go back to the one who clicked, through Slack's own URL
        rendered = _text_of(call.params)
        recipient = call.params.get("channel") or call.params.get("user_id") or ""
        for user in everyone:
            if user != recipient and user != "U_M1":  # U_M1 owns the pulse and may be named as such
                assert user not in rendered, (call.method, user)

    # Logs: no line names a voter, and no line carries anyone's answer.
    for record in caplog.records:
        message = record.getMessage()
        assert "You answered" not in message and "changed your answer" not in message
        for user in everyone:
            assert user not in message


def test_pulse_command_shows_the_open_pulse_and_starts_one_once_it_closed(world: PulseWorld) -> None:
    app, fake = world.app, world.app.fake
    for user in MARKETING:
        world.click(user, PulseQuestion.PARTNER, 4)
    app.drain()
    first = world.pulse()
    fake.clear()
    refused = app.slack.command("pulse", user_id="U_OUT", channel_id="C_SHARED").json()
    assert "Only the creator" in refused["text"]
    assert fake.calls("chat.postMessage") == []
    # While it is open, the command shows it (tests/test_less_noise.py) and closes nothing.
    shown = app.slack.command("pulse", user_id="U_I1", channel_id="C_SHARED").json()
    assert "already has a pulse open" in shown["text"]
    app.settle()
    assert world.pulse().closed_at is None and fake.calls("chat.postMessage") == []

    world.close()
    app.settle()
    fake.clear()
    answer = app.slack.command("pulse", user_id="U_I1", channel_id="C_SHARED").json()
    assert "Starting a pulse" in answer["text"]
    app.settle()
    with app.services.database.read() as session:
        newest = session.scalars(select(Pulse).order_by(Pulse.id.desc())).first()
        assert newest is not None and newest.id != first.id and newest.closed_at is None
        assert newest.owner == "U_I1"
    posted = fake.wait_for(
        "chat.postMessage", lambda c: "thread_ts" not in c.params and "actions" in _text_of(c.params)
    )[-1]
    assert any(
        e["action_id"].startswith(ids.ACTION_PULSE_ANSWER_PREFIX)
        for b in posted.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )
    bad = app.slack.command("pulse No such ritual", user_id="U_I1", channel_id="C_SHARED").json()
    assert "can't find a check-in called “No such ritual”" in bad["text"]


def test_pulse_votes_are_for_members_and_only_for_named_pulses(running_app: RunningApp) -> None:
    w = start_pulse(running_app, anonymous=False)
    w.click("U_M2", PulseQuestion.PARTNER, 2)
    w.click("U_I1", PulseQuestion.LEVEL, 5)
    running_app.drain()
    shown = running_app.slack.command("pulse votes", user_id="U_I2", channel_id="C_SHARED").json()
    rendered = _text_of(shown)
    assert "<@U_M2>" in rendered and "Fair" in rendered and "<@U_I1>" in rendered
    refused = running_app.slack.command("pulse votes", user_id="U_OUT", channel_id="C_SHARED").json()
    assert "Only the ritual's members" in refused["text"] and "U_M2" not in _text_of(refused)


def test_anonymous_pulse_votes_show_nobody(world: PulseWorld) -> None:
    world.click("U_M2", PulseQuestion.PARTNER, 2)
    world.app.drain()
    shown = world.app.slack.command("pulse votes", user_id="U_I2", channel_id="C_SHARED").json()
    assert "anonymous" in shown["text"] and "U_M2" not in _text_of(shown)


def test_a_replayed_or_late_click_changes_nothing(world: PulseWorld) -> None:
    fake = world.app.fake
    world.click("U_M1", PulseQuestion.PARTNER, 4, action_extra={"action_ts": "1700000000.000200"})
    world.app.drain()
    # The same click again (Slack retried it, or someone replayed it within the signature window).
    world.click("U_M1", PulseQuestion.PARTNER, 4, action_extra={"action_ts": "1700000000.000200"})
    # An older click arriving late, with another score: the newer answer stands.
    world.click("U_M1", PulseQuestion.PARTNER, 1, action_extra={"action_ts": "1700000000.000100"})
    world.app.drain()
    assert world.tallies() == {("partner", "marketing", 4): 1}
    late = fake.responses("U_M1-partner-1")[-1]
    assert "Good" in late["text"]  # the person is shown the answer that counts (4, "Good")


def test_a_reminder_dm_carries_buttons_that_count(world: PulseWorld) -> None:
    services = world.app.services
    assert services.messenger is not None
    due = world.pulse().reminders_due_at
    assert due is not None
    world.app.clock.set(due + dt.timedelta(seconds=1))
    send_reminders(services, now=services.clock.now())
    dm = next(c for c in world.app.fake.calls("chat.postMessage") if c.params["channel"] == "U_I2")
    button = next(
        e
        for b in dm.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == f"{ids.ACTION_PULSE_ANSWER_PREFIX}:partner:5"
    )
    world.app.slack.block_action(
        button["action_id"],
        value=button["value"],
        user_id="U_I2",
        channel_id="D_I2",
        response_url=world.app.fake.response_url("dm"),
    )
    world.app.drain()
    assert world.tallies() == {("partner", "it", 5): 1}
    assert "Great" in world.app.fake.responses("dm")[-1]["text"]


def test_the_next_pulse_shows_the_change_since_the_previous_one(world: PulseWorld) -> None:
    app, fake = world.app, world.app.fake
    world.partner_scores((2, 2, 2), (4, 4, 4))
    world.close()
    app.settle()
    w2 = start_pulse(app, world.ritual_id)
    w2.partner_scores((3, 3, 3), (4, 4, 4))
    fake.clear()
    w2.close()
    app.settle()
    results = fake.wait_for("chat.postMessage", lambda c: c.params.get("thread_ts") == w2.pulse().thread_ts)[
        -1
    ]
    rendered = _text_of(results.params)
    assert "narrowed by 1.0 since the previous pulse" in rendered  # gap 2.0 -> 1.0
    assert "▲" in rendered  # marketing's score of IT went up


def test_forget_me_takes_back_an_answer_to_an_open_anonymous_pulse(world: PulseWorld) -> None:
    app = world.app
    world.click("U_M2", PulseQuestion.PARTNER, 2)
    world.click("U_M2", PulseQuestion.LEVEL, 3)
    world.click("U_M3", PulseQuestion.PARTNER, 5)
    app.drain()
    done = forget_me(app, "U_M2")
    assert "2 answers to anonymous pulses still open" in done
    assert world.tallies() == {("partner", "marketing", 5): 1}
    world.close()
    assert world.tallies() == {("partner", "marketing", 5): 1}


@pytest.mark.parametrize(
    ("window", "closes"),
    [
        (4, dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)),  # its own window: 4 hours
        # A week would outlast the next check-in (Tuesday 09:00 in Berlin): it closes then instead.
        (168, dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)),
    ],
)
def test_a_pulse_closes_after_its_ritual_window_or_at_the_next_checkin(
    running_app: RunningApp, window: int, closes: dt.datetime
) -> None:
    w = start_pulse(running_app, window=window)
    services = running_app.services
    assert w.pulse().closes_at == closes
    for user in MARKETING:
        w.click(user, PulseQuestion.PARTNER, 3)
    running_app.drain()
    running_app.clock.set(closes - dt.timedelta(seconds=1))
    assert close_due(services, now=services.clock.now()) == 0
    running_app.clock.set(closes)
    assert close_due(services, now=services.clock.now()) == 1
    running_app.settle()
    assert w.pulse().closed_at == closes
    assert running_app.fake.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == w.pulse().thread_ts
    )


def test_the_minimum_of_answers_per_side_is_never_below_three() -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None, tandem_pulse_min_answers=2)
    assert "TANDEM_PULSE_MIN_ANSWERS" in err.value.render()


@pytest.mark.parametrize("listener_threads", [16])  # as `tandem serve` runs: clicks write concurrently
def test_500_people_answer_one_pulse_within_a_minute(running_app: RunningApp, listener_threads: int) -> None:
    running_app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    services = running_app.services
    ritual_id = make_ritual(running_app)
    users = [f"U{i:04d}" for i in range(500)]
    # 50 are unknown: their first click asks their side.
    World(services.database, running_app.clock).people(
        {user: Side.MARKETING if i % 2 else Side.IT for i, user in enumerate(users[:450])}
    )
    pulse_id = open_pulse(services, ritual_id, owner="U_M1")
    running_app.settle()
    running_app.fake.clear()
    w = PulseWorld(running_app, ritual_id, pulse_id)  # type: ignore[arg-type]
    base = running_app.clock.now().timestamp()  # Slack stamps clicks; the frozen clock stands in

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
    world.partner_scores((2, 3, 3), (4, 4, 5))
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


# -- tampered but validly signed payloads ---------------------------------------------------------------


def pulse_rows(app: RunningApp) -> dict[str, list[tuple]]:
    """Every row a pulse click, close or forget-me could change, to compare before and after."""
    with app.services.database.read() as session:
        return {
            model.__tablename__: sorted(tuple(r) for r in session.execute(select(model.__table__)).all())
            for model in (Pulse, PulseBallot, PulseVote, PulseReminder, Person)
        }


def answered(app: RunningApp, name: str) -> str:
    """The ephemeral answer a tampered click got (to the clicker only, never replacing the message)."""
    app.drain()
    told = ephemeral_to(app.fake, name)
    assert told["response_type"] == "ephemeral" and told.get("replace_original") is not True
    return told["text"]


@pytest.mark.parametrize("value", ["abc", "0", "-5", "99999999999999999999", "", "2147483648", "1.5"])
def test_close_with_an_unreadable_pulse_id_answers_and_closes_nothing(world: PulseWorld, value: str) -> None:
    app = world.app
    world.click("U_M2", PulseQuestion.PARTNER, 3)
    app.drain()
    before = pulse_rows(app)
    response = app.slack.block_action(
        ids.ACTION_PULSE_CLOSE, value=value, user_id="U_M1", response_url=app.fake.response_url("close")
    )
    assert response.status_code == 200
    assert "could not be found" in answered(app, "close")
    assert pulse_rows(app) == before
    assert world.pulse().closed_at is None


def test_close_with_another_workspaces_pulse_id_is_not_found(world: PulseWorld) -> None:
    app = world.app
    # Workspace T0002 has its own ritual and pulse, owned by a user with the same id as ours.
    theirs = start_pulse(app, make_ritual(app, team="T0002"))
    theirs.click("U_M2", PulseQuestion.PARTNER, 4, team_id="T0002")
    app.drain()
    before = pulse_rows(app)
    app.fake.clear()
    response = app.slack.block_action(
        ids.ACTION_PULSE_CLOSE,
        value=str(theirs.pulse_id),
        user_id="U_M1",
        response_url=app.fake.response_url("foreign"),
    )
    assert response.status_code == 200
    assert "could not be found" in answered(app, "foreign")
    app.settle()
    assert pulse_rows(app) == before
    assert theirs.pulse().closed_at is None
    assert app.fake.calls("chat.postMessage") == []  # no results posted anywhere


def test_close_of_a_pulse_already_closed_says_when_and_changes_nothing(world: PulseWorld) -> None:
    app = world.app
    world.close()
    app.settle()
    before = pulse_rows(app)
    app.fake.clear()
    app.slack.block_action(
        ids.ACTION_PULSE_CLOSE,
        value=str(world.pulse_id),
        user_id="U_M1",
        response_url=app.fake.response_url("again"),
    )
    assert "closed on" in answered(app, "again")
    app.settle()
    assert pulse_rows(app) == before
    assert app.fake.calls("chat.postMessage") == []  # the results are not posted twice


@pytest.mark.parametrize(
    ("value", "told"),
    [
        ("99999999999999999999:partner:3", "could not be read"),  # past 64 bits
        ("2147483648:partner:3", "could not be read"),  # past the database's integer
        ("-5:partner:3", "could not be read"),
        ("2147483647:partner:3", "not one of this workspace's"),  # in range, but no such pulse
    ],
)
def test_answers_naming_a_huge_or_unknown_pulse_store_nothing(
    world: PulseWorld, value: str, told: str
) -> None:
    app = world.app
    before = pulse_rows(app)
    response = app.slack.block_action(
        f"{ids.ACTION_PULSE_ANSWER_PREFIX}:partner:3",
        value=value,
        user_id="U_NEW",
        response_url=app.fake.response_url("huge"),
    )
    assert response.status_code == 200
    text = answered(app, "huge")
    assert told in text and "nothing was stored" in text
    assert pulse_rows(app) == before


@pytest.mark.parametrize("action_ts", ["abc", "-1", "1e9", "nan", "1700000000.000100.5", 17])
def test_an_answer_with_an_unreadable_action_ts_stores_nothing(world: PulseWorld, action_ts: object) -> None:
    app = world.app
    before = pulse_rows(app)
    world.click(
        "U_M1",
        PulseQuestion.PARTNER,
        4,
        response_url=app.fake.response_url("ts"),
        action_extra={"action_ts": action_ts},
    )
    assert "could not be read" in answered(app, "ts")
    assert pulse_rows(app) == before


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        (f"{ids.ACTION_PULSE_SIDE_PREFIX}:it", "garbage"),
        (f"{ids.ACTION_PULSE_SIDE_PREFIX}:it", ""),
        (f"{ids.ACTION_PULSE_SIDE_PREFIX}:it", "99999999999999999999:level:4"),
        (f"{ids.ACTION_PULSE_SIDE_PREFIX}:it", None),
        (f"{ids.ACTION_PULSE_SIDE_PREFIX}:sales", "{pulse}:level:4"),  # an unknown side
        (f"{ids.ACTION_PULSE_SIDE_PREFIX}:", "{pulse}:level:4"),
    ],
)
def test_side_buttons_with_a_tampered_value_store_nothing(
    world: PulseWorld, action_id: str, value: str | None
) -> None:
    app = world.app
    before = pulse_rows(app)
    response = app.slack.block_action(
        action_id,
        value=value.format(pulse=world.pulse_id) if value is not None else None,
        user_id="U_NEW",
        response_url=app.fake.response_url("side"),
    )
    assert response.status_code == 200
    assert "could not be read" in answered(app, "side")
    assert pulse_rows(app) == before  # no answer, and U_NEW's side is not saved either


def test_a_side_button_naming_another_workspaces_pulse_saves_neither_side_nor_answer(
    world: PulseWorld,
) -> None:
    app = world.app
    theirs = start_pulse(app, make_ritual(app, team="T0002"))
    before = pulse_rows(app)
    app.slack.block_action(
        f"{ids.ACTION_PULSE_SIDE_PREFIX}:it",
        value=encode_answer(theirs.pulse_id, PulseQuestion.LEVEL, 4),
        user_id="U_NEW",
        response_url=app.fake.response_url("side"),
    )
    assert "not one of this workspace's" in answered(app, "side")
    assert pulse_rows(app) == before


@pytest.mark.parametrize("value", ["cancel", "", None, "forget " * 3])
def test_forget_me_confirmed_with_a_tampered_value_deletes_nothing(
    world: PulseWorld, value: str | None
) -> None:
    app = world.app
    world.click("U_M2", PulseQuestion.PARTNER, 2)
    app.slack.command("role it", user_id="U_X")
    app.drain()
    before = pulse_rows(app)
    app.slack.block_action(
        ids.ACTION_FORGET_CONFIRM, value=value, user_id="U_M2", response_url=app.fake.response_url("forget")
    )
    assert "nothing was deleted" in answered(app, "forget")
    assert pulse_rows(app) == before


def test_theme_answers_count_only_where_the_pulse_asked_a_theme_question(running_app: RunningApp) -> None:
    """A pulse opened on demand asks no theme question: a theme click on it (not made on its message)
    stores nothing. A pulse that goes with a check-in on data asks the data pair: marketing's and
    IT's answers count for their side, and other teams are told the question is not theirs."""
    plain = start_pulse(running_app)
    plain.click("U_M1", PulseQuestion.THEME, 2)
    running_app.drain()
    assert "not one of this workspace's" in ephemeral_to(running_app.fake, "U_M1-theme-2")["text"]
    assert plain.tallies() == {}

    services = running_app.services
    pulse_id = open_pulse(services, plain.ritual_id, owner="U_M1", theme="data")
    assert pulse_id is not None
    running_app.settle()
    on_data = PulseWorld(running_app, plain.ritual_id, pulse_id)
    on_data.click("U_M2", PulseQuestion.THEME, 4)
    on_data.click("U_I2", PulseQuestion.THEME, 2)
    running_app.drain()
    assert on_data.tallies() == {("theme", "marketing", 4): 1, ("theme", "it", 2): 1}
    running_app.slack.command("role other", user_id="U_OTHER")
    on_data.click("U_OTHER", PulseQuestion.THEME, 3)
    running_app.drain()
    assert (
        "the theme question are for marketing and IT"
        in ephemeral_to(running_app.fake, "U_OTHER-theme-3")["text"]
    )
    assert on_data.tallies() == {("theme", "marketing", 4): 1, ("theme", "it", 2): 1}
