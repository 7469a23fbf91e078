"""Shared wins, commitments, the ledger and the App Home, driven the way Slack drives them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import ids
from bot.config import Mode
from bot.messenger import SlackMessenger
from db.models import Commitment, CommitmentStatus, Win, WinDigest, Workspace
from db.rituals import RitualSpec, create_ritual
from db.session import Database
from jobs.cadence import Cadence, CadenceKind
from jobs.ledger import nudge_overdue, post_due_digests
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.conftest import RunningApp


@pytest.fixture
def world(running_app: RunningApp) -> RunningApp:
    fake = running_app.fake
    fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    for user in ("U_M1", "U_M2", "U_I1", "U_OUT"):
        fake.add_user(user, tz="Europe/Berlin")
    fake.add_user("U_GONE", deleted=True)
    with running_app.services.database.begin() as session:
        ws = Workspace(team_id="T0001")
        session.add(ws)
        session.flush()
        spec = RitualSpec(
            channel_id="C_SHARED",
            name="Weekly sync",
            cadence=Cadence(
                kind=CadenceKind.weekly, weekday=1, time_of_day=dt.time(9), timezone="Europe/Berlin"
            ),
            marketing=("U_M1", "U_M2"),
            it=("U_I1",),
            pulse_enabled=False,
        )
        create_ritual(session, ws, spec, created_by="U_M1", now=running_app.clock.now())
    return running_app


def win_values(
    *,
    what: str = "Launched the personalised onboarding emails",
    marketing=("U_M1",),
    it=("U_I1",),  # type: ignore[no-untyped-def]
    outcome: str = "Activation +12%",
    link: str = "",
    channel: str = "C_SHARED",
) -> dict[str, Any]:
    return {
        ids.BLOCK_WIN_WHAT: {ids.ACTION_WIN_WHAT: {"type": "plain_text_input", "value": what}},
        ids.BLOCK_WIN_MARKETING: {
            ids.ACTION_WIN_MARKETING: {"type": "multi_users_select", "selected_users": list(marketing)}
        },
        ids.BLOCK_WIN_IT: {ids.ACTION_WIN_IT: {"type": "multi_users_select", "selected_users": list(it)}},
        ids.BLOCK_WIN_OUTCOME: {ids.ACTION_WIN_OUTCOME: {"type": "plain_text_input", "value": outcome}},
        ids.BLOCK_WIN_LINK: {ids.ACTION_WIN_LINK: {"type": "plain_text_input", "value": link}},
        ids.BLOCK_WIN_CHANNEL: {
            ids.ACTION_WIN_CHANNEL: {"type": "conversations_select", "selected_conversation": channel}
        },
    }


def commit_values(
    *, what="Ship the shared lead-scoring dashboard", m="U_M1", i="U_I1", due="2026-12-04"
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        ids.BLOCK_COMMIT_WHAT: {ids.ACTION_COMMIT_WHAT: {"type": "plain_text_input", "value": what}},
        ids.BLOCK_COMMIT_MARKETING: {
            ids.ACTION_COMMIT_MARKETING: {"type": "users_select", "selected_user": m}
        },
        ids.BLOCK_COMMIT_IT: {ids.ACTION_COMMIT_IT: {"type": "users_select", "selected_user": i}},
        ids.BLOCK_COMMIT_DUE: {ids.ACTION_COMMIT_DUE: {"type": "datepicker", "selected_date": due}},
    }


def count(database: Database, model) -> int:  # type: ignore[no-untyped-def]
    with database.begin() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_win_modal_opens_and_a_win_is_celebrated_crediting_both_sides(world: RunningApp) -> None:
    world.slack.command("win", channel_id="C_SHARED")
    (opened,) = world.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == ids.VIEW_WIN
    response = world.slack.view_submission(
        ids.VIEW_WIN, values=win_values(marketing=("U_M1", "U_M2")), user_id="U_M1"
    )
    assert response.status_code == 200 and not response.text
    world.drain()
    (post,) = world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C_SHARED")
    rendered = post.params["text"] + json.dumps(post.params["blocks"])
    for person in ("<@U_M1>", "<@U_M2>", "<@U_I1>"):
        assert person in rendered
    assert "Activation +12%" in rendered and "onboarding emails" in rendered
    with world.services.database.begin() as session:
        win = session.scalars(select(Win)).one()
        assert win.message_ts and win.ritual_id is not None


@pytest.mark.parametrize(
    ("values", "block", "words"),
    [
        ({"it": ()}, ids.BLOCK_WIN_IT, "IT"),
        ({"marketing": ()}, ids.BLOCK_WIN_MARKETING, "marketing"),
        ({"what": "x" * 3214}, ids.BLOCK_WIN_WHAT, "3,214"),
        ({"link": "not a link"}, ids.BLOCK_WIN_LINK, ""),
    ],
)
def test_invalid_wins_are_shown_inline_and_save_nothing(
    world: RunningApp, values: dict, block: str, words: str
) -> None:
    body = world.slack.view_submission(ids.VIEW_WIN, values=win_values(**values), user_id="U_M1").json()
    assert body["response_action"] == "errors" and words in body["errors"][block]
    assert count(world.services.database, Win) == 0


def test_message_shortcut_prefills_the_modal(world: RunningApp) -> None:
    message = {
        "type": "message",
        "ts": "1700000000.000500",
        "text": "We hit 10k sign-ups thanks to the new form!",
        "user": "U_M2",
    }
    world.slack.message_shortcut(
        ids.SHORTCUT_CELEBRATE, message=message, channel_id="C_SHARED", user_id="U_M1"
    )
    (opened,) = world.fake.wait_for("views.open")
    rendered = json.dumps(opened.params["view"])
    assert ("10k sign-ups" in rendered and "permalink" in rendered) or "C_SHARED" in rendered


def test_only_the_creator_edits_or_withdraws_a_win(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    with world.services.database.begin() as session:
        win_id = session.scalars(select(Win.id)).one()
    world.slack.block_action(
        ids.ACTION_WIN_WITHDRAW, value=str(win_id), user_id="U_I1", response_url=world.fake.response_url("w1")
    )
    world.drain()
    (refusal,) = world.fake.wait_for("response_url", lambda c: c.path == "/response/w1")
    assert "Only <@U_M1>" in refusal.params["text"]
    world.slack.block_action(ids.ACTION_WIN_WITHDRAW, value=str(win_id), user_id="U_M1")
    world.drain()
    (update,) = world.fake.wait_for("chat.update")
    assert "withdrawn" in update.params["text"]
    with world.services.database.begin() as session:
        assert session.get(Win, win_id).withdrawn_at is not None  # type: ignore[union-attr]


def test_commitment_modal_validation_and_creation(world: RunningApp) -> None:
    database = world.services.database
    past = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(due="2026-11-01"), user_id="U_M1"
    ).json()
    assert "past" in past["errors"][ids.BLOCK_COMMIT_DUE]
    same = world.slack.view_submission(ids.VIEW_COMMIT, values=commit_values(i="U_M1"), user_id="U_M1").json()
    assert same["response_action"] == "errors"
    gone = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(i="U_GONE"), user_id="U_M1"
    ).json()
    assert "left the workspace" in gone["errors"][ids.BLOCK_COMMIT_IT]
    assert count(database, Commitment) == 0

    world.slack.command("commit", channel_id="C_SHARED", user_id="U_M1")
    (opened,) = world.fake.wait_for("views.open")
    ok = world.slack.view_submission(
        ids.VIEW_COMMIT,
        values=commit_values(),
        user_id="U_M1",
        private_metadata=opened.params["view"]["private_metadata"],
    )
    assert ok.status_code == 200 and not ok.text
    world.drain()
    confirmation = world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C_SHARED")[-1]
    assert "<@U_M1>" in json.dumps(confirmation.params) and "<@U_I1>" in json.dumps(confirmation.params)
    with database.begin() as session:
        commitment = session.scalars(select(Commitment)).one()
        assert commitment.ritual_id is not None and commitment.due_date == dt.date(2026, 12, 4)


def _commitment_id(database: Database) -> int:
    with database.begin() as session:
        return session.scalars(select(Commitment.id)).one()


def test_owners_mark_done_and_others_are_refused(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_COMMIT, values=commit_values(), user_id="U_M2")
    world.drain()
    cid = _commitment_id(world.services.database)
    world.slack.block_action(
        ids.ACTION_COMMIT_DONE, value=str(cid), user_id="U_OUT", response_url=world.fake.response_url("c")
    )
    world.drain()
    assert (
        "Only its owners"
        in world.fake.wait_for("response_url", lambda c: c.path == "/response/c")[0].params["text"]
    )
    world.slack.block_action(ids.ACTION_COMMIT_DONE, value=str(cid), user_id="U_I1")
    world.drain()
    with world.services.database.begin() as session:
        assert session.get(Commitment, cid).status is CommitmentStatus.DONE  # type: ignore[union-attr]


def test_overdue_commitments_get_one_nudge_to_both_owners(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_COMMIT, values=commit_values(due="2026-11-24"), user_id="U_M1")
    world.drain()
    world.fake.clear()  # forget the confirmation DMs (a commitment outside a ritual is confirmed to its owners)
    services = world.services
    assert services.messenger is not None
    later = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    assert nudge_overdue(services.database, services.messenger, now=later) == 2
    assert nudge_overdue(services.database, services.messenger, now=later + dt.timedelta(hours=1)) == 0
    assert nudge_overdue(services.database, services.messenger, now=later + dt.timedelta(days=2)) == 0
    dms = [
        c.params["channel"]
        for c in world.fake.calls("chat.postMessage")
        if c.params["channel"].startswith("U_")
    ]
    assert sorted(dms) == ["U_I1", "U_M1"]  # one nudge to each owner, ever (until the date is moved)


def test_monthly_digest_exactly_once_per_channel_across_a_restart(world: RunningApp, settings) -> None:  # type: ignore[no-untyped-def]
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    database = world.services.database
    end_of_month = dt.datetime(2026, 11, 30, 15, 5, tzinfo=dt.UTC)  # 16:05 in Berlin
    for _restart in range(2):
        scheduler = TandemScheduler(database, FrozenClock(end_of_month), SlackMessenger(settings, Mode.HTTP))
        scheduler.ledger_work()
        scheduler.ledger_work()
        scheduler.shutdown()
    digests = [
        c
        for c in world.fake.calls("chat.postMessage")
        if c.params["channel"] == "C_SHARED" and "November 2026" in c.params["text"]
    ]
    assert len(digests) == 1
    assert "onboarding emails" in json.dumps(digests[0].params["blocks"])
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(WinDigest)) == 1
    # Before the end of the month nothing was due.
    assert (
        post_due_digests(
            database, SlackMessenger(settings, Mode.HTTP), now=end_of_month - dt.timedelta(days=1)
        )
        == 0
    )


def test_wins_command_shows_the_month(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    shown = world.slack.command("wins", channel_id="C_SHARED").json()
    assert "onboarding emails" in json.dumps(shown) and "November 2026" in json.dumps(shown)
    bad = world.slack.command("wins Weekly sync 2026-13", channel_id="C_SHARED").json()
    assert "not" in bad["text"] or "find" in bad["text"]


def test_home_tab_is_published_on_open_and_within_limits(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.slack.view_submission(ids.VIEW_COMMIT, values=commit_values(), user_id="U_M1")
    world.drain()
    assert world.runtime.homes is not None and world.runtime.homes.join(10)
    world.fake.clear()
    world.slack.event({"type": ids.EVENT_APP_HOME_OPENED, "user": "U_M1", "tab": "home", "channel": "D1"})
    world.drain()
    (published,) = world.fake.wait_for("views.publish", lambda c: c.params["user_id"] == "U_M1")
    view = published.params["view"]
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    rendered = json.dumps(view)
    assert "Weekly sync" in rendered and "onboarding emails" in rendered and "lead-scoring" in rendered


def test_a_failing_home_publish_never_blocks_the_action(world: RunningApp) -> None:
    world.fake.fail("views.publish", status=500, times=None)
    response = world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    assert response.status_code == 200 and not response.text
    world.drain()
    assert world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C_SHARED")


def test_the_checkin_agenda_lists_new_wins_and_open_commitments_with_an_add_button(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.slack.command("commit", channel_id="C_SHARED", user_id="U_M1")
    (opened,) = world.fake.wait_for("views.open")
    world.slack.view_submission(
        ids.VIEW_COMMIT,
        values=commit_values(),
        user_id="U_M1",
        private_metadata=opened.params["view"]["private_metadata"],
    )
    world.drain()
    world.fake.clear()
    world.slack.command("now", channel_id="C_SHARED", user_id="U_M1")
    world.settle()
    (checkin,) = world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C_SHARED")
    blocks = checkin.params["blocks"]
    rendered = json.dumps(blocks)
    assert "Wins since the last check-in" in rendered and "onboarding emails" in rendered
    assert "lead-scoring dashboard" in rendered
    elements = [
        e
        for b in blocks
        for e in ([b.get("accessory")] if b.get("accessory") else []) + b.get("elements", [])
    ]
    assert any(e.get("action_id") == ids.ACTION_COMMIT_MENU for e in elements)
    assert any(e.get("action_id") == ids.ACTION_COMMIT_ADD for e in elements)
    assert len(blocks) <= 50


def test_commitment_menu_moves_the_date_and_drops_with_a_reason(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_COMMIT, values=commit_values(), user_id="U_M1")
    world.drain()
    cid = _commitment_id(world.services.database)
    # "New date" from the overflow menu opens the move modal.
    world.slack.block_action(
        ids.ACTION_COMMIT_MENU,
        action_type="overflow",
        selected_option={"value": f"move:{cid}"},
        user_id="U_I1",
    )
    world.drain()
    (opened,) = world.fake.wait_for("views.open")
    move = opened.params["view"]
    past = {
        ids.BLOCK_COMMIT_MOVE_DUE: {
            ids.ACTION_COMMIT_MOVE_DUE: {"type": "datepicker", "selected_date": "2026-11-01"}
        }
    }
    refused = world.slack.view_submission(
        ids.VIEW_COMMIT_MOVE, values=past, user_id="U_I1", private_metadata=move["private_metadata"]
    ).json()
    assert "past" in refused["errors"][ids.BLOCK_COMMIT_MOVE_DUE]
    later = {
        ids.BLOCK_COMMIT_MOVE_DUE: {
            ids.ACTION_COMMIT_MOVE_DUE: {"type": "datepicker", "selected_date": "2026-12-18"}
        }
    }
    ok = world.slack.view_submission(
        ids.VIEW_COMMIT_MOVE, values=later, user_id="U_I1", private_metadata=move["private_metadata"]
    )
    assert ok.status_code == 200 and not ok.text
    world.drain()
    with world.services.database.begin() as session:
        assert session.get(Commitment, cid).due_date == dt.date(2026, 12, 18)  # type: ignore[union-attr]

    world.slack.block_action(
        ids.ACTION_COMMIT_MENU,
        action_type="overflow",
        selected_option={"value": f"drop:{cid}"},
        user_id="U_M1",
    )
    world.drain()
    drop = world.fake.wait_for("views.open", count=2)[-1].params["view"]
    empty = {
        ids.BLOCK_COMMIT_DROP_REASON: {
            ids.ACTION_COMMIT_DROP_REASON: {"type": "plain_text_input", "value": ""}
        }
    }
    assert (
        world.slack.view_submission(
            ids.VIEW_COMMIT_DROP, values=empty, user_id="U_M1", private_metadata=drop["private_metadata"]
        ).json()["response_action"]
        == "errors"
    )
    reason = {
        ids.BLOCK_COMMIT_DROP_REASON: {
            ids.ACTION_COMMIT_DROP_REASON: {"type": "plain_text_input", "value": "Budget moved to Q1"}
        }
    }
    world.slack.view_submission(
        ids.VIEW_COMMIT_DROP, values=reason, user_id="U_M1", private_metadata=drop["private_metadata"]
    )
    world.drain()
    with world.services.database.begin() as session:
        dropped = session.get(Commitment, cid)
        assert (
            dropped is not None
            and dropped.status is CommitmentStatus.DROPPED
            and dropped.reason == "Budget moved to Q1"
        )


def test_the_creator_edits_a_win_and_the_celebration_is_updated(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    with world.services.database.begin() as session:
        win_id = session.scalars(select(Win.id)).one()
    world.slack.block_action(ids.ACTION_WIN_EDIT, value=str(win_id), user_id="U_M1")
    world.drain()
    (opened,) = world.fake.wait_for("views.open")
    edited = world.slack.view_submission(
        ids.VIEW_WIN,
        values=win_values(what="Launched personalised onboarding in 4 languages", outcome="Activation +15%"),
        user_id="U_M1",
        private_metadata=opened.params["view"]["private_metadata"],
    )
    assert edited.status_code == 200 and not edited.text
    world.drain()
    (update,) = world.fake.wait_for("chat.update")
    assert "4 languages" in json.dumps(update.params["blocks"]) and "+15%" in json.dumps(
        update.params["blocks"]
    )
