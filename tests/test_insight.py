"""Insight: reports with charts, CSV exports, prompts aimed at the weak spot, drift alerts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.blocks.report import short_date
from bot.usecases.checkins import prepare_now
from bot.usecases.insight import alert_on_drift
from db.models import Pulse, PulseQuestion, Ritual
from db.session import Database
from db.theme_questions import question_for_theme
from tests.conftest import RunningApp
from tests.world import World

PNG = b"\x89PNG\r\n\x1a\n"


def make_ritual(world: RunningApp, *, anonymous: bool = True, created_by: str = "U_M1") -> int:
    """The ritual these tests report on: three people a side, set up 400 days ago."""
    return seed(world).ritual(
        marketing=("U_M1", "U_M2", "U_M3"),
        it=("U_I1", "U_I2", "U_I3"),
        pulse_anonymous=anonymous,
        created_by=created_by,
        now=world.clock.now() - dt.timedelta(days=400),
    )


def seed(world: RunningApp) -> World:
    return World(world.services.database, world.clock)


@pytest.fixture
def world(running_app: RunningApp) -> RunningApp:
    running_app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    running_app.fake.add_channel("C_OTHER", name="other", is_member=True)
    return running_app


def test_report_uploads_a_chart_with_alt_text_and_a_summary(world: RunningApp) -> None:
    now = world.clock.now()
    ritual_id = make_ritual(world)
    for week in range(6):
        seed(world).tallied_pulse(
            ritual_id, opened_at=now - dt.timedelta(weeks=6 - week), marketing={2: 2, 3: 2}, it={4: 3, 5: 1}
        )
    seed(world).tallied_pulse(
        ritual_id, opened_at=now - dt.timedelta(days=2), marketing={3: 2}, it={4: 4}
    )  # marketing withheld
    answer = world.slack.command("report", channel_id="C_SHARED", user_id="U_M1").json()
    assert "Preparing" in answer["text"]
    world.drain()
    (get_url,) = world.fake.wait_for("files.getUploadURLExternal")
    assert get_url.params["alt_txt"] and "Weekly sync" in get_url.params["alt_txt"]
    (complete,) = world.fake.wait_for("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C_SHARED"
    comment = complete.params["initial_comment"]
    assert "12 weeks" in comment and "7 pulses" in comment and "not drawn" in comment
    (png,) = world.fake.uploads.values()
    assert png.startswith(PNG)
    # Neither the summary nor the alt text names anyone: only figures per side.
    for user in ("U_M1", "U_M2", "U_M3", "U_I1", "U_I2", "U_I3"):
        assert user not in comment and user not in get_url.params["alt_txt"]


def test_report_says_both_sides_fell_before_saying_the_gap_narrowed_and_why(world: RunningApp) -> None:
    """Marketing's view of IT falls from 4.7 to 2.7, IT's of marketing from 3.0 to 2.0: the gap
    narrows from 1.7 to 0.7, which is no good news, and the summary says so in that order."""
    now = world.clock.now()
    ritual_id = make_ritual(world)
    for weeks_ago, marketing, it in (
        (6, {5: 2, 4: 1}, {3: 3}),
        (3, {4: 3}, {3: 2, 2: 1}),
        (1, {3: 2, 2: 1}, {2: 3}),
    ):
        seed(world).tallied_pulse(
            ritual_id, opened_at=now - dt.timedelta(weeks=weeks_ago), marketing=marketing, it=it, team=(3, 4)
        )
    world.slack.command("report", channel_id="C_SHARED", user_id="U_M1")
    world.drain()
    (complete,) = world.fake.wait_for("files.completeUploadExternal")
    comment = complete.params["initial_comment"]
    sides = (
        "Both sides rate the partnership lower than at the start: marketing's view of IT fell from 4.7 "
        "to 2.7, IT's view of marketing fell from 3.0 to 2.0."
    )
    gap = (
        "The gap between the two sides narrowed from 1.7 to 0.7 because marketing's view fell further: "
        "closer, but both lower."
    )
    assert sides in comment and gap in comment
    assert comment.index(sides) < comment.index(gap)  # each side's direction before the gap
    assert "Best" not in comment
    assert "Latest pulse answered by marketing 3 of 3 (100%) · IT 3 of 4 (75%)." in comment


def test_report_asked_elsewhere_comes_by_dm_and_bad_weeks_are_refused(world: RunningApp) -> None:
    make_ritual(world)
    bad = world.slack.command("report Weekly sync 500", channel_id="C_OTHER", user_id="U_M1").json()
    assert "1 to 104" in bad["text"] and "/tandem report Weekly sync 12" in bad["text"]
    world.slack.command("report Weekly sync 4", channel_id="C_OTHER", user_id="U_M1")
    world.drain()
    (complete,) = world.fake.wait_for("files.completeUploadExternal")
    assert complete.params["channel_id"].startswith("D")


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_export_matches_the_stored_answers_and_names_nobody_in_anonymous_pulses(world: RunningApp) -> None:
    now = world.clock.now()
    ritual_id = make_ritual(world)
    seed(world).tallied_pulse(
        ritual_id, opened_at=now - dt.timedelta(weeks=1), marketing={2: 1, 3: 2}, it={4: 2, 5: 2}
    )
    world.slack.command("export", channel_id="C_SHARED", user_id="U_M1")
    world.drain()
    (only,) = world.fake.wait_for("files.completeUploadExternal")
    assert "one row per pulse" in only.params["initial_comment"]
    (data,) = world.fake.uploads.values()
    rows = _csv_rows(data)
    partner = {r["side"]: r for r in rows if r["section"] == "pulse" and r["question"] == "partner"}
    assert partner["marketing"]["answers"] == "3" and partner["marketing"]["average"] == "2.67"
    assert [partner["marketing"][f"score_{s}"] for s in range(1, 6)] == ["0", "1", "2", "0", "0"]
    assert partner["it"]["average"] == "4.50"
    for user in ("U_M1", "U_M2", "U_M3", "U_I1", "U_I2", "U_I3"):
        assert user not in data.decode()


def test_export_shows_participation_against_each_team_and_the_theme_question_asked(world: RunningApp) -> None:
    now = world.clock.now()
    ritual_id = make_ritual(world)
    seed(world).tallied_pulse(
        ritual_id,
        opened_at=now - dt.timedelta(weeks=1),
        marketing={4: 5},
        it={3: 4},
        theme="data",
        theme_answers=({4: 5}, {2: 4}),
        team=(6, 6),
    )
    world.slack.command("export", channel_id="C_SHARED", user_id="U_M1")
    world.drain()
    world.fake.wait_for("files.completeUploadExternal")
    (data,) = world.fake.uploads.values()
    rows = [r for r in _csv_rows(data) if r["section"] == "pulse"]
    partner = {r["side"]: r for r in rows if r["question"] == "partner"}
    assert partner["marketing"]["participation"] == "5 of 6 (83%)"
    assert partner["it"]["participation"] == "4 of 6 (67%)"
    on_theme = {r["side"]: r for r in rows if r["question"].startswith("theme")}
    assert set(on_theme) == {"marketing", "it"}
    assert on_theme["marketing"]["question"] == f"theme: {DATA.marketing}"
    assert on_theme["it"]["question"] == f"theme: {DATA.it}" and on_theme["it"]["average"] == "2.00"
    assert {r["theme"] for r in rows} == {"data"}


def test_per_answer_csv_only_for_members_and_only_for_named_pulses(world: RunningApp) -> None:
    now = world.clock.now()
    ritual_id = make_ritual(world, anonymous=False)
    seed(world).tallied_pulse(
        ritual_id,
        opened_at=now - dt.timedelta(weeks=1),
        marketing={3: 3},
        it={4: 3},
        anonymous=False,
        votes={"U_M2": {PulseQuestion.PARTNER: 3}},
    )
    world.fake.add_user("U_ADMIN", is_admin=True)
    world.slack.command(
        "export Weekly sync", channel_id="C_OTHER", user_id="U_ADMIN"
    )  # an admin, not a member
    world.drain()
    world.fake.wait_for("files.completeUploadExternal")
    assert [c.params["filename"] for c in world.fake.calls("files.getUploadURLExternal")] == [
        "tandem-export.csv"
    ]
    world.fake.clear()
    world.slack.command("export", channel_id="C_SHARED", user_id="U_M1")
    world.drain()
    world.fake.wait_for("files.completeUploadExternal", count=2)
    names = [c.params["filename"] for c in world.fake.calls("files.getUploadURLExternal")]
    assert names == ["tandem-export.csv", "tandem-answers.csv"]
    answers = _csv_rows(list(world.fake.uploads.values())[-1])
    # Named as Slack names them at export time (U_M2 is unknown to this fake Slack: a former member).
    assert {(r["user"], r["score"]) for r in answers} == {("former member", "3")}


def _prepare(database: Database, ritual_id: int, now: dt.datetime):  # type: ignore[no-untyped-def]
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None
        return prepare_now(session, ritual, now=now, team_id="T0001")


def _day(database: Database, ritual_id: int, at: dt.datetime) -> str:
    """How insight dates a pulse: its opening day in the ritual's timezone."""
    with database.read() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None
        return short_date(at.astimezone(ZoneInfo(ritual.timezone)).date())


CREDIT = question_for_theme("credit")
DATA = question_for_theme("data")
assert CREDIT is not None and DATA is not None


def test_the_next_prompt_aims_at_the_lowest_theme_score_and_quotes_the_question(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(world)
    # Credit: both sides low on the credit question (2.0 and 2.3). Data: the partner question came
    # back at 1.0, but the data question itself at 4 and 4: only the question asked measures a theme.
    seed(world).tallied_pulse(
        ritual_id, opened_at=now - dt.timedelta(days=6), marketing={2: 3}, it={2: 2, 3: 1}, theme="credit"
    )
    seed(world).tallied_pulse(
        ritual_id,
        opened_at=now - dt.timedelta(days=5),
        marketing={1: 3},
        it={1: 3},
        theme="data",
        theme_answers=({4: 3}, {4: 3}),
    )
    prepared = _prepare(database, ritual_id, now)
    assert prepared.prompt_key.startswith("credit-")
    rendered = json.loads(json.dumps(prepared.blocks, ensure_ascii=False))
    text = json.dumps(rendered, ensure_ascii=False)
    day = _day(database, ritual_id, now - dt.timedelta(days=6))
    assert (
        f"chosen because marketing rated “{CREDIT.marketing}” 2.0/5 in the pulse of {day} "
        f"(IT rated “{CREDIT.it}” 2.3/5)"
    ) in text
    assert "apart" not in text  # the reason names the criterion that won: the score, not the gap
    # The focus comes first, above the prompt.
    texts = [b.get("text", {}).get("text", "") for b in prepared.blocks]
    assert texts.index(next(t for t in texts if "Focus" in t)) < texts.index(
        next(t for t in texts if "Prompt" in t)
    )


def test_a_huge_gap_between_middling_scores_beats_a_lower_score(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(world)
    # Credit has the lowest score (2.7 on both sides); data's scores are 5.0 and a middling 3.0,
    # two points apart: the widest gap makes data the weak spot.
    seed(world).tallied_pulse(
        ritual_id,
        opened_at=now - dt.timedelta(days=6),
        marketing={3: 2, 2: 1},
        it={3: 2, 2: 1},
        theme="credit",
    )
    seed(world).tallied_pulse(
        ritual_id, opened_at=now - dt.timedelta(days=5), marketing={5: 3}, it={3: 3}, theme="data"
    )
    prepared = _prepare(database, ritual_id, now)
    assert prepared.prompt_key.startswith("data-")
    text = json.dumps(prepared.blocks, ensure_ascii=False)
    day = _day(database, ritual_id, now - dt.timedelta(days=5))
    assert (
        f"chosen because the sides were 2.0 points apart in the pulse of {day}: "
        f"marketing rated “{DATA.marketing}” 5.0/5, IT rated “{DATA.it}” 3.0/5"
    ) in text
    assert "Widest gap in the last pulse: 2.0 points" in text


def test_a_weak_theme_is_followed_up_but_never_starves_the_others(world: RunningApp) -> None:
    """A weak theme comes back (at most twice in the last N check-ins, never three in a row), then
    the others are explored, and only the aimed check-ins say why they were chosen."""
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(world)
    seed(world).tallied_pulse(
        ritual_id, opened_at=now - dt.timedelta(days=5), marketing={5: 3}, it={2: 3}, theme="data"
    )
    keys = []
    for k in range(7):
        prepared = _prepare(database, ritual_id, now + dt.timedelta(seconds=k))
        keys.append(prepared.prompt_key)
        chosen = "chosen because" in json.dumps(prepared.blocks)
        assert chosen == prepared.prompt_key.startswith("data-")
    assert [k.startswith("data-") for k in keys] == [True] * 2 + [False] * 5
    assert len({k.rsplit("-", 1)[0] for k in keys}) == 6  # data, then five other themes
    assert len(set(keys)) == 7


def test_drift_alert_goes_once_to_both_leads_and_can_be_turned_off(world: RunningApp) -> None:
    now = world.clock.now()
    ritual_id = make_ritual(world)
    falling = [({5: 3}, {5: 3}), ({4: 3}, {4: 3}), ({3: 3}, {2: 3})]
    ids = [
        seed(world).tallied_pulse(
            ritual_id, opened_at=now - dt.timedelta(weeks=3 - i), marketing=m, it=i_, theme="data"
        )
        for i, (m, i_) in enumerate(falling)
    ]
    messenger = world.services.messenger
    assert messenger is not None
    assert alert_on_drift(world.services, ids[-1], ritual_id, now=now, min_answers=3)
    assert not alert_on_drift(world.services, ids[-1], ritual_id, now=now, min_answers=3)  # once
    opened = [c.params["users"] for c in world.fake.calls("conversations.open")]
    assert sorted(opened) == ["U_I1", "U_M1"]
    comments = [c.params["initial_comment"] for c in world.fake.calls("files.completeUploadExternal")]
    assert len(comments) == 2 and "fell in each of the last two pulses" in comments[0]
    assert "Latest pulse: marketing's view of IT 3.0/5, IT's view of marketing 2.0/5" in comments[0]
    day = _day(world.services.database, ritual_id, now - dt.timedelta(weeks=1))
    assert (
        f"Suggested focus for the next check-in: Data and analytics, because IT rated “{DATA.it}” 2.0/5 "
        f"in the pulse of {day} (marketing rated “{DATA.marketing}” 3.0/5)."
    ) in comments[0]

    off = world.slack.command("alerts off", channel_id="C_SHARED", user_id="U_M1").json()
    assert "No more drift alerts" in off["text"]
    more = seed(world).tallied_pulse(ritual_id, opened_at=now, marketing={2: 3}, it={1: 3})
    assert not alert_on_drift(world.services, more, ritual_id, now=now + dt.timedelta(days=2), min_answers=3)


def test_a_widening_gap_alerts_the_leads_named_first_not_the_creator(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    # Set up by someone outside both teams: the leads are still the first person named on each side.
    ritual_id = make_ritual(world, created_by="U_CHIEF")
    # The overall score holds at 3.7 while the gap goes 0.0 → 0.7 → 1.3.
    widening = [({4: 2, 3: 1}, {4: 2, 3: 1}), ({4: 3}, {4: 1, 3: 2}), ({4: 2, 5: 1}, {3: 3})]
    ids = [
        seed(world).tallied_pulse(
            ritual_id, opened_at=now - dt.timedelta(weeks=3 - k), marketing=m, it=i, theme="data"
        )
        for k, (m, i) in enumerate(widening)
    ]
    messenger = world.services.messenger
    assert messenger is not None
    assert alert_on_drift(world.services, ids[-1], ritual_id, now=now, min_answers=3)
    assert sorted(c.params["users"] for c in world.fake.calls("conversations.open")) == ["U_I1", "U_M1"]
    (comment, _) = [c.params["initial_comment"] for c in world.fake.calls("files.completeUploadExternal")]
    assert (
        "the gap between marketing and IT widened in each of the last two pulses (0.0 → 0.7 → 1.3)" in comment
    )
    day = _day(database, ritual_id, now - dt.timedelta(weeks=1))
    assert (
        "Suggested focus for the next check-in: Data and analytics, because the sides were 1.3 points "
        f"apart in the pulse of {day}: marketing rated “{DATA.marketing}” 4.3/5, IT rated “{DATA.it}” 3.0/5."
    ) in comment
    (png,) = set(world.fake.uploads.values())
    assert png.startswith(PNG)
    # The claim was committed before the chart was drawn: the same pulse never alerts twice.
    with database.read() as session:
        assert session.get(Ritual, ritual_id).drift_alerted_pulse_id == ids[-1]  # type: ignore[union-attr]
    assert not alert_on_drift(world.services, ids[-1], ritual_id, now=now, min_answers=3)


def test_no_alert_when_neither_falling_nor_widening(world: RunningApp) -> None:
    now = world.clock.now()
    ritual_id = make_ritual(world)
    ups_and_downs = [({4: 3}, {4: 3}), ({3: 3}, {3: 3}), ({4: 3}, {4: 3})]
    ids = [
        seed(world).tallied_pulse(ritual_id, opened_at=now - dt.timedelta(weeks=3 - k), marketing=m, it=i)
        for k, (m, i) in enumerate(ups_and_downs)
    ]
    assert world.services.messenger is not None
    assert not alert_on_drift(world.services, ids[-1], ritual_id, now=now, min_answers=3)
    assert not world.fake.calls("files.completeUploadExternal")


# -- anonymity in the export -----------------------------------------------------------------------


def _derivable_small_sides(rows: list[dict[str, str]], min_answers: int = 3) -> list[str]:
    """Sides of fewer than `min_answers` people whose answers some combination of rows gives away.

    For each pulse and question, the rows with a distribution are what a reader knows. A side row
    shows one directly; and "everyone" minus the shown sides is what the rest answered together.
    """
    leaks = []
    for key in {(r["pulse_id"], r["question"]) for r in rows if r["section"] == "pulse"}:
        group = [r for r in rows if r["section"] == "pulse" and (r["pulse_id"], r["question"]) == key]
        shown = [r for r in group if r["average"]]
        for r in shown:
            if int(r["answers"]) < min_answers:
                leaks.append(f"{key}: {r['side']} shown with {r['answers']} answers")
        everyone = [r for r in shown if r["side"] == "everyone"]
        if everyone:
            rest = int(everyone[0]["answers"]) - sum(
                int(r["answers"]) for r in shown if r["side"] != "everyone"
            )
            if 0 < rest < min_answers:
                leaks.append(f"{key}: everyone minus the shown sides gives away {rest} answers")
    return leaks


def test_export_never_lets_a_small_side_be_worked_out_by_subtraction(world: RunningApp) -> None:
    now = world.clock.now()
    ritual_id = make_ritual(world)
    # Two people of neither side answered the level question: the results thread shows only the
    # everyone figure, so the export must not break the sides out either.
    small = seed(world).tallied_pulse(
        ritual_id,
        opened_at=now - dt.timedelta(weeks=2),
        marketing={2: 2, 4: 2},
        it={3: 4},
        level_other={1: 2},
    )
    # Three of them: enough to stand on their own, so every side is shown.
    enough = seed(world).tallied_pulse(
        ritual_id,
        opened_at=now - dt.timedelta(weeks=1),
        marketing={2: 2, 4: 2},
        it={3: 4},
        level_other={1: 3},
    )
    world.slack.command("export", channel_id="C_SHARED", user_id="U_M1")
    world.drain()
    world.fake.wait_for("files.completeUploadExternal")
    (data,) = world.fake.uploads.values()
    rows = _csv_rows(data)
    assert _derivable_small_sides(rows) == []

    def level(pulse_id: int) -> dict[str, dict[str, str]]:
        return {
            r["side"]: r
            for r in rows
            if r["section"] == "pulse" and r["question"] == "level" and r["pulse_id"] == str(pulse_id)
        }

    hidden = level(small)
    assert hidden["everyone"]["answers"] == "10" and hidden["everyone"]["score_1"] == "2"
    for side in ("marketing", "it", "other"):
        assert (
            hidden[side]["average"] == ""
            and hidden[side]["score_1"] == ""
            and hidden[side]["withheld"] == "yes"
        )
    assert hidden["marketing"]["answers"] == "4"  # how many answered tells nothing about what
    shown = level(enough)
    assert shown["marketing"]["average"] == "3.00" and shown["other"]["score_1"] == "3"
    # The partner question has no "everyone" figure, so its sides stand alone.
    partner = {r["side"]: r for r in rows if r["pulse_id"] == str(small) and r["question"] == "partner"}
    assert partner["marketing"]["average"] == "3.00"


@pytest.mark.parametrize("others", [0, 1, 2, 3, 7])
def test_reports_hide_level_sides_exactly_when_the_results_thread_does(
    world: RunningApp, others: int
) -> None:
    from bot.blocks.pulse import _level_sides
    from db.pulses import results
    from db.reports import pulse_points

    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(world)
    pulse_id = seed(world).tallied_pulse(
        ritual_id,
        opened_at=now - dt.timedelta(weeks=1),
        marketing={3: 4},
        it={4: 2},  # IT itself too few: withheld on both questions
        level_other={5: others} if others else None,
    )
    with database.read() as session:
        thread = _level_sides(results(session, session.get(Pulse, pulse_id), min_answers=3))  # type: ignore[arg-type]
        (point,) = pulse_points(session, ritual_id, min_answers=3)
    # 2 IT answers are hidden whatever happens; `others` more of neither side are hidden when fewer than 3.
    hidden_together = 2 + (others if 0 < others < 3 else 0)
    assert (thread is None) == (hidden_together < 3)
    broken_out = [side for side, f in point.level.items() if f.average is not None]
    assert (broken_out == []) == (thread is None)


def test_export_rows_for_wins_and_commitments_match_what_is_stored(world: RunningApp) -> None:
    from db.models import Commitment

    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(world)
    built = seed(world)
    built.win(
        ritual_id=ritual_id,
        # A spreadsheet would run this as a formula: the export must keep it as text.
        what='=HYPERLINK("https://evil.example","Tracking plan agreed")',
        outcome="+18% qualified leads",
        link="https://example.com/dashboards/leads",
        marketing=("U_M2",),
        it=("U_I1", "U_I3"),
        created_by="U_M1",
        message_ts=None,
        at=now - dt.timedelta(days=3),
    )
    stored = [
        built.commitment(
            what=what,
            marketing_owner="U_M1",
            it_owner="U_I2",
            due=due,
            ritual_id=ritual_id,
            created_by="U_M1",
            at=now - dt.timedelta(days=10),
        )
        for what, due in (
            ("@channel review of the CRM fields", dt.date(2026, 11, 20)),
            ("Ship the form", dt.date(2026, 12, 4)),
        )
    ]
    built.commitment_done(stored[0], by="U_I2", at=now - dt.timedelta(days=1))
    built.commitment_dropped(stored[1], "Budget moved to Q1", by="U_M1", at=now)
    # Exports name people as Slack does at export time; here Slack's names are their ids.
    for user in ("U_M1", "U_M2", "U_I1", "U_I2", "U_I3"):
        world.fake.add_user(user, name=user)
    world.slack.command("export", channel_id="C_SHARED", user_id="U_M1")
    world.drain()
    world.fake.wait_for("files.completeUploadExternal")
    (data,) = world.fake.uploads.values()
    rows = _csv_rows(data)
    (win_row,) = [r for r in rows if r["section"] == "win"]
    assert win_row["date"] == "2026-11-20"
    assert win_row["what"] == '\'=HYPERLINK("https://evil.example","Tracking plan agreed")'
    assert win_row["outcome"] == "'+18% qualified leads"
    assert (win_row["marketing"], win_row["it"]) == ("U_M2", "U_I1, U_I3")
    assert win_row["link"] == "https://example.com/dashboards/leads"
    commitments = [r for r in rows if r["section"] == "commitment"]
    with database.read() as session:
        expected = [
            {
                "date": c.created_at.date().isoformat(),
                "what": ("'" + c.what) if c.what.startswith("@") else c.what,
                "marketing": c.marketing_owner,
                "it": c.it_owner,
                "due": c.due_date.isoformat(),
                "outcome": c.status.value,
                "closed": c.closed_at.date().isoformat() if c.closed_at else "",
                "reason": c.reason or "",
            }
            for c in session.scalars(select(Commitment).order_by(Commitment.created_at, Commitment.id))
        ]
    assert [{k: r[k] for k in expected[0]} for r in commitments] == expected
    assert [r["outcome"] for r in commitments] == ["done", "dropped"]
    assert commitments[0]["what"] == "'@channel review of the CRM fields"
    assert commitments[1]["reason"] == "Budget moved to Q1" and commitments[1]["closed"] == "2026-11-23"


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Launched the page", "Launched the page"),
        (3, 3),
        ("", ""),
    ],
)
def test_csv_cells_that_could_start_a_formula_become_text(cell: object, safe: object) -> None:
    from bot.usecases.insight import csv_cell

    assert csv_cell(cell) == safe


# -- another workspace's ritual ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "report Weekly sync",
        "report Weekly sync 4",
        "export Weekly sync",
        "alerts off Weekly sync",
        "alerts on",
    ],
)
def test_report_export_and_alerts_never_reach_another_workspaces_ritual(world: RunningApp, text: str) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(world)  # in T0001
    seed(world).tallied_pulse(ritual_id, opened_at=now - dt.timedelta(weeks=1), marketing={3: 3}, it={4: 3})
    with database.begin() as session:
        session.get(Ritual, ritual_id).drift_alerts = True  # type: ignore[union-attr]
    world.fake.add_user("U_ADMIN_B", is_admin=True)
    # An admin of workspace B, even typing in the channel id A's ritual lives in.
    for channel_id in ("C_SHARED", "C_OTHER"):
        response = world.slack.command(text, team_id="T_OTHER", user_id="U_ADMIN_B", channel_id=channel_id)
        assert response.status_code == 200
        answer = response.json()
        assert answer["response_type"] == "ephemeral" and "Preparing" not in answer["text"]
        assert "can't find a check-in" in answer["text"] or "no check-in in this channel" in answer["text"]
    world.drain()
    assert not world.fake.calls("files.getUploadURLExternal") and not world.fake.calls("conversations.open")
    with database.read() as session:
        assert session.get(Ritual, ritual_id).drift_alerts is True  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("report Weekly sync 0", "1 to 104"),
        ("report 105", "1 to 104"),
        ("report 99999999999999999999999", "1 to 104"),
        ("alerts", "Say `on` or `off`"),
        ("alerts maybe Weekly sync", "Say `on` or `off`"),
    ],
)
def test_bad_insight_arguments_are_answered_with_an_example(
    world: RunningApp, text: str, problem: str
) -> None:
    make_ritual(world)
    answer = world.slack.command(text, channel_id="C_SHARED", user_id="U_M1").json()
    assert problem in answer["text"] and "Try: `/tandem " in answer["text"]
    world.drain()
    assert not world.fake.calls("files.getUploadURLExternal")


def test_reports_are_refused_to_outsiders_and_a_lost_channel_pauses_its_ritual(world: RunningApp) -> None:
    database = world.services.database
    ritual_id = make_ritual(world)
    refused = world.slack.command("report", channel_id="C_SHARED", user_id="U_OUT").json()
    assert "Reports of “Weekly sync” are for its creator, its members and admins." in refused["text"]
    # Removed from the channel: the report cannot be shared there, the person is told why, and the
    # ritual pauses as it would after a failed check-in.
    world.fake.fail("files.completeUploadExternal", error="not_in_channel", times=None)
    answer = world.slack.command("report", channel_id="C_SHARED", user_id="U_M1").json()
    assert "Preparing the report" in answer["text"]
    world.drain()
    (told,) = world.fake.wait_for("response_url")
    assert "could not be shared (not_in_channel)" in told.params["text"]
    with database.read() as session:
        assert session.get(Ritual, ritual_id).status.value == "paused"  # type: ignore[union-attr]
