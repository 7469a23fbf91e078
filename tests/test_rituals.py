"""Check-in rituals driven the way Slack drives them: signed commands, modal submissions, buttons."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bot import ids
from bot.config import Mode
from bot.messenger import SlackMessenger
from db.models import Occurrence, OccurrenceStatus, Person, Ritual, RitualStatus, Side
from db.session import Database
from jobs.scheduler import TandemScheduler
from tests.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.ritual_helpers import setup_values

# Mon 23 Nov 2026, 09:00 UTC (10:00 in Berlin).


@pytest.fixture
def world(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_user("U_MKT1", name="maria", tz="Europe/Berlin")
    fake_slack.add_user("U_MKT2", name="mo", tz="Europe/Berlin")
    fake_slack.add_user("U_IT1", name="ivan", tz="America/New_York")
    fake_slack.add_user("U_OUT", name="olga")
    fake_slack.add_user("U_ADMIN", name="ada", is_admin=True)
    fake_slack.add_channel("C_SHARED", name="mkt-it", is_member=False)
    fake_slack.add_channel("C_OTHER", name="other", is_member=True)
    fake_slack.add_channel("G_PRIVATE", name="secret", is_private=True, is_member=False)
    return fake_slack


@pytest.fixture
def scheduler(running_app: RunningApp, world: FakeSlack) -> Iterator[TandemScheduler]:
    services = running_app.services
    sched = TandemScheduler(
        services.database,
        running_app.clock,
        SlackMessenger(services.settings, Mode.HTTP),
        services=services,
        poster_interval=0.0,
    )
    sched.scheduler.start(paused=True)  # jobs get their next run times; nothing fires on real time
    services.on_ritual_change = sched.sync_ritual
    services.checkins = sched.outbox
    yield sched
    sched.shutdown(wait=True)


def submit_setup(app: RunningApp, user: str = "U_MKT1", **values) -> dict:  # type: ignore[no-untyped-def]
    response = app.slack.view_submission(ids.VIEW_SETUP, values=setup_values(**values), user_id=user)
    assert response.status_code == 200
    app.drain()  # the confirmation is posted after the modal is acknowledged
    return response.json() if response.text else {}


def rituals(database: Database) -> list[Ritual]:
    with database.begin() as session:
        return list(session.scalars(select(Ritual).order_by(Ritual.id)))


def test_setup_opens_the_modal_with_the_users_timezone(running_app: RunningApp, world: FakeSlack) -> None:
    response = running_app.slack.command("setup", user_id="U_IT1", channel_id="C_SHARED")
    assert response.status_code == 200
    (call,) = world.wait_for("views.open")
    view = call.params["view"]
    assert view["callback_id"] == ids.VIEW_SETUP
    tz_block = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_TIMEZONE)
    assert tz_block["element"]["initial_option"]["value"] == "America/New_York"
    channel_block = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_CHANNEL)
    assert channel_block["element"]["initial_conversation"] == "C_SHARED"


def test_setup_saves_joins_and_confirms_with_the_next_time(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    assert submit_setup(running_app, marketing=("U_MKT1", "U_MKT2"), it=("U_IT1",)) == {}
    (ritual,) = rituals(database)
    assert (ritual.name, ritual.timezone, ritual.weekday, ritual.local_time) == (
        "Weekly sync",
        "Europe/Berlin",
        1,
        dt.time(9, 0),
    )
    assert world.calls("conversations.join")[0].params["channel"] == "C_SHARED"
    (confirmation,) = world.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C_SHARED")
    text = confirmation.params["text"] + str(confirmation.params["blocks"])
    assert "Weekly sync" in text and "<@U_MKT1>" in text and "<@U_MKT2>" in text and "<@U_IT1>" in text
    assert "Tue 24 Nov 2026" in text and "09:00" in text
    # Tandem learnt each member's side.
    with database.begin() as session:
        sides = dict(session.execute(select(Person.slack_user_id, Person.side)).all())
    assert sides == {"U_MKT1": Side.MARKETING, "U_MKT2": Side.MARKETING, "U_IT1": Side.IT}
    # Its next occurrence is stored with it: 09:00 Berlin (08:00 UTC) on Tuesday.
    assert scheduler.next_run(ritual.id) == dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


def test_the_pulse_window_is_set_in_the_modal_and_shown_when_editing(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    assert submit_setup(running_app, pulse_window="4") == {}
    (ritual,) = rituals(database)
    assert ritual.pulse_window_hours == 4
    world.clear()
    running_app.slack.command("edit", user_id="U_MKT1", channel_id="C_SHARED")
    (call,) = world.wait_for("views.open")
    block = next(
        b for b in call.params["view"]["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_PULSE_WINDOW
    )
    assert block["element"]["initial_option"]["value"] == "4"


@pytest.mark.parametrize(
    ("values", "block", "words"),
    [
        ({"time": "25:99"}, ids.BLOCK_SETUP_TIME, "like 09:00"),
        ({"it": ()}, ids.BLOCK_SETUP_IT, "IT"),
        ({"marketing": ()}, ids.BLOCK_SETUP_MARKETING, "marketing"),
        ({"channel": "G_PRIVATE"}, ids.BLOCK_SETUP_CHANNEL, "/invite @Tandem"),
        ({"channel": "C_GONE"}, ids.BLOCK_SETUP_CHANNEL, "can't see this channel"),
        ({"marketing": ("U_MKT1",), "it": ("U_MKT1",)}, None, "both marketing and IT"),
        ({"pulse_window": "99"}, ids.BLOCK_SETUP_PULSE_WINDOW, "how long a pulse stays open"),
    ],
)
def test_invalid_setup_is_shown_inline_and_saves_nothing(
    running_app: RunningApp, world: FakeSlack, database: Database, values: dict, block: str | None, words: str
) -> None:
    body = submit_setup(running_app, **values)
    assert body["response_action"] == "errors"
    if block is not None:
        assert words in body["errors"][block]
    else:
        assert any(words in message for message in body["errors"].values())
    assert rituals(database) == []
    assert world.calls("chat.postMessage") == []


def test_list_pause_resume_skip_and_permissions(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app)
    (ritual,) = rituals(database)
    slack = running_app.slack

    listing = slack.command("list", channel_id="C_SHARED").json()
    assert "Weekly sync" in str(listing) and "Tue 24 Nov 2026" in str(listing)

    refused = slack.command("pause", user_id="U_OUT", channel_id="C_SHARED").json()
    assert "Only the creator" in refused["text"]
    assert rituals(database)[0].status is RitualStatus.ACTIVE

    paused = slack.command("pause", user_id="U_IT1", channel_id="C_SHARED").json()
    assert "is paused" in paused["text"]
    assert rituals(database)[0].status is RitualStatus.PAUSED
    assert scheduler.next_run(ritual.id) is None

    by_admin = slack.command("resume Weekly sync", user_id="U_ADMIN", channel_id="C_OTHER").json()
    assert "back on" in by_admin["text"], by_admin
    assert scheduler.next_run(ritual.id) == dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)

    skipped = slack.command("skip", channel_id="C_SHARED").json()
    assert "Tue 24 Nov 2026" in skipped["text"] and "Tue 1 Dec 2026" in skipped["text"]
    holiday = slack.command("skip Weekly sync 2026-12-22", channel_id="C_SHARED").json()
    assert "Tue 22 Dec 2026" in holiday["text"]
    not_a_day = slack.command("skip Weekly sync 2026-12-23", channel_id="C_SHARED").json()
    assert "no check-in on Wed 23 Dec 2026" in not_a_day["text"]
    bad_date = slack.command("skip Weekly sync 2026-13-45", channel_id="C_SHARED").json()
    assert "is not a date" in bad_date["text"] and "/tandem skip Weekly sync 2026-12-24" in bad_date["text"]

    # The skipped Tuesday is not posted when it falls due.
    running_app.clock.set(dt.datetime(2026, 11, 24, 8, 0, 5, tzinfo=dt.UTC))
    world.clear()
    assert scheduler.fire(ritual.id) == []
    running_app.clock.set(dt.datetime(2026, 12, 1, 8, 0, 5, tzinfo=dt.UTC))
    assert len(scheduler.fire(ritual.id)) == 1


def test_commands_without_a_ritual_name_need_exactly_one_in_the_channel(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler
) -> None:
    none_here = running_app.slack.command("pause", channel_id="C_OTHER").json()
    assert (
        "no check-in in this channel" in none_here["text"]
        and "/tandem pause Weekly sync" in none_here["text"]
    )
    submit_setup(running_app, name="Weekly sync")
    submit_setup(running_app, name="Monthly review")
    two = running_app.slack.command("now", channel_id="C_SHARED").json()
    assert "2 check-ins" in two["text"] and "Monthly review" in two["text"]
    duplicate = submit_setup(running_app, name="weekly SYNC")
    assert "already has a check-in called" in duplicate["errors"][ids.BLOCK_SETUP_NAME]


def test_now_posts_a_checkin_with_a_prompt_and_its_why(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app, themes=("data",))
    world.clear()
    answer = running_app.slack.command("now", channel_id="C_SHARED").json()
    assert "Posting" in answer["text"]
    (post,) = world.wait_for("chat.postMessage")
    assert scheduler.outbox is not None and scheduler.outbox.join(5)
    blocks = post.params["blocks"]
    assert blocks[0]["type"] == "header" and "Weekly sync" in blocks[0]["text"]["text"]
    rendered = str(blocks)
    assert "Why this prompt" in rendered and "Data and analytics" in rendered
    assert "Weekly sync" in post.params["text"]
    assert "Missed" not in rendered  # no empty agenda sections
    with database.begin() as session:
        (occ,) = session.scalars(select(Occurrence)).all()
        assert occ.status is OccurrenceStatus.POSTED and occ.manual and occ.prompt_key.startswith("data-")


def test_delete_asks_to_confirm_and_keeps_history(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app)
    (ritual,) = rituals(database)
    running_app.slack.command("now", channel_id="C_SHARED")
    assert scheduler.outbox is not None and scheduler.outbox.join(5)
    ask = running_app.slack.command("delete", channel_id="C_SHARED").json()
    confirm = next(
        e
        for b in ask["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.ACTION_RITUAL_DELETE_CONFIRM
    )
    assert rituals(database)[0].status is RitualStatus.ACTIVE  # nothing yet
    running_app.slack.block_action(
        ids.ACTION_RITUAL_DELETE_CONFIRM, value=confirm["value"], response_url=world.response_url("del")
    )
    (said,) = world.wait_for("response_url", lambda c: c.path == "/response/del")
    assert "deleted" in said.params["text"]
    assert rituals(database)[0].status is RitualStatus.DELETED
    assert scheduler.next_run(ritual.id) is None
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(Occurrence)) == 1
    gone = running_app.slack.command("list", channel_id="C_SHARED").json()
    assert "Weekly sync" not in str(gone.get("blocks"))


def test_edit_opens_the_filled_in_modal_and_saves_changes(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app)
    (ritual,) = rituals(database)
    running_app.slack.command("edit", channel_id="C_SHARED")
    (opened,) = world.wait_for("views.open")
    view = opened.params["view"]
    name_block = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_NAME)
    assert name_block["element"]["initial_value"] == "Weekly sync"
    response = running_app.slack.view_submission(
        ids.VIEW_SETUP,
        values=setup_values(time="16:30", weekday=3),
        private_metadata=view["private_metadata"],
    )
    assert response.status_code == 200 and not response.text
    running_app.drain()  # the job is re-derived after the modal was acknowledged
    (edited,) = rituals(database)
    assert (edited.local_time, edited.weekday) == (dt.time(16, 30), 3)
    assert scheduler.next_run(ritual.id) == dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC)


def test_prompts_list_add_remove(running_app: RunningApp, world: FakeSlack) -> None:
    slack = running_app.slack
    listed = slack.command("prompts").json()
    assert "Data and analytics" in str(listed["blocks"])
    added = slack.command("prompts add data Which dashboard did nobody open last month, and why?").json()
    assert "Added prompt `ws-" in added["text"]
    key = added["text"].split("`")[1]
    assert key in str(slack.command("prompts").json()["blocks"])
    bad_theme = slack.command("prompts add astrology What is your sign?").json()
    assert "Unknown theme" in bad_theme["text"] and "Try: `/tandem prompts add" in bad_theme["text"]
    refused = slack.command(f"prompts remove {key}", user_id="U_OUT").json()
    assert "Only the person who added" in refused["text"]
    removed = slack.command(f"prompts remove {key}").json()
    assert "Removed" in removed["text"]
    assert "not a prompt id" in slack.command("prompts remove banana").json()["text"]


# -- who may change a ritual -------------------------------------------------------------------------


def test_outsiders_are_refused_everywhere_and_nothing_changes(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app)
    (ritual,) = rituals(database)
    slack = running_app.slack
    assert running_app.runtime.homes.join(10)  # the members' Home tabs, refreshed after the setup
    world.clear()

    for command in ("edit", "skip", "skip Weekly sync 2026-12-22", "now", "delete", "pause"):
        refused = slack.command(command, user_id="U_OUT", channel_id="C_SHARED").json()
        assert refused["text"].startswith(":no_entry: Only the creator of “Weekly sync”"), (command, refused)
        assert "blocks" not in refused  # no delete confirmation to click
    # U_OUT was asked about once per command (not an admin), and nothing else happened in Slack.
    assert {c.method for c in world.calls()} == {"users.info"}
    assert [c.params["user"] for c in world.calls("users.info")] == ["U_OUT"] * 6

    # The edit modal's submission, with the ritual's metadata, is refused inline too.
    answer = slack.view_submission(
        ids.VIEW_SETUP,
        values=setup_values(time="16:30"),
        private_metadata=json.dumps({"ritual_id": ritual.id}),
        user_id="U_OUT",
    ).json()
    assert answer["response_action"] == "errors"
    assert "Only its creator, members or an admin" in answer["errors"][ids.BLOCK_SETUP_NAME]

    # So is the delete confirmation button, were an outsider ever to click one.
    slack.block_action(
        ids.ACTION_RITUAL_DELETE_CONFIRM,
        value=str(ritual.id),
        user_id="U_OUT",
        response_url=world.response_url("out"),
    )
    (said,) = world.wait_for("response_url", lambda c: c.path == "/response/out")
    assert "Only its creator, members or an admin can delete it" in said.params["text"]

    running_app.settle()
    (unchanged,) = rituals(database)
    assert (unchanged.status, unchanged.local_time) == (RitualStatus.ACTIVE, dt.time(9, 0))
    with database.begin() as session:
        assert session.scalars(select(Occurrence)).all() == []  # nothing skipped, nothing posted
    assert world.calls("chat.postMessage") == [] and world.calls("views.open") == []
    assert scheduler.next_run(ritual.id) == dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


def test_delete_cancel_removes_the_question_and_keeps_the_ritual(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app)
    (ritual,) = rituals(database)
    ask = running_app.slack.command("delete", channel_id="C_SHARED").json()
    cancel = next(
        e
        for b in ask["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.ACTION_RITUAL_DELETE_CANCEL
    )
    running_app.slack.block_action(
        ids.ACTION_RITUAL_DELETE_CANCEL, value=cancel.get("value"), response_url=world.response_url("cancel")
    )
    (said,) = world.wait_for("response_url", lambda c: c.path == "/response/cancel")
    assert said.params.get("delete_original") is True
    assert rituals(database)[0].status is RitualStatus.ACTIVE
    assert scheduler.next_run(ritual.id) is not None


def test_list_in_a_channel_without_rituals_shows_all_of_yours(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler
) -> None:
    submit_setup(running_app, name="Weekly sync", marketing=("U_MKT1",))
    submit_setup(running_app, name="Budget review", channel="C_OTHER", marketing=("U_MKT2",), user="U_MKT2")
    # Elsewhere (a DM), U_MKT1 sees the one they belong to, with its channel and next time.
    mine = running_app.slack.command("list", user_id="U_MKT1", channel_id="D_MKT1").json()
    shown = str(mine["blocks"])
    assert "Your check-ins" in shown and "Weekly sync" in shown and "Tue 24 Nov 2026" in shown
    assert "Budget review" not in shown
    # An outsider belongs to none.
    none = running_app.slack.command("list", user_id="U_OUT", channel_id="D_OUT").json()
    assert "no check-ins that you are part of" in none["text"]


def test_an_unknown_ritual_name_says_so_with_the_way_out(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app)
    for command in ("pause Nope", "edit Nope", "now Nope", "skip Nope 2026-12-22", "delete Nope"):
        answer = running_app.slack.command(command, channel_id="C_SHARED").json()
        assert "I can't find a check-in called “Nope”" in answer["text"], command
        assert "/tandem list" in answer["text"]
    assert rituals(database)[0].status is RitualStatus.ACTIVE


@pytest.mark.parametrize(
    "typed", ["24.12.2026", "24/12/2026", "12/24/26", "2026/12/24", "Dec 24", "24 December 2026"]
)
def test_skip_with_a_date_in_another_format_shows_the_format(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database, typed: str
) -> None:
    submit_setup(running_app)
    answer = running_app.slack.command(f"skip Weekly sync {typed}", channel_id="C_SHARED").json()
    assert f"“{typed}” looks like a date" in answer["text"] and "YYYY-MM-DD" in answer["text"]
    assert "Try: `/tandem skip Weekly sync 2026-12-24`" in answer["text"]
    with database.begin() as session:
        assert session.scalars(select(Occurrence)).all() == []


def test_a_ritual_whose_name_ends_like_a_date_can_still_be_skipped(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app, name="Review 1.2.26")
    answer = running_app.slack.command("skip Review 1.2.26", channel_id="C_SHARED").json()
    assert "Skipping “Review 1.2.26” on Tue 24 Nov 2026" in answer["text"]


def test_names_with_wildcard_characters_are_plain_names(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app, name="Weekly sync")
    # With ILIKE, "%" and "_" matched "Weekly sync" and were refused as a clash.
    assert submit_setup(running_app, name="Weekly%") == {}
    assert submit_setup(running_app, name="Weekly_sync") == {}
    assert sorted(r.name for r in rituals(database)) == ["Weekly sync", "Weekly%", "Weekly_sync"]
    clash = submit_setup(running_app, name="WEEKLY_SYNC")
    assert "already has a check-in called “WEEKLY_SYNC”" in clash["errors"][ids.BLOCK_SETUP_NAME]


# -- the setup modal's checks before the ack ---------------------------------------------------------


def test_a_rejected_setup_never_joins_the_channel(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app, name="Weekly sync")
    world.channels["C_SHARED"].is_member = False  # someone removed Tandem meanwhile
    world.clear()
    clash = submit_setup(running_app, name="weekly SYNC")
    assert "already has a check-in called" in clash["errors"][ids.BLOCK_SETUP_NAME]
    # The name was checked first: Slack was not even asked about the channel.
    assert world.calls("conversations.join") == [] and world.calls("conversations.info") == []
    assert len(rituals(database)) == 1


def test_slack_answering_slowly_before_the_ack_gives_an_answer_within_three_seconds(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    world.method_latency["conversations.info"] = 4.0
    started = time.monotonic()
    body = submit_setup(running_app)
    assert time.monotonic() - started < 3.0
    assert "did not answer in time" in body["errors"][ids.BLOCK_SETUP_CHANNEL]
    assert rituals(database) == []


def test_a_rate_limited_admin_check_does_not_sleep_past_the_ack(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    submit_setup(running_app)
    # Slack says "wait 10 seconds": the sleeping 429 handler would outlast Slack's 3 seconds.
    world.fail("users.info", status=429, retry_after=10, times=None)
    started = time.monotonic()
    refused = running_app.slack.command("pause", user_id="U_ADMIN", channel_id="C_SHARED").json()
    assert time.monotonic() - started < 3.0
    assert "Slack did not say in time whether you are an admin" in refused["text"]
    assert rituals(database)[0].status is RitualStatus.ACTIVE
    world.clear_failures()
    assert (
        "is paused"
        in running_app.slack.command("pause", user_id="U_ADMIN", channel_id="C_SHARED").json()["text"]
    )


# -- tampered payloads and other workspaces ------------------------------------------------------------
# Validly signed requests carrying what Tandem never sent (a buggy client, a replay tool, a hostile
# workspace): each is answered in words or inline, changes nothing, and logs no unhandled error.


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def delete_click(app: RunningApp, value: str | None, **kwargs) -> str:  # type: ignore[no-untyped-def]
    """Click a delete confirmation carrying `value`; what Tandem answered through the response_url."""
    app.fake.clear()
    response = app.slack.block_action(
        ids.ACTION_RITUAL_DELETE_CONFIRM, value=value, response_url=app.fake.response_url("click"), **kwargs
    )
    assert response.status_code == 200
    (said,) = app.fake.wait_for("response_url", lambda c: c.path == "/response/click")
    return str(said.params["text"])


@pytest.mark.parametrize("value", ["abc", "-1", "0", "99999999999999999999999", "1.5", "", " ", "1e3", None])
def test_a_tampered_delete_button_is_answered_and_deletes_nothing(
    running_app: RunningApp,
    world: FakeSlack,
    scheduler: TandemScheduler,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    value: str | None,
) -> None:
    submit_setup(running_app)
    assert "This check-in no longer exists" in delete_click(running_app, value)
    assert [r.status for r in rituals(database)] == [RitualStatus.ACTIVE]
    assert errors_logged(caplog) == []


def test_another_workspace_can_neither_delete_nor_change_a_ritual_by_its_id(
    running_app: RunningApp,
    world: FakeSlack,
    scheduler: TandemScheduler,
    database: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    submit_setup(running_app)  # workspace T0001, created by U_MKT1
    (ritual,) = rituals(database)
    # From workspace T0002, by someone whose user id happens to be the creator's.
    elsewhere = {"team_id": "T0002", "user_id": "U_MKT1"}
    assert "This check-in no longer exists" in delete_click(running_app, str(ritual.id), **elsewhere)
    answer = running_app.slack.view_submission(
        ids.VIEW_SETUP,
        values=setup_values(name="Renamed", time="16:30"),
        private_metadata=json.dumps({"ritual_id": ritual.id}),
        **elsewhere,
    ).json()
    assert answer["response_action"] == "errors"
    assert "This check-in no longer exists" in answer["errors"][ids.BLOCK_SETUP_NAME]
    (unchanged,) = rituals(database)
    assert (unchanged.status, unchanged.name, unchanged.local_time) == (
        RitualStatus.ACTIVE,
        "Weekly sync",
        dt.time(9, 0),
    )
    assert scheduler.next_run(ritual.id) == dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    # By name, another workspace's rituals are not there at all.
    for command in ("pause Weekly sync", "delete Weekly sync", "now Weekly sync"):
        refused = running_app.slack.command(command, team_id="T0002", user_id="U_MKT1").json()
        assert "I can't find a check-in called “Weekly sync”" in refused["text"], command
    assert rituals(database)[0].status is RitualStatus.ACTIVE
    assert errors_logged(caplog) == []


@pytest.mark.parametrize(
    "metadata",
    [
        "not json",
        "[]",
        "{}",
        "null",
        json.dumps({"ritual_id": "1; drop"}),
        json.dumps({"ritual_id": -1}),
        json.dumps({"ritual_id": 0}),
        json.dumps({"ritual_id": 99999999999999999999999}),
        json.dumps({"ritual_id": True}),
        json.dumps({"ritual_id": 1.5}),
        json.dumps({"ritual_id": [1]}),
        json.dumps({"ritual_id": 424242}),  # no such ritual
    ],
)
def test_a_setup_with_tampered_metadata_saves_nothing(
    running_app: RunningApp,
    world: FakeSlack,
    scheduler: TandemScheduler,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    metadata: str,
) -> None:
    # It may have been meant as an edit: it neither edits nor silently creates a new ritual.
    response = running_app.slack.view_submission(
        ids.VIEW_SETUP, values=setup_values(), private_metadata=metadata
    )
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert "This check-in no longer exists" in body["errors"][ids.BLOCK_SETUP_NAME]
    assert rituals(database) == []
    assert world.calls("conversations.join") == [] and world.calls("chat.postMessage") == []
    assert errors_logged(caplog) == []


def test_a_setup_whose_metadata_names_no_ritual_creates_one(
    running_app: RunningApp, world: FakeSlack, scheduler: TandemScheduler, database: Database
) -> None:
    # What the setup modal writes for a new ritual.
    response = running_app.slack.view_submission(
        ids.VIEW_SETUP, values=setup_values(), private_metadata=json.dumps({"ritual_id": None})
    )
    assert response.status_code == 200 and not response.text
    assert [r.name for r in rituals(database)] == ["Weekly sync"]


def replaced(values: dict, block: str, action: str, element: object) -> dict:  # type: ignore[type-arg]
    values = {**values, block: {action: element}}
    return values


# Theme and checkbox values the modal never offered are dropped rather than refused (a tidy-up that
# test_blocks_rituals.test_valid_form_makes_a_cadence pins); everything else wrong is an inline error.
@pytest.mark.parametrize(
    ("tamper", "block"),
    [
        (lambda v: {}, ids.BLOCK_SETUP_CHANNEL),
        (lambda v: [], ids.BLOCK_SETUP_CHANNEL),
        (lambda v: "values", ids.BLOCK_SETUP_NAME),
        (lambda v: {k: "x" for k in v}, ids.BLOCK_SETUP_MARKETING),
        (lambda v: {k: {} for k in v}, ids.BLOCK_SETUP_TIME),
        (
            lambda v: replaced(
                v, ids.BLOCK_SETUP_CHANNEL, ids.ACTION_SETUP_CHANNEL, {"selected_conversation": 42}
            ),
            ids.BLOCK_SETUP_CHANNEL,
        ),
        (
            lambda v: replaced(
                v, ids.BLOCK_SETUP_CHANNEL, ids.ACTION_SETUP_CHANNEL, {"selected_conversation": ["C_SHARED"]}
            ),
            ids.BLOCK_SETUP_CHANNEL,
        ),
        (
            lambda v: replaced(
                v, ids.BLOCK_SETUP_MARKETING, ids.ACTION_SETUP_MARKETING, {"selected_users": "U_MKT1"}
            ),
            ids.BLOCK_SETUP_MARKETING,
        ),
        (
            lambda v: replaced(v, ids.BLOCK_SETUP_IT, ids.ACTION_SETUP_IT, {"selected_users": [7, None, {}]}),
            ids.BLOCK_SETUP_IT,
        ),
        (
            lambda v: replaced(v, ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME, {"value": 12}),
            ids.BLOCK_SETUP_NAME,
        ),
        (
            lambda v: replaced(v, ids.BLOCK_SETUP_NAME, ids.ACTION_SETUP_NAME, {"value": "x" * 5000}),
            ids.BLOCK_SETUP_NAME,
        ),
        (
            lambda v: replaced(
                v, ids.BLOCK_SETUP_CADENCE, ids.ACTION_SETUP_CADENCE, {"selected_option": {"value": "daily"}}
            ),
            ids.BLOCK_SETUP_CADENCE,
        ),
        (
            lambda v: replaced(
                v, ids.BLOCK_SETUP_CADENCE, ids.ACTION_SETUP_CADENCE, {"selected_option": "weekly"}
            ),
            ids.BLOCK_SETUP_CADENCE,
        ),
        (
            lambda v: replaced(
                v, ids.BLOCK_SETUP_WEEKDAY, ids.ACTION_SETUP_WEEKDAY, {"selected_option": {"value": "9"}}
            ),
            ids.BLOCK_SETUP_WEEKDAY,
        ),
        (
            lambda v: replaced(
                v, ids.BLOCK_SETUP_WEEKDAY, ids.ACTION_SETUP_WEEKDAY, {"selected_option": {"value": 1}}
            ),
            ids.BLOCK_SETUP_WEEKDAY,
        ),
        (
            lambda v: replaced(
                v,
                ids.BLOCK_SETUP_TIMEZONE,
                ids.ACTION_SETUP_TIMEZONE,
                {"selected_option": {"value": "Mars/Olympus"}},
            ),
            ids.BLOCK_SETUP_TIMEZONE,
        ),
        (
            lambda v: replaced(
                v,
                ids.BLOCK_SETUP_TIMEZONE,
                ids.ACTION_SETUP_TIMEZONE,
                {"selected_option": {"value": "../../etc/passwd"}},
            ),
            ids.BLOCK_SETUP_TIMEZONE,
        ),
        (
            lambda v: {
                **v,
                ids.BLOCK_SETUP_CADENCE: {
                    ids.ACTION_SETUP_CADENCE: {"selected_option": {"value": "every_n_weeks"}}
                },
                ids.BLOCK_SETUP_INTERVAL: {
                    ids.ACTION_SETUP_INTERVAL: {"selected_option": {"value": "99999999999"}}
                },
            },
            ids.BLOCK_SETUP_INTERVAL,
        ),
        (
            lambda v: replaced(
                v,
                ids.BLOCK_SETUP_PULSE_WINDOW,
                ids.ACTION_SETUP_PULSE_WINDOW,
                {"selected_option": {"value": "-1"}},
            ),
            ids.BLOCK_SETUP_PULSE_WINDOW,
        ),
    ],
)
def test_a_tampered_setup_form_gets_inline_errors_and_saves_nothing(
    running_app: RunningApp,
    world: FakeSlack,
    scheduler: TandemScheduler,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    tamper,  # type: ignore[no-untyped-def]
    block: str,
) -> None:
    response = running_app.slack.view_submission(ids.VIEW_SETUP, values=tamper(setup_values()))
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors" and body["errors"].get(block), body
    assert rituals(database) == []
    assert world.calls("conversations.join") == []
    assert errors_logged(caplog) == []


@pytest.mark.parametrize(
    "view",
    [
        {"id": "V1", "state": "garbage", "private_metadata": "not json"},
        {"id": "V1", "state": {"values": []}, "private_metadata": json.dumps({"ritual_id": "1; drop"})},
        {
            "id": "V1",
            "state": {"values": {ids.BLOCK_SETUP_NAME: {ids.ACTION_SETUP_NAME: {"value": "y" * 9000}}}},
        },
        {"state": {"values": {}}},  # no view id: nothing to rebuild
        {"id": 5, "hash": 7},
    ],
)
def test_a_tampered_cadence_change_rebuilds_at_most_and_logs_no_error(
    running_app: RunningApp,
    world: FakeSlack,
    scheduler: TandemScheduler,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    view: dict,  # type: ignore[type-arg]
) -> None:
    response = running_app.slack.block_action(
        ids.ACTION_SETUP_CADENCE,
        action_type="static_select",
        selected_option={"value": "monthly"},
        view=view,
        container={"type": "view", "view_id": "V1"},
    )
    assert response.status_code == 200
    running_app.drain()
    for call in world.calls("views.update"):
        assert call.params["view"]["callback_id"] == ids.VIEW_SETUP
    assert rituals(database) == []
    assert errors_logged(caplog) == []


@pytest.mark.parametrize(
    ("date", "words"),
    [
        ("9999-12-31", "more than five years ahead"),
        ("2031-12-31", "more than five years ahead"),
        ("0001-01-01", "is in the past"),
        ("0000-01-01", "is not a date"),
    ],
)
def test_skip_dates_are_bounded(
    running_app: RunningApp,
    world: FakeSlack,
    scheduler: TandemScheduler,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    date: str,
    words: str,
) -> None:
    submit_setup(running_app)
    answer = running_app.slack.command(f"skip Weekly sync {date}", channel_id="C_SHARED").json()
    assert words in answer["text"]
    with database.begin() as session:
        assert session.scalars(select(Occurrence)).all() == []
    assert errors_logged(caplog) == []
