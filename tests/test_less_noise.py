"""Less noise: a check-in pings its two leads, carries its pulse in its thread, a pulse nobody answered
closes quietly, and a ritual younger than a week gets no monthly digest.

The same team as tests/test_quiet_hours.py: marketing in Los Angeles, IT in Berlin, a weekly check-in
on Tuesdays at 09:00 Berlin, fired by the scheduler on a frozen clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from bot import ids
from db.pulses import open_pulses_of
from jobs.scheduler import TandemScheduler
from tests.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.test_quiet_hours import (
    BERLIN,
    BERLIN2,
    BERLIN3,
    LA,
    LA2,
    LA3,
    TUESDAY_CHECKIN,
    at,
    checkin,
    furnish,
    ritual,
    utc,
    world,
)


@pytest.fixture
def team(running_app: RunningApp) -> RunningApp:
    return furnish(running_app)


def channel_posts(fake: FakeSlack) -> list[dict]:
    return [c.params for c in fake.calls("chat.postMessage") if c.params["channel"] == "C_SHARED"]


def mentioned(post: dict) -> list[str]:
    return sorted(set(re.findall(r"<@(U_[A-Z0-9]+)>", json.dumps(post.get("blocks")) + post.get("text", ""))))


def test_a_checkin_pings_its_two_leads_and_its_pulse_is_in_its_thread(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = ritual(team, window=24)
    checkin(team, scheduler, ritual_id)
    top_level = [p for p in channel_posts(team.fake) if not p.get("thread_ts")]
    assert len(top_level) == 1  # the check-in, and only it
    (post,) = top_level
    assert mentioned(post) == [BERLIN, LA]  # the first named on each side
    assert "and 2 more" in json.dumps(post["blocks"])
    (pulse,) = [p for p in channel_posts(team.fake) if p["text"].startswith("Pulse:")]
    (checkin_ts,) = [ts for (channel, ts), m in team.fake.messages.items() if m["text"] == post["text"]]
    assert pulse["thread_ts"] == checkin_ts

    # A lead asks for every member to be mentioned: the next check-in pings all six.
    said = team.slack.command("mentions everyone", channel_id="C_SHARED", user_id=LA).json()["text"]
    assert "every member" in said
    team.clock.set(TUESDAY_CHECKIN + dt.timedelta(weeks=1, seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox.join(10)
    latest = [p for p in channel_posts(team.fake) if not p.get("thread_ts")][-1]
    assert mentioned(latest) == sorted([LA, LA2, LA3, BERLIN, BERLIN2, BERLIN3])
    # And someone outside the ritual may not change it.
    team.fake.add_user("U_OUTSIDER", tz="Europe/Berlin")
    refused = team.slack.command("mentions leads", channel_id="C_SHARED", user_id="U_OUTSIDER").json()
    assert "Only the creator" in refused["text"]


def test_a_pulse_nobody_answered_closes_by_updating_its_message_without_results(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = ritual(team, window=24)
    checkin(team, scheduler, ritual_id)
    before = len(team.fake.calls("chat.postMessage"))
    at(team, scheduler, TUESDAY_CHECKIN + dt.timedelta(hours=24, minutes=1))
    assert len(team.fake.calls("chat.postMessage")) == before  # no results reply, no DM
    (update,) = team.fake.calls("chat.update")
    assert "Nobody answered" in update.params["text"]
    assert "Results are in the thread" not in json.dumps(update.params["blocks"])


def test_a_pulse_with_answers_still_gets_its_results_in_the_thread(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = ritual(team, window=24)
    checkin(team, scheduler, ritual_id)
    (pulse,) = [p for p in channel_posts(team.fake) if p["text"].startswith("Pulse:")]
    button = next(
        e
        for b in pulse["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].endswith("partner:3")
    )
    team.slack.block_action(button["action_id"], value=button["value"], user_id=LA, channel_id="C_SHARED")
    team.drain()
    at(team, scheduler, TUESDAY_CHECKIN + dt.timedelta(hours=24, minutes=1))
    results = [p for p in channel_posts(team.fake) if p.get("thread_ts") and "Pulse:" not in p["text"][:6]]
    assert len(results) == 1 and results[0]["thread_ts"] == pulse["thread_ts"]


def test_no_digest_for_a_ritual_younger_than_a_week(team: RunningApp, scheduler: TandemScheduler) -> None:
    w = world(team)
    # Made on Monday 30 November 10:00 Berlin, with a win the same day.
    w.ritual(marketing=(LA,), it=(BERLIN,), now=utc(30, 9))
    w.win(what="Launched the data-sharing pilot", marketing=(LA,), it=(BERLIN,), at=utc(30, 10))
    team.clock.set(utc(30, 15, 5))  # 16:05 in Berlin: November's digest falls due
    scheduler.ledger_work()
    assert scheduler.outbox is not None and scheduler.outbox.join(20)  # digests wait their turn in the queue
    assert [p for p in channel_posts(team.fake) if "November 2026" in p["text"]] == []


def test_a_digest_for_a_ritual_a_week_old_with_wins(team: RunningApp, scheduler: TandemScheduler) -> None:
    w = world(team)
    w.ritual(marketing=(LA,), it=(BERLIN,), now=utc(23, 9))  # a week and six hours before it is due
    w.win(what="Launched the data-sharing pilot", marketing=(LA,), it=(BERLIN,), at=utc(30, 10))
    team.clock.set(utc(30, 15, 5))
    scheduler.ledger_work()
    assert scheduler.outbox is not None and scheduler.outbox.join(20)  # digests wait their turn in the queue
    assert len([p for p in channel_posts(team.fake) if "November 2026" in p["text"]]) == 1


def test_tandem_pulse_while_one_is_open_shows_it_and_closes_nothing(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = ritual(team, window=24)
    checkin(team, scheduler, ritual_id)  # its pulse is the ritual creator's, LA's
    posts_before = len(team.fake.calls("chat.postMessage"))

    other = team.slack.command("pulse", channel_id="C_SHARED", user_id=BERLIN).json()
    shown = json.dumps(other["blocks"])
    assert "already has a pulse open, until <!date^" in shown
    assert f"<@{LA}> opened it and can close it early" in shown
    assert not [b for b in other.get("blocks", []) if b["type"] == "actions"]  # no Close button
    owner = team.slack.command("pulse", channel_id="C_SHARED", user_id=LA).json()
    (close,) = [e for b in owner["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert close["action_id"] == ids.ACTION_PULSE_CLOSE and "confirm" in close
    team.settle()
    # Nothing was closed, posted or updated: everyone who has not answered still can.
    assert len(team.fake.calls("chat.postMessage")) == posts_before
    assert team.fake.calls("chat.update") == []
    with team.services.database.read() as session:
        assert [p.closed_at for p in open_pulses_of(session, ritual_id)] == [None]


def test_a_bare_month_name_is_the_latest_such_month_not_in_the_future(team: RunningApp) -> None:
    w = world(team)
    w.ritual(marketing=(LA,), it=(BERLIN,), now=utc(1, 9))
    w.win(what="Launched the data-sharing pilot", marketing=(LA,), it=(BERLIN,), at=utc(10, 10))
    team.clock.set(dt.datetime(2027, 1, 12, 10, 0, tzinfo=dt.UTC))  # January: November is last year's
    for user in (LA, BERLIN):
        shown = json.dumps(team.slack.command("wins november", channel_id="C_SHARED", user_id=user).json())
        assert "November 2026" in shown and "November 2027" not in shown
        assert "data-sharing pilot" in shown
    this_year = json.dumps(team.slack.command("wins january", channel_id="C_SHARED", user_id=LA).json())
    assert "January 2027" in this_year


def test_exports_name_people_as_slack_does_now_and_a_departed_one_as_former_member(team: RunningApp) -> None:
    w = world(team)
    ritual_id = w.ritual(marketing=(LA, LA2), it=(BERLIN, BERLIN2), now=utc(1, 9))
    w.win(what="Launched the data-sharing pilot", marketing=(LA, LA2), it=(BERLIN,), at=utc(10, 10))
    w.commitment(ritual_id=ritual_id, marketing_owner=LA, it_owner=BERLIN2, due=dt.date(2026, 12, 4))
    team.fake.add_user(LA, name="Lena (LA)", tz="America/Los_Angeles")
    team.fake.add_user(BERLIN, name="Bernd", tz="Europe/Berlin")
    team.fake.add_user(BERLIN2, name="Birgit", tz="Europe/Berlin", deleted=True)  # left the company
    team.fake.users.pop(LA2)  # unknown to Slack now
    team.slack.command("export", channel_id="C_SHARED", user_id=LA)
    team.drain()
    team.fake.wait_for("files.completeUploadExternal")
    data = next(iter(team.fake.uploads.values())).decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    (win,) = [r for r in rows if r["section"] == "win"]
    assert (win["marketing"], win["it"]) == ("Lena (LA), former member", "Bernd")
    (commitment,) = [r for r in rows if r["section"] == "commitment"]
    assert (commitment["marketing"], commitment["it"]) == ("Lena (LA)", "former member")
    assert not re.search(r"\bU_[A-Z0-9]+\b", data)


def test_report_and_export_without_a_name_in_a_dm_open_a_picker_of_ones_own_rituals(team: RunningApp) -> None:
    w = world(team)
    mine = w.ritual(name="Marketing – IT weekly", marketing=(LA,), it=(BERLIN,), now=utc(1, 9))
    w.ritual(name="Brand council", channel="C_OTHER", marketing=(LA,), it=(BERLIN2,), now=utc(1, 9))
    w.ritual(name="Not mine", channel="C_THIRD", marketing=(LA2,), it=(BERLIN2,), now=utc(1, 9))
    for what in ("report", "export"):
        team.fake.clear()
        answer = team.slack.command(what, channel_id="D_LA", user_id=LA)
        assert answer.status_code == 200 and "can't find" not in answer.text
        team.drain()
        (opened,) = team.fake.wait_for("views.open")
        view = opened.params["view"]
        assert view["callback_id"] == ids.VIEW_RITUAL_PICK
        options = [o["text"]["text"] for b in view["blocks"] for o in b["element"]["options"]]
        assert options == ["Brand council", "Marketing – IT weekly"]  # LA's own, none of the others
        picked = {
            ids.BLOCK_RITUAL_PICK: {
                ids.ACTION_RITUAL_PICK: {"type": "static_select", "selected_option": {"value": str(mine)}}
            }
        }
        done = team.slack.view_submission(
            ids.VIEW_RITUAL_PICK, values=picked, private_metadata=view["private_metadata"], user_id=LA
        )
        assert done.status_code == 200
        team.drain()
        (upload,) = team.fake.wait_for("files.completeUploadExternal")
        assert upload.params["channel_id"] == "D" + LA  # by DM, as a named report outside its channel
    # A ritual of someone else's, picked by a tampered id, is refused like a named one.
    hidden = {ids.BLOCK_RITUAL_PICK: {ids.ACTION_RITUAL_PICK: {"selected_option": {"value": "999999"}}}}
    team.fake.clear()
    team.slack.view_submission(
        ids.VIEW_RITUAL_PICK, values=hidden, private_metadata='{"what": "export", "weeks": 12}', user_id=LA
    )
    team.drain()
    assert team.fake.calls("files.completeUploadExternal") == []
