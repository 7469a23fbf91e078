"""Shared wins, commitments, the ledger and the App Home, driven the way Slack drives them."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import ids
from bot.config import Mode
from bot.messenger import SlackMessenger
from bot.usecases.commitments import nudge_overdue
from bot.usecases.wins import post_due_digests
from db.models import (
    Commitment,
    CommitmentStatus,
    OccurrenceStatus,
    Ritual,
    RitualStatus,
    Win,
    WinDigest,
)
from db.session import Database
from jobs.direct_messages import run as send_held_dms
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.conftest import RunningApp
from tests.fake_slack import TEAM_DOMAIN
from tests.world import World


def element(view: dict[str, Any], action_id: str) -> dict[str, Any]:
    """The input element with this action id in a view."""
    (found,) = [b["element"] for b in view["blocks"] if b.get("element", {}).get("action_id") == action_id]
    return found


@pytest.fixture
def world(running_app: RunningApp) -> RunningApp:
    fake = running_app.fake
    fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    for user in ("U_M1", "U_M2", "U_I1", "U_OUT"):
        fake.add_user(user, tz="Europe/Berlin")
    fake.add_user("U_GONE", deleted=True)
    World(running_app.services.database, running_app.clock).ritual(
        marketing=("U_M1", "U_M2"), it=("U_I1",), pulse_enabled=False
    )
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
    view = opened.params["view"]
    assert (
        element(view, ids.ACTION_WIN_WHAT)["initial_value"] == "We hit 10k sign-ups thanks to the new form!"
    )
    assert (
        element(view, ids.ACTION_WIN_LINK)["initial_value"]
        == f"https://{TEAM_DOMAIN}.slack.com/archives/C_SHARED/p1700000000000500"
    )
    assert element(view, ids.ACTION_WIN_CHANNEL)["initial_conversation"] == "C_SHARED"
    assert "characters" not in json.dumps(view)  # no length notice for a short message


@pytest.mark.parametrize(("length", "shown"), [(2_800, 2_800), (4_100, 3_000)])
def test_a_long_message_is_never_cut_silently(world: RunningApp, length: int, shown: int) -> None:
    text = ("We shipped the shared lead-scoring model. " * 200)[:length]
    world.slack.message_shortcut(
        ids.SHORTCUT_CELEBRATE,
        message={"type": "message", "ts": "1700000000.000600", "text": text},
        user_id="U_M1",
    )
    (opened,) = world.fake.wait_for("views.open")
    view = opened.params["view"]
    prefilled = element(view, ids.ACTION_WIN_WHAT)["initial_value"]
    # All of it when Slack's input can hold it (3,000), else as much as it holds.
    assert prefilled == text[:shown]
    notice = json.dumps(view["blocks"][0])
    assert f"This text has {length:,} characters and a win can have up to 2,500" in notice
    assert ("Only the first 3,000 fit in the box below" in notice) == (length > 3_000)
    # Submitting it as it is gets the inline error with the count, and saves nothing.
    body = world.slack.view_submission(ids.VIEW_WIN, values=win_values(what=prefilled), user_id="U_M1").json()
    assert f"{shown:,} characters" in body["errors"][ids.BLOCK_WIN_WHAT]
    assert count(world.services.database, Win) == 0


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
    assert nudge_overdue(services, now=later) == 2
    assert nudge_overdue(services, now=later + dt.timedelta(hours=1)) == 0
    assert nudge_overdue(services, now=later + dt.timedelta(days=2)) == 0
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
        scheduler = TandemScheduler(
            database, FrozenClock(end_of_month), SlackMessenger(settings, Mode.HTTP), services=world.services
        )
        scheduler.ledger_work()
        scheduler.ledger_work()
        scheduler.shutdown()
        world.settle()  # the digest goes out through the channel's pacing (the runtime's outbox)
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
    assert post_due_digests(world.services, now=end_of_month - dt.timedelta(days=1)) == 0


def test_a_month_without_wins_posts_no_digest(world: RunningApp, settings) -> None:  # type: ignore[no-untyped-def]
    database = world.services.database
    end_of_month = dt.datetime(2026, 11, 30, 15, 5, tzinfo=dt.UTC)  # 16:05 in Berlin
    scheduler = TandemScheduler(
        database, FrozenClock(end_of_month), SlackMessenger(settings, Mode.HTTP), services=world.services
    )
    scheduler.ledger_work()
    scheduler.ledger_work()
    scheduler.shutdown()
    world.settle()
    assert [c for c in world.fake.calls("chat.postMessage") if "November 2026" in c.params["text"]] == []
    with database.begin() as session:
        # Claimed once and recorded as skipped: the month is not looked at again.
        (status,) = session.scalars(select(WinDigest.status)).all()
    assert status is OccurrenceStatus.SKIPPED


def test_a_digest_slack_refuses_for_its_channel_pauses_the_ritual(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    world.fake.clear()
    world.fake.fail("chat.postMessage", error="is_archived")
    end_of_month = dt.datetime(2026, 11, 30, 15, 5, tzinfo=dt.UTC)  # 16:05 in Berlin
    assert post_due_digests(world.services, now=end_of_month) == 1  # queued into its channel
    world.settle()
    with world.services.database.begin() as session:
        ritual = session.scalars(select(Ritual)).one()
        digest = session.scalars(select(WinDigest)).one()
        assert ritual.status is RitualStatus.PAUSED and "archived" in (ritual.paused_reason or "")
        assert digest.status is OccurrenceStatus.FAILED
    # Its creator is told why, and how to resume.
    (dm,) = world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "U_M1")
    assert "archived" in dm.params["text"]


def test_a_celebration_slack_refuses_for_its_channel_pauses_the_ritual(world: RunningApp) -> None:
    world.fake.fail("chat.postMessage", error="channel_not_found")
    response = world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    assert response.status_code == 200 and not response.text
    world.drain()
    with world.services.database.begin() as session:
        ritual = session.scalars(select(Ritual)).one()
        win = session.scalars(select(Win)).one()
        assert ritual.status is RitualStatus.PAUSED and win.message_ts is None
    assert world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "U_M1")


def test_wins_command_shows_the_month(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    shown = world.slack.command("wins", channel_id="C_SHARED").json()
    assert "onboarding emails" in json.dumps(shown) and "November 2026" in json.dumps(shown)
    bad = world.slack.command("wins Weekly sync 2026-13", channel_id="C_SHARED").json()
    assert bad["text"] == ":warning: “2026-13” is not a month. Try 2026-11, november, or last-month."
    # Also with the ritual left out, in its channel.
    alone = world.slack.command("wins 2026-13", channel_id="C_SHARED").json()
    assert "“2026-13” is not a month" in alone["text"]
    # A name that matches no ritual is still about the ritual.
    unknown = world.slack.command("wins Monthly review", channel_id="C_SHARED").json()
    assert "not a month" not in unknown["text"] and "Monthly review" in unknown["text"]


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


def celebrate_and_commit_in_the_ritual(world: RunningApp) -> None:
    """U_M1 celebrates a win in the ritual's channel and adds a commitment to the ritual."""
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


def test_the_checkin_agenda_lists_new_wins_and_open_commitments_with_an_add_button(world: RunningApp) -> None:
    celebrate_and_commit_in_the_ritual(world)
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


# -- editing a win ---------------------------------------------------------------------------------


def _edit(world: RunningApp, win_id: int, **values: Any):  # type: ignore[no-untyped-def]
    world.fake.clear()
    world.slack.block_action(ids.ACTION_WIN_EDIT, value=str(win_id), user_id="U_M1")
    world.drain()
    (opened,) = world.fake.wait_for("views.open")
    response = world.slack.view_submission(
        ids.VIEW_WIN,
        values=win_values(**values),
        user_id="U_M1",
        private_metadata=opened.params["view"]["private_metadata"],
    )
    assert response.status_code == 200 and not response.text
    world.drain()


def test_moving_a_win_to_another_channel_celebrates_it_there_and_points_the_old_message_to_it(
    world: RunningApp,
) -> None:
    world.fake.add_channel("C_OTHER", name="launches", is_member=True)
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    with world.services.database.begin() as session:
        win = session.scalars(select(Win)).one()
        win_id, first_ts = win.id, win.message_ts
    assert first_ts

    _edit(world, win_id, channel="C_OTHER")
    (post,) = world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C_OTHER")
    assert "onboarding emails" in json.dumps(post.params["blocks"])
    (note,) = world.fake.wait_for("chat.update")
    assert (note.params["channel"], note.params["ts"]) == ("C_SHARED", first_ts)
    assert "now celebrated in <#C_OTHER>" in note.params["text"]
    with world.services.database.begin() as session:
        moved = session.get(Win, win_id)
        assert moved is not None
        (posted_ts,) = [ts for (channel, ts) in world.fake.messages if channel == "C_OTHER"]
        assert (moved.channel_id, moved.message_ts) == ("C_OTHER", posted_ts)
        new_ts = moved.message_ts

    # A later edit in the same channel updates the new message in place.
    _edit(world, win_id, channel="C_OTHER", outcome="Activation +20%")
    (update,) = world.fake.wait_for("chat.update")
    assert (update.params["channel"], update.params["ts"]) == ("C_OTHER", new_ts)
    assert "+20%" in json.dumps(update.params["blocks"])
    assert not world.fake.calls("chat.postMessage")


def test_people_taken_off_a_win_see_it_leave_their_home_tab(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(marketing=("U_M1", "U_M2")), user_id="U_M1")
    world.drain()
    homes = world.runtime.homes
    assert homes is not None and homes.join(10)
    with world.services.database.begin() as session:
        win_id = session.scalars(select(Win.id)).one()
    _edit(world, win_id, marketing=("U_M1",))
    assert homes.join(10)
    published = {c.params["user_id"]: c.params["view"] for c in world.fake.calls("views.publish")}
    assert {"U_M1", "U_M2", "U_I1"} <= set(published)
    assert "onboarding emails" not in json.dumps(published["U_M2"])
    assert "onboarding emails" in json.dumps(published["U_M1"])


def test_withdrawing_when_slack_refuses_the_update_still_withdraws_and_says_so(world: RunningApp) -> None:
    world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1")
    world.drain()
    with world.services.database.begin() as session:
        win_id = session.scalars(select(Win.id)).one()
    world.fake.fail("chat.update", error="message_not_found")
    world.slack.block_action(
        ids.ACTION_WIN_WITHDRAW, value=str(win_id), user_id="U_M1", response_url=world.fake.response_url("wd")
    )
    world.drain()
    (told,) = world.fake.wait_for("response_url", lambda c: c.path == "/response/wd")
    assert told.params["response_type"] == "ephemeral"
    assert "Your win is withdrawn" in told.params["text"] and "message_not_found" in told.params["text"]
    with world.services.database.begin() as session:
        assert session.get(Win, win_id).withdrawn_at is not None  # type: ignore[union-attr]


# -- checks before the ack -------------------------------------------------------------------------


def test_a_rate_limited_check_before_the_ack_answers_at_once_instead_of_sleeping(world: RunningApp) -> None:
    # A 429 asking for 30 s: the full client would sleep through it and miss Slack's 3 s.
    world.fake.fail("conversations.info", status=429, retry_after=30, times=None)
    started = time.monotonic()
    body = world.slack.view_submission(ids.VIEW_WIN, values=win_values(), user_id="U_M1").json()
    assert time.monotonic() - started < 2.5
    assert "ratelimited" in body["errors"][ids.BLOCK_WIN_CHANNEL]
    assert len(world.fake.calls("conversations.info")) == 1  # one try, no retry
    assert count(world.services.database, Win) == 0

    world.fake.fail("users.info", status=429, retry_after=30, times=None)
    started = time.monotonic()
    response = world.slack.view_submission(ids.VIEW_COMMIT, values=commit_values(), user_id="U_M1")
    assert time.monotonic() - started < 2.5
    # Slack could not say whether the owners left: they get the benefit of the doubt.
    assert response.status_code == 200 and not response.text
    assert len(world.fake.calls("users.info")) == 2  # the submitter (also an owner) and the IT owner
    assert count(world.services.database, Commitment) == 1


# -- commitments: who may change them, and the buttons that add them ------------------------------


def test_a_ritual_lead_may_change_a_commitment_and_other_members_may_not(world: RunningApp) -> None:
    database = world.services.database
    world.fake.add_user("U_I2", tz="Europe/Berlin")
    with database.read() as session:
        ritual_id = session.scalars(select(Ritual.id)).one()
    cid = World(database, world.clock).commitment(
        what="Agree the tracking plan",
        marketing_owner="U_OUT",
        it_owner="U_I2",
        due=dt.date(2026, 12, 4),
        ritual_id=ritual_id,
        created_by="U_I2",
    )
    # U_M2 is a member but not a lead (U_M1 was named first for marketing): refused.
    world.slack.block_action(
        ids.ACTION_COMMIT_DONE, value=str(cid), user_id="U_M2", response_url=world.fake.response_url("m2")
    )
    world.drain()
    (refusal,) = world.fake.wait_for("response_url", lambda c: c.path == "/response/m2")
    assert "ritual's lead" in refusal.params["text"]
    with database.begin() as session:
        assert session.get(Commitment, cid).status is CommitmentStatus.OPEN  # type: ignore[union-attr]
    # U_I1, the IT lead (named first for IT), neither an owner nor its creator: allowed.
    world.slack.block_action(ids.ACTION_COMMIT_DONE, value=str(cid), user_id="U_I1")
    world.drain()
    with database.begin() as session:
        done = session.get(Commitment, cid)
        assert done is not None and done.status is CommitmentStatus.DONE and done.closed_by == "U_I1"


def _buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        e["action_id"]: e
        for b in blocks
        for e in ([b["accessory"]] if b.get("accessory") else []) + b.get("elements", [])
        if e.get("type") == "button"
    }


def test_the_checkins_add_a_commitment_button_opens_the_modal_for_that_ritual(world: RunningApp) -> None:
    world.slack.command("now", channel_id="C_SHARED", user_id="U_M1")
    world.settle()
    (checkin,) = world.fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C_SHARED")
    add = _buttons(checkin.params["blocks"])[ids.ACTION_COMMIT_ADD]
    world.slack.block_action(
        ids.ACTION_COMMIT_ADD, value=add["value"], user_id="U_I1", message_ts=checkin.params.get("ts")
    )
    world.drain()
    (opened,) = world.fake.wait_for("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == ids.VIEW_COMMIT
    response = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(), user_id="U_I1", private_metadata=view["private_metadata"]
    )
    assert response.status_code == 200 and not response.text
    world.drain()
    with world.services.database.begin() as session:
        commitment = session.scalars(select(Commitment)).one()
        ritual = session.scalars(select(Ritual)).one()
        assert commitment.ritual_id == ritual.id and commitment.channel_id == "C_SHARED"
        assert commitment.created_by == "U_I1"


def test_the_home_tabs_buttons_open_their_modals(world: RunningApp) -> None:
    world.slack.event({"type": ids.EVENT_APP_HOME_OPENED, "user": "U_M1", "tab": "home", "channel": "D1"})
    world.drain()
    (published,) = world.fake.wait_for("views.publish", lambda c: c.params["user_id"] == "U_M1")
    home = published.params["view"]
    buttons = _buttons(home["blocks"])
    expected = {
        ids.ACTION_HOME_NEW_RITUAL: ids.VIEW_SETUP,
        ids.ACTION_HOME_NEW_WIN: ids.VIEW_WIN,
        ids.ACTION_HOME_NEW_COMMIT: ids.VIEW_COMMIT,
    }
    assert set(expected) <= set(buttons)
    opened_views = {}
    for action_id, callback_id in expected.items():
        world.fake.clear()
        world.slack.block_action(
            action_id, value=buttons[action_id].get("value"), user_id="U_M1", view={**home, "id": "VHOME"}
        )
        world.drain()
        (opened,) = world.fake.wait_for("views.open")
        assert opened.params["view"]["callback_id"] == callback_id
        opened_views[callback_id] = opened.params["view"]
    # The new-ritual form starts in the person's own timezone (from users.info), not UTC.
    assert "Europe/Berlin" in json.dumps(opened_views[ids.VIEW_SETUP])
    assert "Europe/Berlin" not in json.dumps(opened_views[ids.VIEW_WIN])


# -- dates in the right timezone -------------------------------------------------------------------


def test_past_due_dates_are_judged_by_the_submitters_own_date(world: RunningApp) -> None:
    world.fake.add_user("U_HNL", tz="Pacific/Honolulu")
    world.fake.add_user("U_TYO", tz="Asia/Tokyo")
    database = world.services.database
    # 09:00 UTC on 23 November is still 22 November, 23:00, in Honolulu: a due date of the 22nd is
    # today there (UTC would call it past), and past in Tokyo (18:00 on the 23rd).
    refused = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(due="2026-11-22", m="U_TYO"), user_id="U_TYO"
    ).json()
    assert "past" in refused["errors"][ids.BLOCK_COMMIT_DUE]
    accepted = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(due="2026-11-22", m="U_HNL"), user_id="U_HNL"
    )
    assert accepted.status_code == 200 and not accepted.text
    # 20:00 UTC: already 24 November in Tokyo, so the 23rd is past there but not in Honolulu.
    world.clock.set(dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC))
    refused = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(due="2026-11-23", m="U_TYO"), user_id="U_TYO"
    ).json()
    assert "past" in refused["errors"][ids.BLOCK_COMMIT_DUE]
    accepted = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(due="2026-11-23", m="U_HNL"), user_id="U_HNL"
    )
    assert accepted.status_code == 200 and not accepted.text
    world.drain()
    with database.begin() as session:
        dues = sorted(c.due_date for c in session.scalars(select(Commitment)))
    assert dues == [dt.date(2026, 11, 22), dt.date(2026, 11, 23)]


def _ritual_commitment(world: RunningApp, due: str) -> int:
    world.slack.command("commit", channel_id="C_SHARED", user_id="U_M1")
    (opened,) = world.fake.wait_for("views.open")
    world.slack.view_submission(
        ids.VIEW_COMMIT,
        values=commit_values(due=due),
        user_id="U_M1",
        private_metadata=opened.params["view"]["private_metadata"],
    )
    world.drain()
    world.fake.clear()
    return _commitment_id(world.services.database)


def test_a_commitment_is_overdue_when_its_date_is_over_in_the_rituals_timezone(world: RunningApp) -> None:
    _ritual_commitment(world, "2026-11-24")
    services = world.services
    assert services.messenger is not None
    # 22:30 UTC on the 24th is 23:30 in Berlin, the ritual's timezone: still the due date.
    assert nudge_overdue(services, now=dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)) == 0
    # 23:30 UTC is 00:30 on the 25th in Berlin: overdue there, though UTC still says the 24th.
    assert nudge_overdue(services, now=dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)) == 2
    # Held: 00:30 is not a time to ping anyone. It goes out at 09:00 Berlin (08:00 UTC).
    assert not [c for c in world.fake.calls("chat.postMessage") if c.params["channel"].startswith("U_")]
    assert send_held_dms(services, now=dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)) == 2
    nudges = [c for c in world.fake.calls("chat.postMessage") if c.params["channel"].startswith("U_")]
    assert sorted(c.params["channel"] for c in nudges) == ["U_I1", "U_M1"]


def test_a_nudge_that_reached_nobody_is_tried_again_on_the_next_run(world: RunningApp) -> None:
    cid = _ritual_commitment(world, "2026-11-24")
    services = world.services
    assert services.messenger is not None
    later = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    world.fake.fail("chat.postMessage", error="fatal_error", times=2)
    assert nudge_overdue(services, now=later) == 0
    with services.database.begin() as session:
        assert session.get(Commitment, cid).nudged_at is None  # type: ignore[union-attr]
    # Ten minutes on, Slack is back: both owners get it, once.
    assert nudge_overdue(services, now=later + dt.timedelta(minutes=10)) == 2
    assert nudge_overdue(services, now=later + dt.timedelta(minutes=20)) == 0
    delivered = [c for c in world.fake.calls("chat.postMessage") if c.params["channel"].startswith("U_")]
    assert len(delivered) == 4  # two refused, then one to each owner


def test_a_nudge_that_reached_one_owner_is_not_sent_again(world: RunningApp) -> None:
    cid = _ritual_commitment(world, "2026-11-24")
    services = world.services
    assert services.messenger is not None
    later = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    world.fake.fail("chat.postMessage", error="fatal_error", times=1)
    assert nudge_overdue(services, now=later) == 1
    with services.database.begin() as session:
        assert session.get(Commitment, cid).nudged_at is not None  # type: ignore[union-attr]
    assert nudge_overdue(services, now=later + dt.timedelta(minutes=10)) == 0


def test_the_home_tab_calls_a_commitment_overdue_by_its_rituals_calendar(world: RunningApp) -> None:
    _ritual_commitment(world, "2026-11-24")
    homes = world.runtime.homes
    assert homes is not None and homes.join(10)

    def home_at(now: dt.datetime) -> str:
        world.clock.set(now)
        world.fake.clear()
        world.slack.event({"type": ids.EVENT_APP_HOME_OPENED, "user": "U_M1", "tab": "home", "channel": "D1"})
        world.drain()
        (published,) = world.fake.wait_for("views.publish", lambda c: c.params["user_id"] == "U_M1")
        return json.dumps(published.params["view"])

    # 23:30 in Berlin on the due date, then 00:30 the next day (UTC says the 24th both times).
    assert "overdue" not in home_at(dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC))
    assert "overdue" in home_at(dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC))


# -- tampered payloads and another workspace's ids: a clear answer, and nothing changed -----------

# Ids a validly signed but tampered payload may carry instead of one Tandem wrote.
GARBLED_IDS = [
    "abc",
    "",
    "-1",
    "0",
    "1.5",
    "0x1F",
    "1e3",
    "²",
    "99999999999999999999999",
    str(2**31),
    "9" * 5000,
]
OTHER_TEAM = "T0002"


@pytest.fixture
def theirs(world: RunningApp) -> dict[str, int]:
    """Workspace T0001's win, commitment and ritual. The requests below come from workspace T0002, by a
    person whose user id is the same as their creator's: only the workspace tells them apart."""
    celebrate_and_commit_in_the_ritual(world)
    with world.services.database.begin() as session:
        theirs = {
            "win": session.scalars(select(Win.id)).one(),
            "commitment": session.scalars(select(Commitment.id)).one(),
            "ritual": session.scalars(select(Ritual.id)).one(),
        }
    assert world.runtime.homes.join(10)
    world.fake.clear()
    return theirs


def rows(database: Database) -> list[tuple[Any, ...]]:
    """Everything a win or commitment request could change, to compare before and after."""
    with database.begin() as session:
        wins = [
            (
                *(w.id, w.workspace_id, w.what, w.channel_id, w.message_ts, w.withdrawn_at, w.updated_at),
                sorted((c.user_id, c.side.value) for c in w.credits),
            )
            for w in session.scalars(select(Win).order_by(Win.id))
        ]
        commitments = [
            (c.id, c.workspace_id, c.ritual_id, c.status, c.due_date, c.reason, c.closed_at, c.nudged_at)
            for c in session.scalars(select(Commitment).order_by(Commitment.id))
        ]
        return [*wins, *commitments]


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if r.levelno >= logging.ERROR]


def click(
    world: RunningApp, action_id: str, value: str, *, team_id: str = "T0001", **extra: Any
) -> dict[str, Any]:
    """Click a button (or pick an overflow option) as U_M1; returns the ephemeral answer."""
    world.fake.clear()
    response = world.slack.block_action(
        action_id,
        value=value,
        user_id="U_M1",
        team_id=team_id,
        response_url=world.fake.response_url("answer"),
        **extra,
    )
    assert response.status_code == 200
    world.drain()
    (answer,) = world.fake.wait_for("response_url", lambda c: c.path == "/response/answer")
    assert answer.params["response_type"] == "ephemeral" and answer.params["replace_original"] is False
    return answer.params


@pytest.mark.parametrize("action_id", [ids.ACTION_WIN_EDIT, ids.ACTION_WIN_WITHDRAW])
def test_win_buttons_with_garbled_or_another_workspaces_ids_change_nothing(
    world: RunningApp, theirs: dict[str, int], action_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = rows(world.services.database)
    tries = [(value, "T0001") for value in GARBLED_IDS] + [(str(theirs["win"]), OTHER_TEAM)]
    for value, team_id in tries:
        answer = click(world, action_id, value, team_id=team_id)
        assert "This win no longer exists, or is not one of this workspace's" in answer["text"], value
        assert not world.fake.calls("views.open") and not world.fake.calls("chat.update")
    assert rows(world.services.database) == before
    assert no_errors_logged(caplog)


def test_commitment_buttons_and_menus_with_garbled_or_another_workspaces_ids_change_nothing(
    world: RunningApp, theirs: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    before = rows(world.services.database)
    cid = theirs["commitment"]
    for action_id in (ids.ACTION_COMMIT_DONE, ids.ACTION_COMMIT_MOVE, ids.ACTION_COMMIT_DROP):
        for value, team_id in [(v, "T0001") for v in GARBLED_IDS] + [(str(cid), OTHER_TEAM)]:
            answer = click(world, action_id, value, team_id=team_id)
            assert "This commitment no longer exists" in answer["text"], (action_id, value)
    options: list[Any] = [{"value": f"done:{v}"} for v in GARBLED_IDS] + [
        {"value": "finish:1"},
        {"value": 12},
        {},
        "done:1",
        None,
    ]
    for option in options:
        answer = click(world, ids.ACTION_COMMIT_MENU, "", action_type="overflow", selected_option=option)
        assert "This commitment no longer exists" in answer["text"], option
    for choice in ("done", "move", "drop"):
        answer = click(
            world,
            ids.ACTION_COMMIT_MENU,
            "",
            team_id=OTHER_TEAM,
            action_type="overflow",
            selected_option={"value": f"{choice}:{cid}"},
        )
        assert "This commitment no longer exists" in answer["text"]
    assert not world.fake.calls("views.open") and not world.fake.calls("chat.postMessage")
    # From the Home tab there is no response_url: the answer is an ephemeral message in the DM.
    world.fake.clear()
    world.slack.block_action(
        ids.ACTION_COMMIT_MENU,
        action_type="overflow",
        selected_option={"value": f"done:{cid}"},
        user_id="U_M1",
        team_id=OTHER_TEAM,
        view={"id": "VHOME", "type": "home", "blocks": []},
    )
    world.drain()
    (told,) = world.fake.wait_for("chat.postEphemeral")
    assert told.params["user"] == "U_M1" and "This commitment no longer exists" in told.params["text"]
    assert rows(world.services.database) == before
    assert no_errors_logged(caplog)


def _inline_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    return body["errors"]


def _tampered_metadata(key: str, foreign_id: int) -> list[tuple[str, str]]:
    """(private_metadata, the team it is sent from): garbled, then naming T0001's row from T0002."""
    garbled = [
        json.dumps({key: "abc"}),
        json.dumps({key: -1}),
        json.dumps({key: 0}),
        json.dumps({key: 2**63}),
        json.dumps({key: True}),
        json.dumps({key: 1.5}),
        json.dumps([1]),
        "not json",
        "{" * 4000,
    ]
    return [(m, "T0001") for m in garbled] + [(json.dumps({key: foreign_id}), OTHER_TEAM)]


def test_move_and_drop_submissions_naming_garbled_or_another_workspaces_commitment_change_nothing(
    world: RunningApp, theirs: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    before = rows(world.services.database)
    move = {
        ids.BLOCK_COMMIT_MOVE_DUE: {
            ids.ACTION_COMMIT_MOVE_DUE: {"type": "datepicker", "selected_date": "2026-12-18"}
        }
    }
    drop = {
        ids.BLOCK_COMMIT_DROP_REASON: {
            ids.ACTION_COMMIT_DROP_REASON: {"type": "plain_text_input", "value": "Budget moved to Q1"}
        }
    }
    for callback_id, values, block in (
        (ids.VIEW_COMMIT_MOVE, move, ids.BLOCK_COMMIT_MOVE_DUE),
        (ids.VIEW_COMMIT_DROP, drop, ids.BLOCK_COMMIT_DROP_REASON),
    ):
        for metadata, team_id in [("", "T0001"), *_tampered_metadata("commitment_id", theirs["commitment"])]:
            response = world.slack.view_submission(
                callback_id, values=values, user_id="U_M1", team_id=team_id, private_metadata=metadata
            )
            assert _inline_errors(response) == {block: "This commitment no longer exists."}, metadata[:40]
    world.drain()
    assert not world.fake.calls("chat.postMessage")
    assert rows(world.services.database) == before
    assert no_errors_logged(caplog)


def test_win_submissions_naming_garbled_or_another_workspaces_win_change_nothing(
    world: RunningApp, theirs: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    before = rows(world.services.database)
    for metadata, team_id in _tampered_metadata("win_id", theirs["win"]):
        response = world.slack.view_submission(
            ids.VIEW_WIN,
            values=win_values(what="Taken over"),
            user_id="U_M1",
            team_id=team_id,
            private_metadata=metadata,
        )
        expected = (
            "This win no longer exists, so it can't be edited."
            if team_id == OTHER_TEAM
            else "This form is out of date. Close it and start again."
        )
        assert _inline_errors(response) == {ids.BLOCK_WIN_WHAT: expected}, metadata[:40]
    world.drain()
    assert not world.fake.calls("chat.postMessage") and not world.fake.calls("chat.update")
    assert not world.fake.calls("conversations.join")
    assert rows(world.services.database) == before
    assert no_errors_logged(caplog)


def test_a_commitment_cannot_be_added_to_another_workspaces_checkin(
    world: RunningApp, theirs: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    before = rows(world.services.database)
    ritual_id = theirs["ritual"]
    # Its check-in's "Add a commitment" button, clicked from the other workspace or with a garbled id.
    for value, team_id in [(v, "T0001") for v in GARBLED_IDS] + [(str(ritual_id), OTHER_TEAM)]:
        answer = click(world, ids.ACTION_COMMIT_ADD, value, team_id=team_id)
        assert "This check-in no longer exists, or is not one of this workspace's" in answer["text"], value
    assert not world.fake.calls("views.open")
    # The modal's metadata naming it: nothing is created, nothing attached.
    foreign = json.dumps({"ritual_id": ritual_id, "commitment_id": None})
    response = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(), user_id="U_M1", team_id=OTHER_TEAM, private_metadata=foreign
    )
    assert "This check-in no longer exists" in _inline_errors(response)[ids.BLOCK_COMMIT_WHAT]
    for metadata, _ in _tampered_metadata("ritual_id", ritual_id)[:-1]:
        response = world.slack.view_submission(
            ids.VIEW_COMMIT, values=commit_values(), user_id="U_M1", private_metadata=metadata
        )
        assert _inline_errors(response) == {
            ids.BLOCK_COMMIT_WHAT: "This form is out of date. Close it and start again."
        }, metadata[:40]
    world.drain()
    assert not world.fake.calls("chat.postMessage")
    assert rows(world.services.database) == before
    assert no_errors_logged(caplog)


def test_a_due_date_more_than_five_years_ahead_is_refused_inline(
    world: RunningApp, theirs: dict[str, int]
) -> None:
    database = world.services.database
    before = rows(database)
    # 23 November 2026 in Berlin, the submitter's timezone: the last date accepted is 23 November 2031.
    for due in ("9999-12-31", "2031-11-24"):
        errors = _inline_errors(
            world.slack.view_submission(ids.VIEW_COMMIT, values=commit_values(due=due), user_id="U_M1")
        )
        assert errors == {
            ids.BLOCK_COMMIT_DUE: "Pick a date within 5 years, by Sun 23 Nov 2031 at the latest."
        }
        moved = {
            ids.BLOCK_COMMIT_MOVE_DUE: {
                ids.ACTION_COMMIT_MOVE_DUE: {"type": "datepicker", "selected_date": due}
            }
        }
        metadata = json.dumps({"commitment_id": theirs["commitment"]})
        errors = _inline_errors(
            world.slack.view_submission(
                ids.VIEW_COMMIT_MOVE, values=moved, user_id="U_M1", private_metadata=metadata
            )
        )
        assert (
            list(errors) == [ids.BLOCK_COMMIT_MOVE_DUE]
            and "within 5 years" in errors[ids.BLOCK_COMMIT_MOVE_DUE]
        )
    assert rows(database) == before
    accepted = world.slack.view_submission(
        ids.VIEW_COMMIT, values=commit_values(due="2031-11-23"), user_id="U_M1"
    )
    assert accepted.status_code == 200 and not accepted.text
    assert count(database, Commitment) == 2


@pytest.mark.parametrize(
    ("callback_id", "values"),
    [
        (ids.VIEW_WIN, {}),
        (ids.VIEW_WIN, {ids.BLOCK_WIN_WHAT: "a string", ids.BLOCK_WIN_MARKETING: []}),
        (
            ids.VIEW_WIN,
            {**win_values(), ids.BLOCK_WIN_MARKETING: {ids.ACTION_WIN_MARKETING: {"selected_users": "U_M1"}}},
        ),
        (ids.VIEW_WIN, win_values(marketing=("<@U_M1>",), it=("U_I1", 42))),  # type: ignore[arg-type]
        (ids.VIEW_WIN, win_values(channel="#general")),
        (ids.VIEW_WIN, {**win_values(), ids.BLOCK_WIN_WHAT: {ids.ACTION_WIN_WHAT: {"value": ["x"]}}}),
        (ids.VIEW_COMMIT, {}),
        (ids.VIEW_COMMIT, commit_values(m="not a user", i=42, due=20261204)),  # type: ignore[arg-type]
        (ids.VIEW_COMMIT, commit_values(due="2026-02-30")),
        (ids.VIEW_COMMIT, {ids.BLOCK_COMMIT_WHAT: None, ids.BLOCK_COMMIT_DUE: {ids.ACTION_COMMIT_DUE: []}}),
        (ids.VIEW_COMMIT_MOVE, {ids.BLOCK_COMMIT_MOVE_DUE: "2026-12-01"}),
        (ids.VIEW_COMMIT_DROP, {ids.BLOCK_COMMIT_DROP_REASON: {ids.ACTION_COMMIT_DROP_REASON: {"value": 7}}}),
    ],
)
def test_tampered_modal_state_gets_inline_errors_and_saves_nothing(
    world: RunningApp,
    theirs: dict[str, int],
    callback_id: str,
    values: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = rows(world.services.database)
    metadata = json.dumps({"commitment_id": theirs["commitment"]}) if callback_id != ids.VIEW_COMMIT else ""
    if callback_id == ids.VIEW_WIN:
        metadata = ""
    errors = _inline_errors(
        world.slack.view_submission(callback_id, values=values, user_id="U_M1", private_metadata=metadata)
    )
    assert errors and all(isinstance(e, str) and e for e in errors.values())
    world.drain()
    assert rows(world.services.database) == before
    assert no_errors_logged(caplog)


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        ("nov 99999999999", "I can't find a check-in called “nov 99999999999”"),
        ("2026-1²", "“2026-1²” is not a month"),
        ("9999-12", "“9999-12” is not a month"),
        ("0000-01", "“0000-01” is not a month"),
        ("2026-00", "“2026-00” is not a month"),
        ("Weekly sync 2026-13", "“2026-13” is not a month"),
    ],
)
def test_odd_months_in_the_wins_command_get_a_clear_answer(world: RunningApp, args: str, answer: str) -> None:
    response = world.slack.command(f"wins {args}", channel_id="C_SHARED")
    assert response.status_code == 200
    assert response.json()["text"].startswith(":warning:") and answer in response.json()["text"]
