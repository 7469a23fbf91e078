"""Cross-team one-to-ones through the real scheduler and the real app, checked on what Slack was sent.

The scheduler is the one `tandem scheduler` runs (Runtime-wired, frozen clock, APScheduler never
firing on real time); a test runs the pairing job itself, the way APScheduler would every ten
minutes. Clicks are signed block actions into the running app.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot import ids
from bot.blocks.pulse import FORGET_CONFIRM_VALUE
from bot.config import Mode, Settings
from bot.runtime import Runtime
from bot.usecases.pairing import start_round
from db.models import IntroStatus, Pairing, PairingMember, PairingRound, PairingSitOut, Person, Ritual
from db.prompt_library import ONE_TO_ONE_PROMPTS
from db.session import Database
from db.working_hours import DEFAULT
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.conftest import RunningApp
from tests.fake_slack import Call, FakeSlack
from tests.ritual_helpers import setup_values
from tests.world import CHECKIN_COUNTING, World

UTC = dt.UTC
MARKETING = ("U_M1", "U_M2", "U_M3", "U_M4", "U_M5")
IT = ("U_I1", "U_I2", "U_I3")
ZONES = {
    "U_M1": "America/Los_Angeles",
    "U_M2": "Europe/Berlin",
    "U_M3": "America/Los_Angeles",
    "U_M4": "Europe/Berlin",
    "U_M5": "Europe/Berlin",
    "U_I1": "Europe/Berlin",
    "U_I2": "America/Los_Angeles",
    "U_I3": "Europe/Berlin",
}
# The ritual meets on Tuesdays at 09:00 Berlin; pairing is switched on on Tuesday 10 November, so
# the first round starts at the next check-in time: Tuesday 17 November, 08:00 UTC.
FIRST_ROUND = dt.datetime(2026, 11, 17, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 10, 12, 0, tzinfo=UTC))


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_channel("C0", name="mkt-it", is_member=True)
    fake_slack.add_user("U_CREATOR")
    for user_id, zone in ZONES.items():
        side = "Marketing" if user_id.startswith("U_M") else "IT"
        fake_slack.add_user(user_id, tz=zone, title=f"{side} lead {user_id[-1]}")
    return fake_slack


@pytest.fixture
def world(database: Database, clock: FrozenClock) -> World:
    return World(database, clock, ritual_defaults={**CHECKIN_COUNTING, "pairing_weeks": 1})


def run_pairing(scheduler: TandemScheduler) -> None:
    """What APScheduler does every ten minutes, then wait for what it queued to reach Slack."""
    scheduler.pairing_work()
    assert scheduler.outbox.join(20)


def intros(slack: FakeSlack) -> list[Call]:
    return [c for c in slack.calls("chat.postMessage") if str(c.params["channel"]).startswith("G")]


def nudges(slack: FakeSlack) -> list[Call]:
    return [
        c
        for c in slack.calls("chat.postMessage")
        if str(c.params["channel"]).startswith("U") and "Halfway" in str(c.params.get("text"))
    ]


def rounds(database: Database) -> list[tuple[dt.datetime, list[frozenset[str]], set[str]]]:
    """Each round, oldest first: when it started, its groups and who sat out, as Slack user ids."""
    with database.read() as session:
        names = dict(session.execute(select(Person.id, Person.slack_user_id)).all())
        out = []
        for r in session.scalars(select(PairingRound).order_by(PairingRound.starts_at)):
            groups = [
                frozenset(
                    names[p]
                    for p in session.scalars(
                        select(PairingMember.person_id).where(PairingMember.pairing_id == pid)
                    )
                )
                for pid in session.scalars(
                    select(Pairing.id).where(Pairing.round_id == r.id).order_by(Pairing.id)
                )
            ]
            out.append(
                (
                    r.starts_at,
                    groups,
                    {
                        names[p]
                        for p in session.scalars(
                            select(PairingSitOut.person_id).where(PairingSitOut.round_id == r.id)
                        )
                    },
                )
            )
        return out


def pairings(database: Database) -> list[tuple[int, frozenset[str], str | None]]:
    """Every pairing: id, members (user ids) and the group DM its introduction went to."""
    with database.read() as session:
        rows = session.execute(
            select(Pairing.id, Person.slack_user_id, Pairing.channel_id)
            .join(PairingMember, PairingMember.pairing_id == Pairing.id)
            .join(Person, Person.id == PairingMember.person_id)
            .order_by(Pairing.id)
        ).all()
    found: dict[int, tuple[set[str], str | None]] = {}
    for pid, user, channel in rows:
        found.setdefault(pid, (set(), channel))[0].add(user)
    return [(pid, frozenset(users), channel) for pid, (users, channel) in found.items()]


def twice_a_day(start: dt.datetime, days: int) -> Iterator[dt.datetime]:
    """08:05 and 20:05 UTC each day: just after a Berlin 09:00 round starts (winter and summer), in
    Berlin's working morning and in Los Angeles' working day."""
    day = start.replace(hour=8, minute=5, second=0, microsecond=0)
    for n in range(days * 2):
        yield day + dt.timedelta(hours=12 * n)


def test_a_year_of_rounds_pairs_without_repeats_sits_out_fairly_and_nudges_in_working_hours(
    scheduler: TandemScheduler, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    world.ritual(marketing=MARKETING, it=IT)
    seen_nudges = seen_intros = 0
    for now in twice_a_day(clock.now(), 365):
        clock.set(now)
        run_pairing(scheduler)
        run_pairing(scheduler)  # a retry, or the second scheduler's run: nothing more
        for call in intros(slack)[seen_intros:]:
            # Each introduction went out in the working hours of at least one of the pair.
            members = [u for u in ZONES if u in str(call.params["channel"])]
            assert any(DEFAULT.contains(now, ZONES[u]) for u in members), (now, members)
        seen_intros = len(intros(slack))
        sent = nudges(slack)
        for call in sent[seen_nudges:]:
            # Each nudge went out inside its recipient's working hours, in their Slack timezone.
            assert DEFAULT.contains(now, ZONES[call.params["channel"]]), (now, call.params["channel"])
        seen_nudges = len(sent)

    played = rounds(database)
    assert len(played) == 52  # 17 Nov 2026 to 9 Nov 2027, one round a week
    assert played[0][0] == FIRST_ROUND
    # 09:00 in Berlin all year: 08:00 UTC in winter, 07:00 UTC in summer.
    assert {start.astimezone(UTC).hour for start, _, _ in played} == {7, 8}
    # Exactly one introduction per pair per round, each in a group DM with the pair.
    assert len(intros(slack)) == 3 * 52
    opened = [c for c in slack.calls("conversations.open") if "," in str(c.params.get("users"))]
    assert len(opened) == 3 * 52
    with database.read() as session:
        assert set(session.scalars(select(Pairing.intro_status))) == {IntroStatus.SENT}

    every = {frozenset((m, i)) for m in MARKETING for i in IT}
    met: set[frozenset[str]] = set()
    sat_out: Counter[str] = Counter()
    previous_out: set[str] = set()
    for _, groups, out in played:
        assert len(groups) == 3 and len(out) == 2
        for group in groups:
            assert len(group) == 2 and len(group & set(MARKETING)) == 1
            if group in met:  # a pair meets again only once all 15 have met
                assert met == every
                met = set()
            met.add(group)
        sat_out.update(out)
        assert max(sat_out[m] for m in MARKETING) - min(sat_out[m] for m in MARKETING) <= 1
        assert not out & previous_out  # whoever sat out last is paired first
        previous_out = out

    # Nobody answered, so every member of every pair got exactly one nudge (the last round, started
    # on the year's last day, is not halfway yet).
    per_person = Counter(c.params["channel"] for c in nudges(slack))
    in_pairs = Counter(u for _, groups, _ in played[:-1] for g in groups for u in g)
    assert per_person == in_pairs


def test_introductions_show_side_title_purpose_a_one_to_one_prompt_and_the_buttons(
    scheduler: TandemScheduler, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    world.ritual(marketing=MARKETING, it=IT)
    clock.set(FIRST_ROUND - dt.timedelta(minutes=1))
    run_pairing(scheduler)
    assert intros(slack) == []  # not yet
    clock.set(FIRST_ROUND + dt.timedelta(minutes=5))
    run_pairing(scheduler)
    posted = intros(slack)
    assert len(posted) == 3
    blocks = json.dumps(posted[0].params["blocks"])
    members = [u for u in (*MARKETING, *IT) if u in str(posted[0].params["channel"])]
    assert len(members) == 2
    for user in members:
        assert f"<@{user}>" in blocks
        side = "Marketing" if user.startswith("U_M") else "IT"
        assert f"({side}, {side} lead {user[-1]})" in blocks  # side, then the title Slack gives
    assert "Get to know each other's goals" in blocks  # the first round's purpose
    assert any(
        p.text.replace("'", "\\u2019") in blocks or p.text in blocks
        for p in ONE_TO_ONE_PROMPTS
        if p.purpose == "goals"
    )
    assert ids.ACTION_PAIRING_MET in blocks and ids.ACTION_PAIRING_SKIP in blocks
    assert "We met" in blocks and "Skip this round" in blocks


def test_nudges_go_once_halfway_in_each_recipients_working_hours_and_not_to_pairs_that_answered(
    scheduler: TandemScheduler, running_app: RunningApp, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    # Two pairs, each of someone in Los Angeles and someone in Berlin.
    world.ritual(marketing=("U_M1", "U_M2"), it=("U_I2", "U_I1"))
    clock.set(FIRST_ROUND + dt.timedelta(minutes=5))
    run_pairing(scheduler)
    (answered, a_members, a_channel), (waiting, w_members, _) = pairings(scheduler.database)
    running_app.slack.block_action(
        ids.ACTION_PAIRING_MET, value=str(answered), user_id=sorted(a_members)[0], channel_id=a_channel or ""
    )
    running_app.settle()
    halfway = FIRST_ROUND + dt.timedelta(days=3, hours=12)  # Friday 20:00 Berlin, 11:00 Los Angeles
    sent_at: dict[str, dt.datetime] = {}
    clock.set(halfway - dt.timedelta(hours=1))
    run_pairing(scheduler)
    assert nudges(slack) == []  # not before halfway
    now = halfway
    while now < FIRST_ROUND + dt.timedelta(weeks=1):
        clock.set(now)
        run_pairing(scheduler)
        for call in nudges(slack):
            sent_at.setdefault(call.params["channel"], now)
        now += dt.timedelta(minutes=10)
    # Only the pair that did not answer, each person once.
    assert sorted(c.params["channel"] for c in nudges(slack)) == sorted(w_members)
    la = next(u for u in w_members if ZONES[u] == "America/Los_Angeles")
    berlin = next(u for u in w_members if ZONES[u] == "Europe/Berlin")
    assert sent_at[la] == halfway  # Friday 11:00 in Los Angeles: at once
    assert sent_at[berlin] == dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
    nudge = next(c for c in nudges(slack) if c.params["channel"] == la)
    assert str(waiting) in json.dumps(nudge.params["blocks"])  # with the buttons, for this pairing


def test_we_met_and_skip_show_in_the_agenda_the_home_tab_and_the_report(
    scheduler: TandemScheduler, running_app: RunningApp, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    marketing = tuple(f"U_M{n}" for n in range(1, 7))
    it = tuple(f"U_I{n}" for n in range(1, 7))
    for user in (*marketing, *it):
        if user not in slack.users:
            slack.add_user(user, tz="Europe/Berlin")
    ritual_id = world.ritual(marketing=marketing, it=it)
    clock.set(FIRST_ROUND + dt.timedelta(minutes=5))
    run_pairing(scheduler)
    first = pairings(scheduler.database)
    assert len(first) == 6 and len(intros(slack)) == 6
    app = running_app.slack

    # Four pairs met (one says so from its nudge's DM, not the introduction), one skips, one is silent.
    for pid, members, channel in first[:3]:
        app.block_action(
            ids.ACTION_PAIRING_MET, value=str(pid), user_id=sorted(members)[0], channel_id=channel or ""
        )
    pid, members, _ = first[3]
    app.block_action(
        ids.ACTION_PAIRING_MET,
        value=str(pid),
        user_id=sorted(members)[1],
        channel_id=f"D{sorted(members)[1]}",
    )
    pid, members, channel = first[4]
    app.block_action(
        ids.ACTION_PAIRING_SKIP, value=str(pid), user_id=sorted(members)[0], channel_id=channel or ""
    )
    # Someone outside a pair cannot answer for it, and a made-up id names nothing.
    outsider = next(u for u in marketing if u not in first[5][1])
    app.block_action(ids.ACTION_PAIRING_MET, value=str(first[5][0]), user_id=outsider, channel_id="C0")
    app.block_action(ids.ACTION_PAIRING_MET, value="999999", user_id=outsider, channel_id="C0")
    running_app.settle()
    refusals = [r["text"] for r in slack.responses()]
    assert refusals.count("Only the people in this one-to-one can answer for it.") == 1
    assert refusals.count("That one-to-one no longer exists.") == 1
    assert "Thanks: your one-to-one is marked as met." in refusals  # the click from the DM is confirmed
    updated = [c for c in slack.calls("chat.update") if str(c.params["channel"]).startswith("G")]
    assert sum("marked this one-to-one as met" in json.dumps(c.params["blocks"]) for c in updated) == 4
    assert sum("skipped this round" in json.dumps(c.params["blocks"]) for c in updated) == 1
    assert all(ids.ACTION_PAIRING_MET not in json.dumps(c.params["blocks"]) for c in updated)

    # The next check-in: the next round starts at the same time, and the check-in reports the one ending.
    next_week = FIRST_ROUND + dt.timedelta(weeks=1)
    clock.set(next_week)
    run_pairing(scheduler)
    assert len(intros(slack)) == 12
    scheduler.fire(ritual_id)
    assert scheduler.join(20)
    (checkin,) = [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "C0"]
    assert "One-to-ones this round: 4 of 6 pairs met" in json.dumps(checkin.params["blocks"])

    # The Home tab: the current pair, and the past one with what they answered.
    person = sorted(first[0][1])[0]
    partner_now = next(
        u
        for _, members, _ in pairings(scheduler.database)[6:]
        if person in members
        for u in members
        if u != person
    )
    partner_then = next(u for u in first[0][1] if u != person)
    slack.clear()
    app.event({"type": ids.EVENT_APP_HOME_OPENED, "user": person, "tab": "home", "channel": "D1"})
    running_app.drain()
    (published,) = slack.wait_for("views.publish", lambda c: c.params.get("user_id") == person)
    home = json.dumps(published.params["view"])
    assert "Your one-to-ones" in home
    assert f"*This round:* <@{partner_now}>" in home
    assert f"<@{partner_then}>" in home and ", met" in home

    # The report: the meeting rate of the round that ended.
    answer = app.command("report", channel_id="C0", user_id=person).json()
    assert "Preparing" in answer["text"], answer
    running_app.drain()
    (complete,) = slack.wait_for("files.completeUploadExternal")
    comment = complete.params["initial_comment"]
    assert "One-to-ones: 4 of 6 pairs met (67%)." in comment
    assert "17 Nov: 4 of 6 met (67%)" in comment


def test_opting_out_and_back_in_by_command(
    scheduler: TandemScheduler, running_app: RunningApp, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    world.ritual(marketing=MARKETING, it=IT)
    answer = running_app.slack.command("pairing off", channel_id="C0", user_id="U_I3").json()
    assert "out of cross-team one-to-ones" in answer["text"]
    bad = running_app.slack.command("pairing maybe", channel_id="C0", user_id="U_I3").json()
    assert "pairing off" in bad["text"]
    for week in range(3):
        clock.set(FIRST_ROUND + dt.timedelta(weeks=week, minutes=5))
        run_pairing(scheduler)
    played = rounds(scheduler.database)
    assert len(played) == 3
    assert all("U_I3" not in g for _, groups, out in played for g in groups) and all(
        "U_I3" not in out for _, _, out in played
    )
    assert all(len(groups) == 2 for _, groups, _ in played)
    running_app.slack.command("pairing on", channel_id="C0", user_id="U_I3")
    clock.set(FIRST_ROUND + dt.timedelta(weeks=3, minutes=5))
    run_pairing(scheduler)
    assert any("U_I3" in g for g in rounds(scheduler.database)[-1][1])


def test_forget_me_removes_a_persons_pairings(
    scheduler: TandemScheduler, running_app: RunningApp, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    world.ritual(marketing=MARKETING, it=IT)
    clock.set(FIRST_ROUND + dt.timedelta(minutes=5))
    run_pairing(scheduler)
    person = "U_I1"
    assert any(person in members for _, members, _ in pairings(scheduler.database))
    running_app.slack.block_action(ids.ACTION_FORGET_CONFIRM, value=FORGET_CONFIRM_VALUE, user_id=person)
    running_app.settle()
    assert "one-to-one pairing" in json.dumps(slack.responses())
    assert not any(person in members for _, members, _ in pairings(scheduler.database))
    assert len(pairings(scheduler.database)) == 2  # the other pairs stay


def test_a_round_claimed_before_a_restart_is_introduced_once_after_it(
    settings: Settings, database: Database, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    ritual_id = world.ritual(marketing=MARKETING, it=IT)
    clock.set(FIRST_ROUND + dt.timedelta(minutes=5))
    first = Runtime(
        settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0
    )
    try:
        # The round is claimed and paired, then the process stops before any introduction went out.
        assert first.scheduler is not None
        assert start_round(first.scheduler.job_services(), ritual_id, now=clock.now())
    finally:
        first.close()
    assert intros(slack) == []
    clock.advance(minutes=30)
    second = Runtime(
        settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0
    )
    try:
        assert second.scheduler is not None
        second.scheduler.start(paused=True)
        assert second.scheduler.ready.wait(20)
        assert second.scheduler.join(20)
        second.scheduler.pairing_work()
        assert second.scheduler.join(20)
    finally:
        second.close()
    assert len(intros(slack)) == 3
    assert len(rounds(database)) == 1


@pytest.mark.postgres_only
def test_two_scheduler_processes_on_postgresql_introduce_each_round_once(
    database: Database, clock: FrozenClock, slack: FakeSlack, world: World, database_url: str
) -> None:
    if database.backend != "postgresql":
        pytest.skip("the two-process race runs on PostgreSQL (CI's second run)")
    for n in range(4):
        world.ritual(name=f"Pairs {n}", marketing=MARKETING, it=IT)
    now = (FIRST_ROUND + dt.timedelta(minutes=5)).isoformat()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.scheduler_process",
                database_url,
                slack.base_url,
                now,
                "3",
                "pairing",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    claimed = [int(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(claimed) == 4  # each ritual's round claimed by exactly one of the two
    assert len(intros(slack)) == 12  # three pairs in each of four rituals, introduced once
    assert len(rounds(database)) == 4
    with database.read() as session:
        assert list(session.scalars(select(Pairing.intro_status))) == [IntroStatus.SENT] * 12


def test_the_setup_modal_offers_pairing_off_by_default_and_saves_it(
    running_app: RunningApp, slack: FakeSlack, database: Database
) -> None:
    running_app.slack.command("setup", user_id="U_M1", channel_id="C0")
    (opened,) = slack.wait_for("views.open")
    block = next(b for b in opened.params["view"]["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_PAIRING)
    assert block["element"]["initial_option"]["value"] == "0"
    assert [o["text"]["text"] for o in block["element"]["options"]] == [
        "Off",
        "Every week",
        "Every 2 weeks",
        "Every 4 weeks",
    ]

    values = setup_values(channel="C0", marketing=MARKETING, it=IT)
    values[ids.BLOCK_SETUP_PAIRING] = {
        ids.ACTION_SETUP_PAIRING: {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": "Every 2 weeks"}, "value": "2"},
        }
    }
    values[ids.BLOCK_SETUP_PAIRING_TRIOS] = {
        ids.ACTION_SETUP_PAIRING_TRIOS: {"type": "checkboxes", "selected_options": []}
    }
    response = running_app.slack.view_submission(ids.VIEW_SETUP, values=values, user_id="U_M1")
    assert response.status_code == 200 and not response.text, response.text
    running_app.drain()
    with database.read() as session:
        (ritual,) = session.scalars(select(Ritual)).all()
        assert (ritual.pairing_weeks, ritual.pairing_trios) == (2, False)
        assert ritual.pairing_from == running_app.clock.now()
    # Left out of the form (an older modal), pairing stays off.
    response = running_app.slack.view_submission(
        ids.VIEW_SETUP,
        values=setup_values(channel="C0", name="Other", marketing=MARKETING, it=IT),
        user_id="U_M1",
    )
    assert response.status_code == 200 and not response.text, response.text
    with database.read() as session:
        other = session.scalars(select(Ritual).where(Ritual.name == "Other")).one()
        assert (other.pairing_weeks, other.pairing_from) == (0, None)


def test_with_trios_nobody_sits_out_and_each_trio_gets_one_group_dm(
    scheduler: TandemScheduler, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    world.ritual(marketing=MARKETING, it=IT, pairing_trios=True)
    clock.set(FIRST_ROUND + dt.timedelta(minutes=5))
    run_pairing(scheduler)
    ((_, groups, out),) = rounds(scheduler.database)
    assert out == set() and sorted(len(g) for g in groups) == [2, 3, 3]
    opened = sorted(len(str(c.params["users"]).split(",")) for c in slack.calls("conversations.open"))
    assert opened == [2, 3, 3]
    assert len(intros(slack)) == 3


def test_an_introduction_waits_for_the_pairs_working_hours(
    scheduler: TandemScheduler, clock: FrozenClock, slack: FakeSlack, world: World
) -> None:
    world.ritual(marketing=("U_M1",), it=("U_I2",))  # both in Los Angeles
    clock.set(FIRST_ROUND + dt.timedelta(minutes=5))  # 09:05 in Berlin, where the ritual meets
    run_pairing(scheduler)
    assert len(rounds(scheduler.database)) == 1 and intros(slack) == []  # 00:05 for both of them
    clock.set(dt.datetime(2026, 11, 17, 16, 55, tzinfo=UTC))
    run_pairing(scheduler)
    assert intros(slack) == []
    clock.set(dt.datetime(2026, 11, 17, 17, 5, tzinfo=UTC))  # 09:05 in Los Angeles
    run_pairing(scheduler)
    run_pairing(scheduler)
    assert len(intros(slack)) == 1
