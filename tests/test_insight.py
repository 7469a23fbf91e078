"""Insight: reports with charts, CSV exports, prompts aimed at the weak spot, drift alerts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from sqlalchemy import select

from db.models import Person, Pulse, PulseQuestion, PulseTally, PulseVote, Ritual, Side, Workspace
from db.rituals import RitualSpec, create_ritual
from db.session import Database
from jobs.cadence import Cadence, CadenceKind
from jobs.checkins import prepare_now
from jobs.insight import alert_on_drift
from tests.conftest import RunningApp

PNG = b"\x89PNG\r\n\x1a\n"


def make_ritual(database: Database, now: dt.datetime, *, anonymous: bool = True) -> int:
    spec = RitualSpec(
        channel_id="C_SHARED",
        name="Weekly sync",
        cadence=Cadence(kind=CadenceKind.weekly, weekday=1, time_of_day=dt.time(9), timezone="Europe/Berlin"),
        marketing=("U_M1", "U_M2", "U_M3"),
        it=("U_I1", "U_I2", "U_I3"),
        pulse_anonymous=anonymous,
    )
    with database.begin() as session:
        ws = session.scalars(select(Workspace).where(Workspace.team_id == "T0001")).one_or_none()
        if ws is None:
            ws = Workspace(team_id="T0001")
            session.add(ws)
            session.flush()
        return create_ritual(session, ws, spec, created_by="U_M1", now=now - dt.timedelta(days=400)).id


def closed_pulse(
    database: Database,
    ritual_id: int,
    opened: dt.datetime,
    *,
    marketing: dict[int, int],
    it: dict[int, int],
    theme: str | None = None,
    anonymous: bool = True,
) -> int:
    """A pulse that closed a day after it opened, with these answer counts per score."""
    with database.begin() as session:
        pulse = Pulse(
            ritual_id=ritual_id,
            channel_id="C_SHARED",
            owner="U_M1",
            anonymous=anonymous,
            opened_at=opened,
            closes_at=opened + dt.timedelta(days=1),
            closed_at=opened + dt.timedelta(days=1),
            theme=theme,
        )
        session.add(pulse)
        session.flush()
        for side, counts in ((Side.MARKETING, marketing), (Side.IT, it)):
            for score, n in counts.items():
                session.add(
                    PulseTally(
                        pulse_id=pulse.id, question=PulseQuestion.PARTNER, side=side, score=score, count=n
                    )
                )
                session.add(
                    PulseTally(
                        pulse_id=pulse.id, question=PulseQuestion.LEVEL, side=side, score=score, count=n
                    )
                )
        return pulse.id


@pytest.fixture
def world(running_app: RunningApp) -> RunningApp:
    running_app.fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    running_app.fake.add_channel("C_OTHER", name="other", is_member=True)
    return running_app


def test_report_uploads_a_chart_with_alt_text_and_a_summary(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(database, now)
    for week in range(6):
        closed_pulse(
            database, ritual_id, now - dt.timedelta(weeks=6 - week), marketing={2: 2, 3: 2}, it={4: 3, 5: 1}
        )
    closed_pulse(
        database, ritual_id, now - dt.timedelta(days=2), marketing={3: 2}, it={4: 4}
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


def test_report_asked_elsewhere_comes_by_dm_and_bad_weeks_are_refused(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    make_ritual(database, now)
    bad = world.slack.command("report Weekly sync 500", channel_id="C_OTHER", user_id="U_M1").json()
    assert "1 to 104" in bad["text"] and "/tandem report Weekly sync 12" in bad["text"]
    world.slack.command("report Weekly sync 4", channel_id="C_OTHER", user_id="U_M1")
    world.drain()
    (complete,) = world.fake.wait_for("files.completeUploadExternal")
    assert complete.params["channel_id"].startswith("D")


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_export_matches_the_stored_answers_and_names_nobody_in_anonymous_pulses(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(database, now)
    closed_pulse(database, ritual_id, now - dt.timedelta(weeks=1), marketing={2: 1, 3: 2}, it={4: 2, 5: 2})
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


def test_per_answer_csv_only_for_members_and_only_for_named_pulses(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(database, now, anonymous=False)
    pulse_id = closed_pulse(
        database, ritual_id, now - dt.timedelta(weeks=1), marketing={3: 3}, it={4: 3}, anonymous=False
    )
    with database.begin() as session:
        person = session.scalars(select(Person).where(Person.slack_user_id == "U_M2")).one()
        session.add(
            PulseVote(
                pulse_id=pulse_id,
                question=PulseQuestion.PARTNER,
                person_id=person.id,
                side=Side.MARKETING,
                score=3,
            )
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
    assert {(r["user"], r["score"]) for r in answers} == {("U_M2", "3")}


def test_the_next_prompt_aims_at_the_weakest_theme_and_says_why(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(database, now)
    closed_pulse(
        database, ritual_id, now - dt.timedelta(days=20), marketing={4: 3}, it={4: 3}, theme="credit"
    )
    closed_pulse(
        database, ritual_id, now - dt.timedelta(days=6), marketing={4: 3, 3: 1}, it={2: 2, 3: 1}, theme="data"
    )
    with database.begin() as session:
        ritual = session.get(Ritual, ritual_id)
        assert ritual is not None
        prepared = prepare_now(session, ritual, now=now, team_id="T0001")
    assert prepared.prompt_key.startswith("data-")
    rendered = json.dumps(prepared.blocks)
    assert (
        "chosen because IT rated the data and analytics partnership 2.3 last week, marketing 3.8" in rendered
    )
    # IT 2.3 against marketing 3.8: the gap (1.4) is wide enough to lead the agenda.
    assert "Widest gap in the last pulse: 1.4 points" in rendered
    # The focus comes first, above the prompt.
    texts = [b.get("text", {}).get("text", "") for b in prepared.blocks]
    assert texts.index(next(t for t in texts if "Focus" in t)) < texts.index(
        next(t for t in texts if "Prompt" in t)
    )


def test_drift_alert_goes_once_to_both_leads_and_can_be_turned_off(world: RunningApp) -> None:
    database, now = world.services.database, world.clock.now()
    ritual_id = make_ritual(database, now)
    falling = [({5: 3}, {5: 3}), ({4: 3}, {4: 3}), ({3: 3}, {2: 3})]
    ids = [
        closed_pulse(database, ritual_id, now - dt.timedelta(weeks=3 - i), marketing=m, it=i_)
        for i, (m, i_) in enumerate(falling)
    ]
    messenger = world.services.messenger
    assert messenger is not None
    assert alert_on_drift(database, messenger, ids[-1], ritual_id, now=now, min_answers=3)
    assert not alert_on_drift(database, messenger, ids[-1], ritual_id, now=now, min_answers=3)  # once
    opened = [c.params["users"] for c in world.fake.calls("conversations.open")]
    assert sorted(opened) == ["U_I1", "U_M1"]
    comments = [c.params["initial_comment"] for c in world.fake.calls("files.completeUploadExternal")]
    assert len(comments) == 2 and "fell in each of the last two pulses" in comments[0]
    assert "Suggested focus" in comments[0] or "Latest pulse" in comments[0]

    off = world.slack.command("alerts off", channel_id="C_SHARED", user_id="U_M1").json()
    assert "No more drift alerts" in off["text"]
    more = closed_pulse(database, ritual_id, now, marketing={2: 3}, it={1: 3})
    assert not alert_on_drift(
        database, messenger, more, ritual_id, now=now + dt.timedelta(days=2), min_answers=3
    )
