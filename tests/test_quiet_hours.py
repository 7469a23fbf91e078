"""Quiet hours: every DM reaches its recipient in their working hours, in their Slack timezone.

The team: marketing in Los Angeles, IT in Berlin, one weekly check-in on Tuesdays at 09:00 Berlin
(08:00 UTC in November). Check-ins are fired by the scheduler on a frozen clock; what people would
see is read from the fake Slack.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import Mode, Settings
from bot.runtime import Runtime
from db.models import HeldDm, HeldDmStatus, PulseQuestion
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.conftest import RunningApp
from tests.fake_slack import FakeSlack
from tests.test_pulses import forget_me
from tests.world import World

LA, LA2, LA3 = "U_LA", "U_LA2", "U_LA3"  # marketing, America/Los_Angeles (UTC-8 in November)
BERLIN, BERLIN2, BERLIN3 = "U_BER", "U_BER2", "U_BER3"  # IT, Europe/Berlin (UTC+1 in November)
TUESDAY_CHECKIN = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)  # 09:00 Berlin, 00:00 Los Angeles


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def furnish(running_app: RunningApp) -> RunningApp:
    """The channel and the people of the team, as Slack knows them (their timezones)."""
    fake = running_app.fake
    fake.add_channel("C_SHARED", name="mkt-it", is_member=True)
    for user in (LA, LA2, LA3):
        fake.add_user(user, tz="America/Los_Angeles")
    for user in (BERLIN, BERLIN2, BERLIN3):
        fake.add_user(user, tz="Europe/Berlin")
    fake.add_user("U_ADMIN", tz="Europe/Berlin", is_admin=True)
    return running_app


@pytest.fixture
def team(running_app: RunningApp) -> RunningApp:
    return furnish(running_app)


def world(app: RunningApp) -> World:
    return World(app.services.database, app.clock)


def ritual(app: RunningApp, *, window: int, **options: object) -> int:
    return world(app).ritual(
        marketing=(LA, LA2, LA3),
        it=(BERLIN, BERLIN2, BERLIN3),
        pulse_window_hours=window,
        now=utc(1, 8),
        **options,
    )


def dms_to(fake: FakeSlack, user: str) -> list[str]:
    """The texts of the direct messages `user` received (chat.postMessage into their id)."""
    return [c.params["text"] for c in fake.calls("chat.postMessage") if c.params["channel"] == user]


def checkin(app: RunningApp, scheduler: TandemScheduler, ritual_id: int) -> None:
    """The scheduler posts Tuesday's check-in, and its pulse, as the clock says it is due."""
    app.clock.set(TUESDAY_CHECKIN + dt.timedelta(seconds=1))
    scheduler.fire(ritual_id)
    assert scheduler.outbox.join(10)
    assert scheduler.outbox.join(10)  # the pulse, queued behind its check-in


def at(app: RunningApp, scheduler: TandemScheduler, when: dt.datetime) -> None:
    """The clock reaches `when` and the scheduler's minutely jobs run."""
    app.clock.set(when)
    scheduler.pulse_work()
    scheduler.held_dm_work()


def test_a_reminder_goes_at_once_where_it_is_working_time_and_waits_where_it_is_night(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    # A 36-hour pulse closes Wednesday 20:00 UTC; its reminders are due at 16:00 UTC: 17:00 in
    # Berlin (working), 08:00 in Los Angeles (not yet). (The check-in fired a second past 08:00.)
    ritual_id = ritual(team, window=36)
    checkin(team, scheduler, ritual_id)
    at(team, scheduler, utc(25, 16, 1))
    assert len(dms_to(team.fake, BERLIN)) == 1 and len(dms_to(team.fake, BERLIN2)) == 1
    assert "Reminder" in dms_to(team.fake, BERLIN)[0]
    assert dms_to(team.fake, LA) == [] and dms_to(team.fake, LA2) == []

    at(team, scheduler, utc(25, 16, 59))  # 08:59 in Los Angeles
    assert dms_to(team.fake, LA) == []
    at(team, scheduler, utc(25, 17, 0))  # 09:00 in Los Angeles
    at(team, scheduler, utc(25, 17, 1))  # the job again: nothing twice
    assert len(dms_to(team.fake, LA)) == 1 and len(dms_to(team.fake, LA2)) == 1
    assert len(dms_to(team.fake, BERLIN)) == 1  # and Berlin's reminder was not repeated


def test_a_reminder_that_cannot_go_out_in_working_hours_before_the_pulse_closes_is_skipped(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    # A 26-hour pulse closes Wednesday 10:00 UTC; reminders are due at 06:00 UTC: 07:00 in Berlin
    # (held until 09:00 there, 08:00 UTC), 22:00 on Tuesday in Los Angeles (whose next working
    # start, 17:00 UTC, comes after the pulse closed: skipped).
    ritual_id = ritual(team, window=26)
    checkin(team, scheduler, ritual_id)
    at(team, scheduler, utc(25, 6, 1))
    assert [dms_to(team.fake, u) for u in (LA, LA2, BERLIN, BERLIN2)] == [[], [], [], []]
    # One Berlin member answers at 07:30 Berlin: their held reminder is no longer wanted.
    (pulse_post,) = [
        c for c in team.fake.calls("chat.postMessage") if c.params.get("text", "").startswith("Pulse:")
    ]
    answer = next(
        e
        for b in pulse_post.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].endswith(f"{PulseQuestion.PARTNER.value}:4")
    )
    team.slack.block_action(
        answer["action_id"], value=answer["value"], user_id=BERLIN2, channel_id="C_SHARED"
    )
    team.drain()

    at(team, scheduler, utc(25, 7, 59))
    assert dms_to(team.fake, BERLIN) == []
    at(team, scheduler, utc(25, 8, 0))  # 09:00 in Berlin
    assert len(dms_to(team.fake, BERLIN)) == 1
    assert dms_to(team.fake, BERLIN2) == []  # answered meanwhile
    for hour in (12, 17, 18):  # past the close, and through Los Angeles' morning
        at(team, scheduler, utc(25, hour))
    assert dms_to(team.fake, LA) == [] and dms_to(team.fake, LA2) == []


def test_an_overdue_nudge_waits_for_each_owners_morning(team: RunningApp, scheduler: TandemScheduler) -> None:
    ritual_id = ritual(team, window=24)
    world(team).commitment(
        ritual_id=ritual_id, marketing_owner=LA, it_owner=BERLIN, due=dt.date(2026, 11, 26), at=utc(20, 9)
    )
    # Friday 27 November 00:10 in Berlin (the ritual's timezone): overdue there. Night for the
    # Berlin owner; 15:10 on Thursday, working time, for the one in Los Angeles.
    team.clock.set(utc(26, 23, 10))
    scheduler.ledger_work()
    scheduler.held_dm_work()
    assert len(dms_to(team.fake, LA)) == 1 and dms_to(team.fake, BERLIN) == []
    at(team, scheduler, utc(27, 7, 59))
    assert dms_to(team.fake, BERLIN) == []
    at(team, scheduler, utc(27, 8, 0))  # 09:00 Berlin
    at(team, scheduler, utc(27, 8, 1))
    assert len(dms_to(team.fake, BERLIN)) == 1 and len(dms_to(team.fake, LA)) == 1
    assert "was due Thu 26 Nov" in dms_to(team.fake, BERLIN)[0]


def test_a_nudge_due_on_friday_night_waits_for_monday(team: RunningApp, scheduler: TandemScheduler) -> None:
    ritual_id = ritual(team, window=24)
    world(team).commitment(
        ritual_id=ritual_id, marketing_owner=LA, it_owner=BERLIN, due=dt.date(2026, 11, 27), at=utc(20, 9)
    )
    team.clock.set(utc(27, 23, 10))  # Saturday 00:10 in Berlin
    scheduler.ledger_work()
    for day, hour in ((28, 10), (29, 12)):  # Saturday and Sunday mornings
        at(team, scheduler, utc(day, hour))
    assert dms_to(team.fake, BERLIN) == []
    at(team, scheduler, utc(30, 8, 0))  # Monday 09:00 Berlin
    assert len(dms_to(team.fake, BERLIN)) == 1


def test_a_drift_alert_reaches_each_lead_in_their_working_hours(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = ritual(team, window=24)
    w = world(team)
    for weeks_ago, score in ((3, {5: 3}), (2, {4: 3})):
        w.tallied_pulse(
            ritual_id, opened_at=utc(23, 9) - dt.timedelta(weeks=weeks_ago), marketing=score, it=score
        )
    # The latest pulse, answered low by everyone, closes Monday 30 November 09:00 UTC: 10:00 in
    # Berlin, 01:00 in Los Angeles.
    low = {PulseQuestion.PARTNER: 2, PulseQuestion.LEVEL: 2}
    w.pulse(
        ritual_id,
        opened_at=utc(29, 9),
        closes_at=utc(30, 9),
        answers={user: low for user in (LA, LA2, LA3, BERLIN, BERLIN2, BERLIN3)},
    )
    at(team, scheduler, utc(30, 9, 0))
    uploads = team.fake.calls("files.completeUploadExternal")
    opened = [c.params["users"] for c in team.fake.calls("conversations.open")]
    assert opened == [BERLIN] and len(uploads) == 1
    assert "fell" in uploads[0].params["initial_comment"]
    at(team, scheduler, utc(30, 16, 59))
    assert len(team.fake.calls("files.completeUploadExternal")) == 1
    at(team, scheduler, utc(30, 17, 0))  # 09:00 in Los Angeles
    opened = [c.params["users"] for c in team.fake.calls("conversations.open")]
    assert opened == [BERLIN, LA] and len(team.fake.calls("files.completeUploadExternal")) == 2


def test_held_dms_survive_a_restart_and_go_out_once_from_two_schedulers(
    team: RunningApp, scheduler: TandemScheduler, settings: Settings, clock: FrozenClock
) -> None:
    ritual_id = ritual(team, window=24)
    world(team).commitment(
        ritual_id=ritual_id, marketing_owner=LA, it_owner=BERLIN, due=dt.date(2026, 11, 26), at=utc(20, 9)
    )
    team.clock.set(utc(26, 23, 10))
    scheduler.ledger_work()
    with team.services.database.read() as session:
        held = session.query(HeldDm).all()
        assert sorted((h.user_id, h.status) for h in held) == [
            (BERLIN, HeldDmStatus.PENDING),  # 00:10 in Berlin
            (LA, HeldDmStatus.SENT),  # 15:10 in Los Angeles
        ]
    # The process that held them stops; two new ones (say, after a deploy) share the work.
    scheduler.shutdown()
    others = [
        Runtime(settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0)
        for _ in range(2)
    ]
    try:
        clock.set(utc(27, 8, 0))
        for runtime in others:
            assert runtime.scheduler is not None
            runtime.scheduler.held_dm_work()
    finally:
        for runtime in others:
            runtime.close()
    assert len(dms_to(team.fake, LA)) == 1 and len(dms_to(team.fake, BERLIN)) == 1


def test_an_admin_sets_the_workspaces_hours_and_dms_follow_them(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    shown = team.slack.command("hours", user_id=LA).json()["text"]
    assert "09:00–18:00, Mon–Fri" in shown
    refused = team.slack.command("hours 07:00-15:00 mon-thu", user_id=LA).json()["text"]
    assert "Only a workspace admin" in refused
    bad = team.slack.command("hours 18-9", user_id="U_ADMIN").json()["text"]
    assert "Try: `/tandem hours 09:00-18:00 mon-fri`" in bad
    done = team.slack.command("hours 07:00-15:00 mon-thu", user_id="U_ADMIN").json()["text"]
    assert "07:00–15:00, Mon–Thu" in done

    ritual_id = ritual(team, window=24)
    world(team).commitment(
        ritual_id=ritual_id, marketing_owner=LA, it_owner=BERLIN, due=dt.date(2026, 11, 25), at=utc(20, 9)
    )
    team.clock.set(utc(26, 5, 30))  # Thursday 06:30 Berlin
    scheduler.ledger_work()
    at(team, scheduler, utc(26, 6, 0))  # 07:00 Berlin: the workspace's new start
    assert len(dms_to(team.fake, BERLIN)) == 1
    at(team, scheduler, utc(26, 23, 0))  # 15:00 in Los Angeles: already after its new end
    assert dms_to(team.fake, LA) == []
    at(team, scheduler, utc(27, 15, 0))  # Friday 07:00 Los Angeles: not a working day any more
    assert dms_to(team.fake, LA) == []
    at(team, scheduler, utc(30, 15, 0))  # Monday 07:00 Los Angeles
    assert len(dms_to(team.fake, LA)) == 1


def test_forget_me_deletes_the_dms_held_for_that_person(team: RunningApp, scheduler: TandemScheduler) -> None:
    ritual_id = ritual(team, window=24)
    world(team).commitment(
        ritual_id=ritual_id, marketing_owner=LA, it_owner=BERLIN, due=dt.date(2026, 11, 26), at=utc(20, 9)
    )
    team.clock.set(utc(26, 23, 10))
    scheduler.ledger_work()  # Berlin's nudge is held until 09:00 there
    forget_me(team, BERLIN)
    with team.services.database.read() as session:
        assert [h.user_id for h in session.query(HeldDm).all()] == [LA]
    at(team, scheduler, utc(27, 8, 0))
    assert dms_to(team.fake, BERLIN) == []
