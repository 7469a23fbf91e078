"""Written check-ins: members answer the check-in's question by DM before it; the answers are posted,
grouped by side and named, in the check-in's thread.

The team: marketing in Los Angeles, IT in Berlin, a weekly check-in on Tuesdays at 09:00 Berlin
(08:00 UTC in November: midnight in Los Angeles), asking 24 hours before. Everything is driven the
way Slack and the scheduler would: signed requests into the running app, the scheduler's minutely
jobs on a frozen clock; what people would see is read from the fake Slack.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

import pytest
from sqlalchemy import select, update

from bot import ids
from bot.blocks.written_answers import ANSWER_MAX, Summary, WrittenEntry, build_summary
from bot.socket_mode import SocketModeService
from db.models import HeldDm, Ritual, Side, Win, WrittenAnswer, WrittenRound
from db.working_hours import DEFAULT
from jobs.scheduler import TandemScheduler
from tests.conftest import RunningApp
from tests.fake_slack import Call, FakeSlack
from tests.fake_socket_mode import FakeSocketMode
from tests.ritual_helpers import setup_values
from tests.test_socket_mode import eventually, fake_socket, service  # noqa: F401 (fixtures used below)
from tests.world import World

LA, LA2, LA3 = "U_LA", "U_LA2", "U_LA3"  # marketing, America/Los_Angeles (UTC-8 in November)
BER, BER2, BER3 = "U_BER", "U_BER2", "U_BER3"  # IT, Europe/Berlin (UTC+1 in November)
EVERYONE = (LA, LA2, LA3, BER, BER2, BER3)
TUESDAY_CHECKIN = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
ZONES = {LA: "America/Los_Angeles", LA2: "America/Los_Angeles", LA3: "America/Los_Angeles"}


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
def team(running_app: RunningApp) -> RunningApp:
    fake = running_app.fake
    fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    for user in (LA, LA2, LA3):
        fake.add_user(user, tz="America/Los_Angeles", name=user.lower(), real_name=f"Real {user}")
    for user in (BER, BER2, BER3):
        fake.add_user(user, tz="Europe/Berlin", name=user.lower(), real_name=f"Real {user}")
    return running_app


def written_ritual(app: RunningApp, **options: Any) -> int:
    return World(app.services.database, app.clock).ritual(
        marketing=(LA, LA2, LA3),
        it=(BER, BER2, BER3),
        written_answers=True,
        pulse_enabled=False,
        now=utc(1, 8),
        **options,
    )


def at(app: RunningApp, scheduler: TandemScheduler, when: dt.datetime) -> None:
    """The clock reaches `when` and the scheduler's minutely jobs run."""
    app.clock.set(when)
    scheduler.written_answers_work()
    scheduler.held_dm_work()


def dms(fake: FakeSlack, user: str) -> list[Call]:
    return [c for c in fake.calls("chat.postMessage") if c.params["channel"] == user]


def questions(fake: FakeSlack, user: str) -> list[Call]:
    return [c for c in dms(fake, user) if c.params["text"].startswith("Before ")]


def reminders(fake: FakeSlack, user: str) -> list[Call]:
    return [c for c in dms(fake, user) if c.params["text"].startswith("Reminder")]


def answer_button(call: Call) -> dict[str, Any]:
    return next(
        e
        for b in call.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.ACTION_WRITTEN_ANSWER
    )


def prompt_of(call: Call) -> str:
    quoted = [b["text"]["text"] for b in call.params["blocks"] if b["type"] == "section"]
    return html.unescape(next(t for t in quoted if t.startswith(">"))[1:])


def click_answer(app: RunningApp, user: str, value: str, *, team_id: str | None = None) -> dict[str, Any]:
    """`user` clicks "Answer" in their DM; the modal Slack was asked to open (or {} if none)."""
    before = len(app.fake.calls("views.open"))
    response = app.slack.block_action(
        ids.ACTION_WRITTEN_ANSWER, value=value, user_id=user, channel_id=f"D_{user}", team_id=team_id
    )
    assert response.status_code == 200
    app.drain()
    opened = app.fake.calls("views.open")[before:]
    return opened[0].params["view"] if opened else {}


def values(answer: str, need: str = "", win: str = "") -> dict[str, Any]:
    def text(action_id: str, value: str) -> dict[str, Any]:
        return {action_id: {"type": "plain_text_input", "value": value or None}}

    return {
        ids.BLOCK_WRITTEN_ANSWER: text(ids.ACTION_WRITTEN_ANSWER_TEXT, answer),
        ids.BLOCK_WRITTEN_NEED: text(ids.ACTION_WRITTEN_NEED, need),
        ids.BLOCK_WRITTEN_WIN: text(ids.ACTION_WRITTEN_WIN, win),
    }


def submit(
    app: RunningApp, user: str, round_id: object, answer: str, need: str = "", win: str = "", **kwargs: Any
) -> dict[str, Any]:
    response = app.slack.view_submission(
        ids.VIEW_WRITTEN_ANSWER,
        values=values(answer, need, win),
        private_metadata=json.dumps({"round_id": round_id}),
        user_id=user,
        **kwargs,
    )
    assert response.status_code == 200
    app.drain()
    return response.json() if response.text else {}


def answers_in_db(app: RunningApp) -> dict[str, str | None]:
    with app.services.database.read() as session:
        rows = session.execute(select(WrittenAnswer).order_by(WrittenAnswer.id)).scalars()
        return {row.person.slack_user_id: row.answer for row in rows}


def checkin(app: RunningApp, scheduler: TandemScheduler, ritual_id: int, *, late: int = 1) -> None:
    app.clock.set(TUESDAY_CHECKIN + dt.timedelta(seconds=late))
    scheduler.fire(ritual_id)
    assert scheduler.outbox.join(10)
    assert scheduler.outbox.join(10)  # what the check-in's post queued behind it


def checkin_post(fake: FakeSlack) -> Call:
    (post,) = [
        c
        for c in fake.calls("chat.postMessage")
        if c.params["channel"] == "C_SHARED" and not c.params.get("thread_ts")
    ]
    return post


def thread_posts(fake: FakeSlack) -> list[Call]:
    return [
        c
        for c in fake.calls("chat.postMessage")
        if c.params["channel"] == "C_SHARED" and c.params.get("thread_ts")
    ]


def everything_said(call: Call) -> str:
    return "\n".join(
        b["text"]["text"]
        if b["type"] == "section"
        else " ".join(e.get("text", "") for e in b.get("elements", []))
        for b in call.params["blocks"]
        if b["type"] in ("section", "context")
    )


# -- the acceptance test ----------------------------------------------------------------------------------


def test_six_are_asked_four_answer_one_edits_and_the_thread_shows_both_sides_and_two_missing(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = written_ritual(team)

    # Monday 07:59 UTC: not yet 24 hours before. 08:00 UTC (09:00 Berlin, midnight in Los Angeles):
    # Berlin is asked at once, Los Angeles is held until its morning.
    at(team, scheduler, utc(23, 7, 59))
    assert not any(dms(team.fake, u) for u in EVERYONE)
    at(team, scheduler, utc(23, 8, 0))
    for user in (BER, BER2, BER3):
        assert len(questions(team.fake, user)) == 1
    assert not any(dms(team.fake, u) for u in (LA, LA2, LA3))
    (question,) = questions(team.fake, BER)
    prompt = prompt_of(question)
    round_id = answer_button(question)["value"]

    # Berlin answers in its working day; one edits the answer, reopening the modal shows the saved one.
    view = click_answer(team, BER, round_id)
    assert view["callback_id"] == ids.VIEW_WRITTEN_ANSWER
    assert "not anonymous" in json.dumps(view["blocks"])
    team.clock.set(utc(23, 10))
    assert submit(team, BER, round_id, "We lack a shared calendar", need="Launch dates a month ahead") == {}
    assert submit(team, BER2, round_id, "The CRM sync breaks weekly") == {}
    reopened = click_answer(team, BER, round_id)
    answer_block = next(b for b in reopened["blocks"] if b.get("block_id") == ids.BLOCK_WRITTEN_ANSWER)
    assert answer_block["element"]["initial_value"] == "We lack a shared calendar"
    edited = "We now share one calendar; next: the launch board"
    assert submit(team, BER, round_id, edited, need="Launch dates a month ahead") == {}

    # Berlin's reminder falls due an hour before its working day ends (17:00 Berlin, 16:00 UTC): only
    # BER3, who has not answered, gets it.
    at(team, scheduler, utc(23, 15, 59))
    assert not any(reminders(team.fake, u) for u in EVERYONE)
    at(team, scheduler, utc(23, 16, 0))
    assert len(reminders(team.fake, BER3)) == 1

    # Los Angeles is asked in its morning, with the same question.
    at(team, scheduler, utc(23, 16, 59))  # 08:59 in Los Angeles
    assert not any(dms(team.fake, u) for u in (LA, LA2, LA3))
    at(team, scheduler, utc(23, 17, 0))  # 09:00 in Los Angeles
    at(team, scheduler, utc(23, 17, 1))  # and again: nobody is asked twice
    for user in EVERYONE:
        assert len(questions(team.fake, user)) == 1, user
    assert {prompt_of(questions(team.fake, u)[0]) for u in EVERYONE} == {prompt}

    # Los Angeles answers after its question arrived; its reminder is due halfway to the check-in
    # (00:30 UTC, 16:30 in Los Angeles): only LA3.
    team.clock.set(utc(23, 18))
    assert submit(team, LA, round_id, "Campaign data arrives late", win="Shipped the new signup form") == {}
    assert submit(team, LA2, round_id, "We need a staging site") == {}
    for when in (utc(23, 23), utc(24, 0, 29), utc(24, 0, 30), utc(24, 0, 31), utc(24, 6), utc(24, 7, 59)):
        at(team, scheduler, when)

    reminded = {u: reminders(team.fake, u) for u in EVERYONE}
    assert {u: len(r) for u, r in reminded.items()} == {LA: 0, LA2: 0, LA3: 1, BER: 0, BER2: 0, BER3: 1}
    with team.services.database.read() as session:
        sent = {
            h.user_id: h.sent_at
            for h in session.scalars(select(HeldDm).where(HeldDm.kind == "written-reminder"))
        }
    assert set(sent) == {LA3, BER3}
    for user, when in sent.items():
        assert when is not None and DEFAULT.contains(when, ZONES.get(user, "Europe/Berlin")), (user, when)

    # The check-in posts the prompt people answered; its thread shows both sides, named, the edited
    # answer (not the first one) and how many have not answered, never who.
    checkin(team, scheduler, ritual_id)
    post = checkin_post(team.fake)
    assert prompt in html.unescape(json.dumps(post.params["blocks"], ensure_ascii=False))
    (summary,) = thread_posts(team.fake)
    said = everything_said(summary)
    assert summary.params["thread_ts"]
    assert said.index("Marketing said") < said.index("Campaign data arrives late") < said.index("IT said")
    assert said.index("IT said") < said.index("We now share one calendar; next: the launch board")
    assert "We lack a shared calendar" not in said
    assert "Launch dates a month ahead" in said and "Shipped the new signup form" in said
    assert "*u_ber*: We now share" in said and "*u_la2*: We need a staging site" in said
    assert "2 have not answered" in said
    assert LA3 not in json.dumps(summary.params) and BER3 not in json.dumps(summary.params)

    # After the check-in: the button answers that answers are closed, and nothing changes.
    before = answers_in_db(team)
    team.clock.set(utc(24, 9))
    assert click_answer(team, BER3, round_id) == {}
    assert "answers are closed" in team.fake.responses()[-1]["text"]
    errors = submit(team, BER3, round_id, "Too late?")
    assert "answers are closed" in errors["errors"][ids.BLOCK_WRITTEN_ANSWER]
    assert answers_in_db(team) == before

    # The job runs on: no second reminder, no second thread post.
    for when in (utc(24, 10), utc(24, 17), utc(25, 9)):
        at(team, scheduler, when)
    assert len(thread_posts(team.fake)) == 1
    assert {u: len(reminders(team.fake, u)) for u in EVERYONE} == {
        LA: 0,
        LA2: 0,
        LA3: 1,
        BER: 0,
        BER2: 0,
        BER3: 1,
    }


# -- a round opened and answered, for the tests below ------------------------------------------------------


def opened(app: RunningApp, scheduler: TandemScheduler, **options: Any) -> tuple[int, str]:
    """A written ritual whose round opened Monday 08:00 UTC; its id and the round id on the button."""
    ritual_id = written_ritual(app, **options)
    at(app, scheduler, utc(23, 8, 0))
    (question,) = questions(app.fake, BER)
    return ritual_id, answer_button(question)["value"]


def rounds_and_answers(app: RunningApp) -> tuple[int, list[tuple[str | None, str | None]]]:
    with app.services.database.read() as session:
        rounds = len(session.scalars(select(WrittenRound)).all())
        rows = session.scalars(select(WrittenAnswer).order_by(WrittenAnswer.id)).all()
        return rounds, [(r.answer, r.need) for r in rows]


# -- bad input ---------------------------------------------------------------------------------------------


def test_an_empty_or_too_long_answer_is_refused_inline_and_saves_nothing(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    _, round_id = opened(team, scheduler)
    before = rounds_and_answers(team)
    assert ids.BLOCK_WRITTEN_ANSWER in submit(team, BER, round_id, "   ")["errors"]
    too_long = submit(team, BER, round_id, "x" * (ANSWER_MAX + 1), need="y" * 1001)["errors"]
    assert "3000 characters" in too_long[ids.BLOCK_WRITTEN_ANSWER]
    assert "1000 characters" in too_long[ids.BLOCK_WRITTEN_NEED]
    assert rounds_and_answers(team) == before


def test_someone_not_asked_another_workspace_and_tampered_ids_change_nothing(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    _, round_id = opened(team, scheduler)
    # A member of another ritual (of this workspace) was not asked in this round.
    World(team.services.database, team.clock).ritual(
        name="Other", marketing=("U_OTHER",), it=("U_OTHER_IT",), now=utc(1, 8)
    )
    team.fake.add_user("U_OTHER", tz="Europe/Berlin")
    before = rounds_and_answers(team)

    assert click_answer(team, "U_OTHER", round_id) == {}
    assert "not sent to you" in team.fake.responses()[-1]["text"]
    assert "not sent to you" in submit(team, "U_OTHER", round_id, "Mine")["errors"][ids.BLOCK_WRITTEN_ANSWER]

    # The same user id and round id from another workspace: nothing of this one is found.
    World(team.services.database, team.clock).workspace("T_OTHER")
    assert click_answer(team, BER, round_id, team_id="T_OTHER") == {}
    assert "no longer exists" in team.fake.responses()[-1]["text"]
    assert (
        "no longer exists"
        in submit(team, BER, round_id, "Sneaky", team_id="T_OTHER")["errors"][ids.BLOCK_WRITTEN_ANSWER]
    )

    # Tampered button values and modal metadata.
    for value in ("abc", "-1", "0", "99999999999", "1e3", ""):
        assert click_answer(team, BER, value) == {}
        assert "no longer exists" in team.fake.responses()[-1]["text"]
    for metadata in ("", "not json", "[]", '{"round_id": "x"}', '{"round_id": true}', '{"round_id": 999999}'):
        response = team.slack.view_submission(
            ids.VIEW_WRITTEN_ANSWER, values=values("Tampered"), private_metadata=metadata, user_id=BER
        )
        assert "no longer exists" in response.json()["errors"][ids.BLOCK_WRITTEN_ANSWER], metadata
    assert rounds_and_answers(team) == before


def test_a_replayed_submission_saves_once_and_an_answer_after_the_checkin_is_closed(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    _, round_id = opened(team, scheduler)
    assert submit(team, BER, round_id, "First", view_id="V_SAME", hash="h1") == {}
    assert submit(team, BER, round_id, "First", view_id="V_SAME", hash="h1") == {}  # Slack's retry
    assert answers_in_db(team)[BER] == "First"
    team.clock.set(TUESDAY_CHECKIN)  # the check-in is due: answers close even before it is posted
    assert "answers are closed" in submit(team, BER, round_id, "Second")["errors"][ids.BLOCK_WRITTEN_ANSWER]
    assert answers_in_db(team)[BER] == "First"


# -- the draft win -----------------------------------------------------------------------------------------


def test_a_win_in_an_answer_is_a_draft_until_a_lead_confirms_it(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id, round_id = opened(team, scheduler)
    team.clock.set(utc(23, 10))
    assert submit(team, BER2, round_id, "Fine", win="Both teams shipped the pricing page") == {}
    with team.services.database.read() as session:
        (draft,) = session.scalars(select(Win)).all()
        assert draft.draft and draft.created_by == BER2 and draft.ritual_id == ritual_id
    # A draft is in no list: `/tandem wins` this month shows nothing.
    listed = team.slack.command("wins", user_id=BER, channel_id="C_SHARED").json()
    assert "Both teams shipped" not in json.dumps(listed)

    checkin(team, scheduler, ritual_id)
    (summary,) = thread_posts(team.fake)
    assert "Both teams shipped the pricing page" in everything_said(summary)
    assert "draft" in everything_said(summary)
    confirm = next(
        e
        for b in summary.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.ACTION_WRITTEN_CONFIRM_WIN
    )

    # BER2 wrote it but is not a lead (the first named on each side are: LA and BER).
    team.slack.block_action(ids.ACTION_WRITTEN_CONFIRM_WIN, value=confirm["value"], user_id=BER2)
    team.drain()
    assert "Only the check-in's two leads" in team.fake.responses()[-1]["text"]
    with team.services.database.read() as session:
        assert session.scalars(select(Win)).one().draft

    team.slack.block_action(ids.ACTION_WRITTEN_CONFIRM_WIN, value=confirm["value"], user_id=LA)
    team.drain()
    assert "Confirmed" in team.fake.responses()[-1]["text"]
    with team.services.database.read() as session:
        win = session.scalars(select(Win)).one()
        assert not win.draft
        assert {(c.user_id, c.side) for c in win.credits} == {(BER2, Side.IT), (LA, Side.MARKETING)}
    celebrations = [
        c
        for c in team.fake.calls("chat.postMessage")
        if c.params["channel"] == "C_SHARED" and "Both teams shipped" in json.dumps(c.params)
    ]
    assert len(celebrations) == 2  # the thread message, and now the celebration
    # A second click confirms nothing twice.
    team.slack.block_action(ids.ACTION_WRITTEN_CONFIRM_WIN, value=confirm["value"], user_id=LA)
    team.drain()
    assert "no longer a draft" in team.fake.responses()[-1]["text"]


# -- the setting in the setup modal ------------------------------------------------------------------------


def test_the_setting_is_in_the_setup_modal_saved_and_shown_when_editing(running_app: RunningApp) -> None:
    fake = running_app.fake
    fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    fake.add_user("U_MKT1", tz="Europe/Berlin")
    running_app.slack.command("setup", user_id="U_MKT1", channel_id="C_SHARED")
    (call,) = fake.wait_for("views.open")
    blocks = {b.get("block_id"): b for b in call.params["view"]["blocks"]}
    assert "Collect written answers before each check-in" in json.dumps(blocks[ids.BLOCK_SETUP_WRITTEN])
    assert blocks[ids.BLOCK_SETUP_WRITTEN_LEAD]["element"]["initial_option"]["value"] == "24"

    def written(on: bool, lead: str) -> dict[str, Any]:
        state = setup_values()
        state[ids.BLOCK_SETUP_WRITTEN] = {
            ids.ACTION_SETUP_WRITTEN: {
                "type": "checkboxes",
                "selected_options": [{"text": {"type": "plain_text", "text": "x"}, "value": "written"}]
                if on
                else [],
            }
        }
        state[ids.BLOCK_SETUP_WRITTEN_LEAD] = {
            ids.ACTION_SETUP_WRITTEN_LEAD: {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": lead}, "value": lead},
            }
        }
        return state

    bad = running_app.slack.view_submission(ids.VIEW_SETUP, values=written(True, "5"), user_id="U_MKT1")
    assert ids.BLOCK_SETUP_WRITTEN_LEAD in bad.json()["errors"]
    with running_app.services.database.read() as session:
        assert session.scalars(select(Ritual)).all() == []

    ok = running_app.slack.view_submission(ids.VIEW_SETUP, values=written(True, "8"), user_id="U_MKT1")
    assert ok.status_code == 200 and not ok.text
    running_app.drain()
    with running_app.services.database.read() as session:
        ritual = session.scalars(select(Ritual)).one()
        assert (ritual.written_answers, ritual.written_lead_hours) == (True, 8)
        ritual_id = ritual.id

    from bot.blocks.setup import build_setup_modal
    from bot.usecases.rituals import _form_of

    with running_app.services.database.read() as session:
        view = build_setup_modal(_form_of(session.get(Ritual, ritual_id)), ritual_id=ritual_id).to_dict()
    shown = {b.get("block_id"): b for b in view["blocks"]}
    assert shown[ids.BLOCK_SETUP_WRITTEN]["element"]["initial_options"][0]["value"] == "written"
    assert shown[ids.BLOCK_SETUP_WRITTEN_LEAD]["element"]["initial_option"]["value"] == "8"


# -- exactly once with two schedulers ----------------------------------------------------------------------


def test_two_schedulers_ask_once_remind_once_and_post_the_answers_once(
    team: RunningApp, scheduler: TandemScheduler, settings: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.config import Mode
    from bot.runtime import Runtime

    other = Runtime(
        settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=team.clock, poster_interval=0.0
    )
    try:
        assert other.scheduler is not None
        both = (scheduler, other.scheduler)
        ritual_id = written_ritual(team)

        def together(work: Any) -> None:
            with ThreadPoolExecutor(2) as pool:
                for future in [pool.submit(work, s) for s in both]:
                    future.result()

        def minutely(when: dt.datetime) -> None:
            team.clock.set(when)
            together(lambda s: (s.written_answers_work(), s.held_dm_work()))

        for when in (utc(23, 8), utc(23, 16), utc(23, 17)):
            minutely(when)
        (question,) = questions(team.fake, BER)
        round_id = answer_button(question)["value"]
        team.clock.set(utc(23, 18))
        assert submit(team, LA, round_id, "Written once") == {}
        minutely(utc(24, 0, 30))

        team.clock.set(TUESDAY_CHECKIN + dt.timedelta(seconds=1))
        together(lambda s: s.fire(ritual_id))
        for s in both:
            assert s.outbox.join(10) and s.outbox.join(10)
    finally:
        other.close()

    for user in EVERYONE:
        assert len(questions(team.fake, user)) == 1, user
        assert len(reminders(team.fake, user)) == (0 if user == LA else 1), user
    assert (
        len(
            [
                c
                for c in team.fake.calls("chat.postMessage")
                if c.params["channel"] == "C_SHARED" and not c.params.get("thread_ts")
            ]
        )
        == 1
    )
    (summary,) = thread_posts(team.fake)
    assert "Written once" in everything_said(summary) and "5 have not answered" in everything_said(summary)


# -- nobody answered; forget-me and uninstall --------------------------------------------------------------


def test_when_nobody_answered_the_thread_says_so_in_one_line(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id, _ = opened(team, scheduler)
    checkin(team, scheduler, ritual_id)
    (summary,) = thread_posts(team.fake)
    assert summary.params["text"] == "No written answers before this check-in: 6 have not answered."
    assert len(summary.params["blocks"]) == 1


def test_forget_me_and_uninstall_delete_written_answers(team: RunningApp, scheduler: TandemScheduler) -> None:
    from tests.test_pulses import forget_me

    _, round_id = opened(team, scheduler)
    team.clock.set(utc(23, 10))
    assert submit(team, BER, round_id, "Mine to forget", win="A draft of mine") == {}
    assert submit(team, BER2, round_id, "Stays until uninstall") == {}
    said = forget_me(team, BER)
    assert "1 written answers" in said or "written answer" in said
    with team.services.database.read() as session:
        texts = [a.answer for a in session.scalars(select(WrittenAnswer))]
        assert "Mine to forget" not in texts and "Stays until uninstall" in texts
        assert session.scalars(select(Win)).all() == []  # their draft win went with it

    World(team.services.database, team.clock).tokens()
    team.slack.event({"type": ids.EVENT_APP_UNINSTALLED})
    team.drain()
    with team.services.database.read() as session:
        assert session.scalars(select(WrittenAnswer)).all() == []
        assert session.scalars(select(WrittenRound)).all() == []


# -- Block Kit limits --------------------------------------------------------------------------------------


def test_long_answers_are_split_within_slacks_limits_and_nothing_is_cut() -> None:
    words = "lorem ipsum dolor sit amet " * 120  # ~3,240 characters: longer than one section
    entries = tuple(
        WrittenEntry(
            user_id=f"U{i}",
            name=f"Person {i}",
            side=Side.MARKETING if i % 2 else Side.IT,
            answer=f"answer-{i} " + words[: ANSWER_MAX - 12],
            need=f"need-{i} " + "n" * 900,
            win=f"win-{i} " + "w" * 900,
            draft_win_id=i + 1,
        )
        for i in range(30)
    )
    messages = build_summary(Summary("What blocks you?", entries, not_answered=3))
    assert len(messages) > 1
    for text, blocks in messages:
        assert text and len(blocks) <= 50
        payload = [b.to_dict() for b in blocks]
        assert len(json.dumps(payload)) < 13000
        for block in payload:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
    everything = " ".join(json.dumps([b.to_dict() for b in blocks]) for _, blocks in messages)
    for i in range(30):
        assert f"answer-{i} " in everything and f"need-{i} " in everything and f"win-{i} " in everything
    assert "3 have not answered" in everything


# -- a skipped check-in, a paused ritual; when reminders fall -----------------------------------------------


def test_a_skipped_checkin_closes_its_round_and_drops_the_held_question_and_the_reminders(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    _, round_id = opened(team, scheduler)  # Berlin asked at 08:00 UTC; Los Angeles held for its morning
    team.clock.set(utc(23, 9))
    skipped = team.slack.command("skip Weekly sync 2026-11-24", user_id=BER, channel_id="C_SHARED").json()
    assert "Tue 24 Nov 2026" in skipped["text"]
    assert "answers are closed" in submit(team, BER, round_id, "Anyway")["errors"][ids.BLOCK_WRITTEN_ANSWER]
    for when in (utc(23, 16), utc(23, 17), utc(24, 0, 30)):
        at(team, scheduler, when)
    assert not any(questions(team.fake, u) for u in (LA, LA2, LA3))  # held, then no longer wanted
    assert not any(reminders(team.fake, u) for u in EVERYONE)


def test_a_paused_ritual_closes_its_round(team: RunningApp, scheduler: TandemScheduler) -> None:
    _, round_id = opened(team, scheduler)
    team.clock.set(utc(23, 9))
    paused = team.slack.command("pause Weekly sync", user_id=BER, channel_id="C_SHARED").json()
    assert "is paused" in paused["text"]
    assert click_answer(team, BER, round_id) == {}
    assert "answers are closed" in team.fake.responses()[-1]["text"]
    for when in (utc(23, 16), utc(23, 17)):
        at(team, scheduler, when)
    assert not any(reminders(team.fake, u) for u in EVERYONE)


@pytest.mark.parametrize(
    ("timezone", "reached", "expected"),
    [
        # Halfway (21:00 Berlin) is after work: an hour before the day ends instead.
        ("Europe/Berlin", utc(23, 8), utc(23, 16)),
        # Halfway is working time (16:30 in Los Angeles).
        ("America/Los_Angeles", utc(23, 17), utc(24, 0, 30)),
        # Asked on a Friday for a Monday check-in: halfway is Saturday; Friday 17:00 Berlin instead.
        (
            "Europe/Berlin",
            dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 27, 16, tzinfo=dt.UTC),
        ),
        # An unknown timezone is read as UTC, like every DM's.
        ("Not/AZone", utc(23, 8), utc(23, 17)),
    ],
)
def test_the_reminder_falls_inside_the_recipients_working_day_before_the_checkin(
    timezone: str, reached: dt.datetime, expected: dt.datetime
) -> None:
    from bot.usecases.written_answers import reminder_time

    deadline = reached + (dt.timedelta(days=3) if reached.weekday() == 4 else dt.timedelta(hours=24))
    if timezone == "America/Los_Angeles":
        deadline = TUESDAY_CHECKIN
    when = reminder_time(DEFAULT, timezone, reached, deadline)
    assert when == expected
    assert when is not None and DEFAULT.contains(
        when, timezone if "/" in timezone and timezone != "Not/AZone" else None
    )
    assert reached + dt.timedelta(hours=1) <= when < deadline


def test_no_reminder_when_no_working_hour_is_left_before_the_checkin() -> None:
    from bot.usecases.written_answers import reminder_time

    # Asked at 17:30 Berlin for a check-in at 07:00 Berlin the next day: nothing fits.
    assert reminder_time(DEFAULT, "Europe/Berlin", utc(23, 16, 30), utc(24, 6)) is None


# -- Socket Mode: the same listeners, over the socket ------------------------------------------------------


def test_answering_works_over_socket_mode(
    service: SocketModeService,  # noqa: F811 (the Socket Mode fixtures of tests/test_socket_mode.py)
    fake_socket: FakeSocketMode,  # noqa: F811
    fake_slack: FakeSlack,
    scheduler: TandemScheduler,
    clock: Any,
    database: Any,  # a clean database for this test, as every other test here gets through `team`
) -> None:
    # Started first: the fixture's teardown waits for a server that was started.
    service.start()
    assert eventually(service.connected)
    for user in (BER, BER2, BER3):
        fake_slack.add_user(user, tz="Europe/Berlin")
    for user in (LA, LA2, LA3):
        fake_slack.add_user(user, tz="America/Los_Angeles")
    World(scheduler.services.database, clock).ritual(
        marketing=(LA, LA2, LA3),
        it=(BER, BER2, BER3),
        written_answers=True,
        pulse_enabled=False,
        now=utc(1, 8),
    )
    clock.set(utc(23, 8))
    scheduler.written_answers_work()
    (question,) = questions(fake_slack, BER)
    round_id = answer_button(question)["value"]

    user = {"id": BER, "username": "ber", "name": "ber", "team_id": "T0001"}
    team = {"id": "T0001", "domain": "t0001"}
    fake_socket.send(
        {
            "envelope_id": "env-click",
            "type": "interactive",
            "accepts_response_payload": False,
            "payload": {
                "type": "block_actions",
                "user": user,
                "team": team,
                "api_app_id": "A0001",
                "trigger_id": "trigger-1",
                "container": {"type": "message", "channel_id": "D_BER", "message_ts": "1.1"},
                "channel": {"id": "D_BER"},
                "message": {"type": "message", "ts": "1.1", "text": ""},
                "actions": [
                    {
                        "action_id": ids.ACTION_WRITTEN_ANSWER,
                        "block_id": ids.BLOCK_WRITTEN_ACTIONS,
                        "type": "button",
                        "value": round_id,
                        "action_ts": "1.2",
                    }
                ],
            },
        }
    )
    assert fake_socket.wait_for_ack("env-click")["envelope_id"] == "env-click"
    (opened,) = fake_slack.wait_for("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == ids.VIEW_WRITTEN_ANSWER

    fake_socket.send(
        {
            "envelope_id": "env-submit",
            "type": "interactive",
            "accepts_response_payload": True,
            "payload": {
                "type": "view_submission",
                "user": user,
                "team": team,
                "api_app_id": "A0001",
                "view": {
                    "type": "modal",
                    "team_id": "T0001",
                    "app_id": "A0001",
                    "blocks": [],
                    "id": "V_SOCKET",
                    "hash": "h1",
                    "callback_id": ids.VIEW_WRITTEN_ANSWER,
                    "private_metadata": view["private_metadata"],
                    "state": {"values": values("Answered over the socket")},
                },
            },
        }
    )
    assert fake_socket.wait_for_ack("env-submit")["envelope_id"] == "env-submit"
    assert eventually(lambda: answers_in_db_of(scheduler.services.database).get(BER) is not None)
    assert answers_in_db_of(scheduler.services.database)[BER] == "Answered over the socket"


def answers_in_db_of(database: Any) -> dict[str, str | None]:
    with database.read() as session:
        return {row.person.slack_user_id: row.answer for row in session.scalars(select(WrittenAnswer))}


def test_a_restart_between_asking_and_timing_reminders_asks_nobody_twice_and_still_reminds(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    opened(team, scheduler)
    # As if the process stopped after the DMs were asked for, before the reminders were timed.
    with team.services.database.begin() as session:
        session.execute(update(WrittenRound).values(asked_at=None))
        session.execute(update(WrittenAnswer).values(remind_at=None))
    at(team, scheduler, utc(23, 8, 1))
    with team.services.database.read() as session:
        remind = {row.person.slack_user_id: row.remind_at for row in session.scalars(select(WrittenAnswer))}
    assert all(len(questions(team.fake, u)) == 1 for u in (BER, BER2, BER3))
    assert remind[BER] == utc(23, 16)  # 17:00 in Berlin, as the first run had timed it
    assert remind[LA] == utc(24, 0, 30)  # from 09:00 in Los Angeles, when its held question goes
