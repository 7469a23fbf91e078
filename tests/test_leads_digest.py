"""The leads' monthly digest: one DM to each of a ritual's two leads, on the first working day of the
month in each lead's own timezone, about the month before.

The team: marketing's lead in Los Angeles, IT's lead in Berlin, a weekly check-in in Berlin. Digests
are sent by the scheduler's job on a frozen clock (and the held-DM job it hands them to); what the
leads see is read from the fake Slack.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import select, update

from bot import ids
from bot.blocks.leads_digest import DigestFacts, MonthScores, build_leads_digest
from bot.config import Mode, Settings
from bot.runtime import Runtime
from db.leads_digests import Month, due_at
from db.models import HeldDm, HeldDmStatus, LeadsDigest, Ritual
from db.prompt_library import Theme, prompts_for_themes
from db.session import Database
from db.working_hours import WorkingHours
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.conftest import RunningApp
from tests.fake_slack import APP_ID, FakeSlack
from tests.ritual_helpers import setup_values
from tests.test_pulses import forget_me
from tests.world import TEAM, World

LA, LA2 = "U_LA", "U_LA2"  # marketing; U_LA is its lead (named first)
BERLIN, BERLIN2 = "U_BER", "U_BER2"  # IT; U_BER is its lead
CHANNEL = "C_SHARED"
PNG = b"\x89PNG\r\n\x1a\n"
UTC = dt.UTC


def utc(month: int, day: int, hour: int, minute: int = 0, *, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A wall time where `zone` is, as UTC (so DST is Python's business, not the test's arithmetic)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def furnish(fake: FakeSlack) -> None:
    fake.add_channel(CHANNEL, name="mkt-it", is_member=True)
    for user in (LA, LA2):
        fake.add_user(user, tz="America/Los_Angeles")
    for user in (BERLIN, BERLIN2):
        fake.add_user(user, tz="Europe/Berlin")


@pytest.fixture
def team(running_app: RunningApp) -> RunningApp:
    furnish(running_app.fake)
    return running_app


def world(app: RunningApp) -> World:
    return World(app.services.database, app.clock)


def make_ritual(app: RunningApp, **options: object) -> int:
    """A weekly check-in in Berlin, set up long before the months the digests are about."""
    return world(app).ritual(
        channel=CHANNEL,
        marketing=(LA, LA2),
        it=(BERLIN, BERLIN2),
        now=utc(6, 1, 8),
        **options,
    )


def run_at(app: RunningApp, scheduler: TandemScheduler, when: dt.datetime) -> None:
    """The clock reaches `when`; the digest job runs, then the held-DM job (as every ten minutes and
    every minute they would)."""
    app.clock.set(when)
    scheduler.leads_digest_work()
    scheduler.held_dm_work()


def digests_to(fake: FakeSlack, user: str) -> list[str]:
    """What `user` was sent as a digest: the comment of each chart uploaded into their DM, and each
    plain DM (a month without pulses has no chart)."""
    uploaded = [f["initial_comment"] for f in charts_to(fake, user)]
    posted = [c.params["text"] for c in fake.calls("chat.postMessage") if c.params["channel"] == user]
    return uploaded + [t for t in posted if "your digest for" in t]


def charts_to(fake: FakeSlack, user: str) -> list[dict[str, object]]:
    """The digest charts uploaded into `user`'s DM with Tandem (the fake names it D<user id>)."""
    return [f for f in fake.files.values() if f"D{user}" in f["channels"] and "digest" in f["name"]]


def november(app: RunningApp, ritual_id: int) -> None:
    """What happened in November 2026 (and October, for the trend)."""
    w = world(app)
    # October: both sides rate each other 4.0.
    w.tallied_pulse(ritual_id, opened_at=utc(10, 13, 8), marketing={4: 3}, it={4: 3}, team=(4, 4))
    # November: marketing 4.0 then 4.33 (4.2 on average), IT 3.0 then 3.33 (3.2): the gap is 1.0.
    w.tallied_pulse(
        ritual_id,
        opened_at=utc(11, 3, 8),
        marketing={4: 3},
        it={3: 3},
        theme="data",
        theme_answers=({4: 3}, {2: 3}),  # IT rates marketing's data asks 2.0: the weakest theme
        team=(4, 4),
    )
    w.tallied_pulse(
        ritual_id,
        opened_at=utc(11, 17, 8),
        marketing={4: 2, 5: 1},
        it={3: 2, 4: 1},
        theme="speed",
        team=(4, 4),
    )
    w.win(
        what="Launched the shared campaign dashboard",
        marketing=(LA,),
        it=(BERLIN,),
        channel=CHANNEL,
        ritual_id=ritual_id,
        at=utc(11, 5, 10),
    )
    w.win(
        what="Cut the sign-up form's load time in half",
        marketing=(LA2,),
        it=(BERLIN2,),
        channel=CHANNEL,
        ritual_id=ritual_id,
        at=utc(11, 20, 10),
    )
    w.win(
        what="An October win",
        marketing=(LA,),
        it=(BERLIN,),
        channel=CHANNEL,
        ritual_id=ritual_id,
        at=utc(10, 20, 10),
    )
    w.win(
        what="A withdrawn win",
        marketing=(LA,),
        it=(BERLIN,),
        channel=CHANNEL,
        ritual_id=ritual_id,
        at=utc(11, 21, 10),
        withdrawn=True,
    )
    done = w.commitment(
        what="Agree the tracking plan",
        ritual_id=ritual_id,
        marketing_owner=LA,
        it_owner=BERLIN,
        due=dt.date(2026, 11, 10),
        at=utc(11, 2, 9),
    )
    w.commitment_done(done, by=LA, at=utc(11, 9, 9))
    october = w.commitment(
        what="Old work",
        ritual_id=ritual_id,
        marketing_owner=LA,
        it_owner=BERLIN,
        due=dt.date(2026, 10, 10),
        at=utc(10, 2, 9),
    )
    w.commitment_done(october, by=LA, at=utc(10, 9, 9))
    w.commitment(
        what="Fix the consent banner",
        ritual_id=ritual_id,
        marketing_owner=LA2,
        it_owner=BERLIN2,
        due=dt.date(2026, 11, 20),
        at=utc(11, 2, 9),
    )
    w.commitment(
        what="Plan the Q1 launch",
        ritual_id=ritual_id,
        marketing_owner=LA,
        it_owner=BERLIN,
        due=dt.date(2026, 12, 15),
        at=utc(11, 2, 9),
    )


# -- what a lead sees, and when --------------------------------------------------------------------


def test_each_lead_gets_novembers_digest_at_nine_on_the_first_working_day_where_they_are(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = make_ritual(team)
    november(team, ritual_id)
    run_at(team, scheduler, utc(11, 30, 23, 5))  # December already in Berlin, but 00:05 there
    run_at(team, scheduler, utc(12, 1, 7, 50))  # 08:50 in Berlin
    assert digests_to(team.fake, BERLIN) == [] and digests_to(team.fake, LA) == []

    run_at(team, scheduler, utc(12, 1, 8, 0))  # Tuesday 1 December, 09:00 in Berlin, 00:00 in LA
    (berlin,) = digests_to(team.fake, BERLIN)
    assert digests_to(team.fake, LA) == []
    run_at(team, scheduler, utc(12, 1, 16, 50))  # 08:50 in Los Angeles
    assert digests_to(team.fake, LA) == []
    run_at(team, scheduler, utc(12, 1, 17, 0))  # 09:00 in Los Angeles
    (la,) = digests_to(team.fake, LA)
    assert la == berlin
    for day in (1, 2, 7):  # later runs, that day and after, send nothing again
        run_at(team, scheduler, utc(12, day, 18))
    assert len(digests_to(team.fake, LA)) == 1 and len(digests_to(team.fake, BERLIN)) == 1
    # Nobody else of the ritual gets one, and no channel.
    assert digests_to(team.fake, LA2) == [] and digests_to(team.fake, BERLIN2) == []
    assert all(CHANNEL not in f["channels"] for f in team.fake.files.values())

    assert "*Weekly sync: your digest for November 2026*" in la
    assert "*Scores* (2 pulses, each side rating the other):" in la
    assert "• Marketing rates IT: 4.2/5, up 0.2 from October" in la
    assert "• IT rates marketing: 3.2/5, down 0.8 from October" in la
    assert "*Gap*: 1.0 points between the two sides, wider than in October (0.0)." in la
    assert "*Participation*: marketing 6 of 8 (75%) · IT 6 of 8 (75%)" in la
    assert (
        "*Weakest theme*: Data and analytics: the sides were 2.0 points apart in the pulse of Tue 3 Nov 2026"
        in la
    )
    assert (
        "*Wins*: 2: “Launched the shared campaign dashboard”, “Cut the sign-up form's load time in half”."
        in la
    )
    assert "October win" not in la and "withdrawn" not in la
    assert "*Commitments*: 1 done, 1 overdue: “Fix the consent banner” (due Fri 20 Nov 2026)." in la
    focus = la.split("*Suggested focus for December*: ")[1].splitlines()[0]
    assert focus.startswith("Data and analytics. Ask together: “")
    assert any(p.text in focus for p in prompts_for_themes([Theme.DATA]))
    # The chart: the trend of the last three months, a PNG with its alt text.
    (chart,) = charts_to(team.fake, LA)
    assert team.fake.uploads[str(chart["id"])].startswith(PNG)
    assert "September 2026 to November 2026" in str(chart["title"]) and chart["alt_txt"]


def test_when_the_first_is_a_saturday_the_digest_comes_on_monday_in_each_leads_timezone(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    ritual_id = make_ritual(team)
    world(team).tallied_pulse(ritual_id, opened_at=utc(7, 14, 8), marketing={4: 3}, it={3: 3})
    # 1 August 2026 is a Saturday: nothing over the weekend, in either timezone.
    for when in (local("Europe/Berlin", 2026, 8, 1, 9), local("America/Los_Angeles", 2026, 8, 2, 12)):
        run_at(team, scheduler, when)
    assert digests_to(team.fake, BERLIN) == [] and digests_to(team.fake, LA) == []
    run_at(team, scheduler, local("Europe/Berlin", 2026, 8, 3, 9))  # Monday 09:00 in Berlin (summer time)
    assert len(digests_to(team.fake, BERLIN)) == 1 and digests_to(team.fake, LA) == []
    run_at(team, scheduler, local("America/Los_Angeles", 2026, 8, 3, 8, 50))
    assert digests_to(team.fake, LA) == []
    run_at(team, scheduler, local("America/Los_Angeles", 2026, 8, 3, 9))  # Monday 09:00 in Los Angeles
    (la,) = digests_to(team.fake, LA)
    assert "your digest for July 2026" in la and "Marketing rates IT: 4.0/5" in la


def test_the_workspaces_hours_decide_the_first_working_day(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    team.fake.add_user("U_ADMIN", tz="Europe/Berlin", is_admin=True)
    assert "10:00–16:00" in team.slack.command("hours 10:00-16:00 wed-fri", user_id="U_ADMIN").json()["text"]
    make_ritual(team)
    run_at(team, scheduler, utc(12, 1, 9, 0))  # Tuesday 10:00 in Berlin: not a working day here
    assert digests_to(team.fake, BERLIN) == []
    run_at(team, scheduler, utc(12, 2, 8, 50))  # Wednesday 09:50 in Berlin
    assert digests_to(team.fake, BERLIN) == []
    run_at(team, scheduler, utc(12, 2, 9, 0))  # Wednesday 10:00 in Berlin
    assert len(digests_to(team.fake, BERLIN)) == 1


def test_a_quiet_month_gets_two_honest_lines_and_no_chart(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    make_ritual(team)
    run_at(team, scheduler, utc(12, 1, 8, 0))
    run_at(team, scheduler, utc(12, 1, 17, 0))
    (text,) = digests_to(team.fake, LA)
    assert "Nothing to report for November 2026: no pulse closed, no win was shared" in text
    assert "Scores" not in text and team.fake.files == {}
    assert "To stop it, untick “Monthly digest to the leads” in `/tandem edit Weekly sync`." in text
    assert len(digests_to(team.fake, BERLIN)) == 1


def test_a_ritual_set_up_after_the_month_ended_gets_no_digest_of_it(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    world(team).ritual(channel=CHANNEL, marketing=(LA,), it=(BERLIN,), now=utc(12, 1, 7))
    run_at(team, scheduler, utc(12, 1, 17, 0))
    assert digests_to(team.fake, LA) == [] and digests_to(team.fake, BERLIN) == []


def test_a_digest_goes_out_late_after_downtime_but_not_after_nine_days(
    team: RunningApp, scheduler: TandemScheduler
) -> None:
    make_ritual(team)
    make_ritual(team, name="Other sync")
    with team.services.database.begin() as session:
        session.execute(update(Ritual).where(Ritual.name == "Other sync").values(leads_digest=False))
    run_at(team, scheduler, utc(12, 9, 9, 0))  # Tandem was down until Wednesday 9 December
    assert len(digests_to(team.fake, BERLIN)) == 1
    with team.services.database.begin() as session:
        session.execute(update(Ritual).where(Ritual.name == "Other sync").values(leads_digest=True))
    run_at(team, scheduler, utc(12, 10, 9, 0))  # Thursday 10 December: too late for the other's
    assert len(digests_to(team.fake, BERLIN)) == 1


# -- the setting ------------------------------------------------------------------------------------


def test_the_setup_modal_has_the_digest_on_and_a_ritual_with_it_off_sends_none(
    team: RunningApp, scheduler: TandemScheduler, database: Database
) -> None:
    team.clock.set(utc(11, 2, 9))
    team.slack.command("setup", user_id=LA, channel_id=CHANNEL)
    (opened,) = team.fake.wait_for("views.open")
    block = next(
        b for b in opened.params["view"]["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_LEADS_DIGEST
    )
    assert block["label"]["text"] == "Monthly digest to the leads"
    assert [o["value"] for o in block["element"]["initial_options"]] == ["leads_digest"]

    off = setup_values(channel=CHANNEL, name="Quiet one", marketing=(LA,), it=(BERLIN,))
    off[ids.BLOCK_SETUP_LEADS_DIGEST] = {
        ids.ACTION_SETUP_LEADS_DIGEST: {"type": "checkboxes", "selected_options": []}
    }
    on = setup_values(channel=CHANNEL, name="Digested", marketing=(LA2,), it=(BERLIN2,))
    for values in (off, on):
        response = team.slack.view_submission(ids.VIEW_SETUP, values=values, user_id=LA)
        assert response.status_code == 200 and not response.text, response.text
    team.drain()
    with database.read() as session:
        assert dict(session.execute(select(Ritual.name, Ritual.leads_digest)).all()) == {
            "Quiet one": False,
            "Digested": True,
        }
    run_at(team, scheduler, utc(12, 1, 8, 0))
    run_at(team, scheduler, utc(12, 1, 17, 0))
    assert digests_to(team.fake, LA) == [] and digests_to(team.fake, BERLIN) == []
    assert len(digests_to(team.fake, LA2)) == 1 and len(digests_to(team.fake, BERLIN2)) == 1
    with database.read() as session:
        assert {d.user_id for d in session.scalars(select(LeadsDigest))} == {LA2, BERLIN2}


def test_a_held_digest_is_dropped_when_its_ritual_turns_the_digest_off_meanwhile(
    team: RunningApp, scheduler: TandemScheduler, database: Database
) -> None:
    ritual_id = make_ritual(team)
    run_at(team, scheduler, utc(12, 1, 19, 0))  # Tandem was down until 20:00 in Berlin, 11:00 in LA
    assert len(digests_to(team.fake, LA)) == 1 and digests_to(team.fake, BERLIN) == []  # Berlin's is held
    values = setup_values(channel=CHANNEL, marketing=(LA, LA2), it=(BERLIN, BERLIN2))
    values[ids.BLOCK_SETUP_LEADS_DIGEST] = {
        ids.ACTION_SETUP_LEADS_DIGEST: {"type": "checkboxes", "selected_options": []}
    }
    response = team.slack.view_submission(
        ids.VIEW_SETUP, values=values, user_id=LA, private_metadata=json.dumps({"ritual_id": ritual_id})
    )
    assert response.status_code == 200 and not response.text, response.text
    team.drain()
    run_at(team, scheduler, utc(12, 2, 8, 0))  # 09:00 in Berlin: the held digest is no longer wanted
    assert digests_to(team.fake, BERLIN) == []
    with database.read() as session:
        held = session.scalars(select(HeldDm).where(HeldDm.user_id == BERLIN)).one()
        assert (held.status, held.reason) == (HeldDmStatus.SKIPPED, "no longer wanted")


# -- exactly once ----------------------------------------------------------------------------------


def test_two_schedulers_racing_send_each_lead_one_digest(
    team: RunningApp, settings: Settings, clock: FrozenClock, database: Database
) -> None:
    rituals = [make_ritual(team, name=f"Sync {n}") for n in range(3)]
    november(team, rituals[0])
    runtimes = [
        Runtime(settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0)
        for _ in range(2)
    ]

    def race() -> None:
        start = threading.Barrier(2)

        def run(runtime: Runtime) -> None:
            assert runtime.scheduler is not None
            start.wait()
            for _ in range(3):
                runtime.scheduler.leads_digest_work()
                runtime.scheduler.held_dm_work()

        threads = [threading.Thread(target=run, args=(r,)) for r in runtimes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)

    try:
        clock.set(utc(12, 1, 8, 0))  # 09:00 in Berlin
        race()
        clock.set(utc(12, 1, 17, 0))  # 09:00 in Los Angeles
        race()
    finally:
        for r in runtimes:
            r.close()
    assert len(digests_to(team.fake, LA)) == 3 and len(digests_to(team.fake, BERLIN)) == 3
    with database.read() as session:
        claims = session.execute(
            select(LeadsDigest.ritual_id, LeadsDigest.user_id, LeadsDigest.period, LeadsDigest.outcome)
        ).all()
    assert sorted((c.ritual_id, c.user_id) for c in claims) == sorted(
        (r, user) for r in rituals for user in (BERLIN, LA)
    )
    assert {(c.period, c.outcome) for c in claims} == {("2026-11", "sent")}


@pytest.mark.postgres_only
def test_two_scheduler_processes_on_postgresql_send_each_lead_one_digest(
    team: RunningApp, database: Database, database_url: str
) -> None:
    if database.backend != "postgresql":
        pytest.skip("the two-process race runs on PostgreSQL (CI's second run)")
    rituals = [make_ritual(team, name=f"Sync {n}") for n in range(4)]
    november(team, rituals[0])
    for when in (utc(12, 1, 8, 0), utc(12, 1, 17, 0)):  # 09:00 in Berlin, then in Los Angeles
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.scheduler_process",
                    database_url,
                    team.fake.base_url,
                    when.isoformat(),
                    "3",
                    "leads-digest",
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
        outputs = [p.communicate(timeout=180) for p in procs]
        assert all(p.returncode == 0 for p in procs), outputs
        claimed = [int(out.strip().splitlines()[-1]) for out, _ in outputs]
        assert sum(claimed) == 4  # one lead of each of four rituals, each claimed by one process
    assert len(digests_to(team.fake, LA)) == 4 and len(digests_to(team.fake, BERLIN)) == 4
    with database.read() as session:
        outcomes = session.scalars(select(LeadsDigest.outcome)).all()
    assert outcomes == ["sent"] * 8


def test_a_claim_left_by_a_stopped_process_is_handed_off_once_later(
    team: RunningApp, scheduler: TandemScheduler, database: Database
) -> None:
    ritual_id = make_ritual(team)
    with database.begin() as session:  # a process claimed Berlin's digest, then stopped
        session.add(
            LeadsDigest(ritual_id=ritual_id, period="2026-11", user_id=BERLIN, claimed_at=utc(12, 1, 8))
        )
    run_at(team, scheduler, utc(12, 1, 8, 10))
    assert digests_to(team.fake, BERLIN) == []  # not yet stale: it may still be on its way
    run_at(team, scheduler, utc(12, 1, 8, 20))
    assert len(digests_to(team.fake, BERLIN)) == 1
    run_at(team, scheduler, utc(12, 1, 9, 0))
    assert len(digests_to(team.fake, BERLIN)) == 1


def test_forget_me_deletes_the_record_of_a_leads_digests(
    team: RunningApp, scheduler: TandemScheduler, database: Database
) -> None:
    make_ritual(team)
    run_at(team, scheduler, utc(12, 1, 8, 0))
    run_at(team, scheduler, utc(12, 1, 17, 0))
    with database.read() as session:
        assert sorted(session.scalars(select(LeadsDigest.user_id))) == [BERLIN, LA]
    forget_me(team, LA)
    with database.read() as session:
        assert list(session.scalars(select(LeadsDigest.user_id))) == [BERLIN]


# -- every way Tandem runs ------------------------------------------------------------------------


OTHER_TEAM = "T0002"
OTHER_LEADS = ("U_B_MKT", "U_B_IT")  # the second workspace's leads (OAuth only), in Berlin


@pytest.fixture(params=[Mode.HTTP, Mode.OAUTH, Mode.SOCKET])
def mode_runtime(
    request: pytest.FixtureRequest, settings: Settings, clock: FrozenClock, fake_slack: FakeSlack
) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """The runtime each mode builds (scheduler included), and the bot token calls for each
    workspace must carry: one workspace with the configured token, or (OAuth) two installed ones."""
    mode: Mode = request.param
    tokens = {TEAM: "xoxb-test-token"}
    if mode is Mode.OAUTH:
        settings = settings.model_copy(
            update={
                "slack_bot_token": None,
                "slack_client_id": "1234.5678",
                "slack_client_secret": SecretStr("oauth-client-secret-0123456789"),
            }
        )
        tokens = {TEAM: "xoxb-installed-alpha", OTHER_TEAM: "xoxb-installed-beta"}
    elif mode is Mode.SOCKET:
        settings = settings.model_copy(
            update={"slack_signing_secret": None, "slack_app_token": SecretStr("xapp-1-test")}
        )
    runtime = Runtime(settings, mode, with_scheduler=True, clock=clock, poster_interval=0.0)
    if mode is Mode.OAUTH:
        assert runtime.installation_store is not None
        for team_id, token in tokens.items():
            runtime.installation_store.save(
                Installation(
                    app_id=APP_ID,
                    enterprise_id=None,
                    team_id=team_id,
                    bot_token=token,
                    bot_id=f"B_{team_id}",
                    bot_user_id=f"U_BOT_{team_id}",
                    bot_scopes=["chat:write", "im:write", "files:write", "users:read"],
                    user_id=f"U_INSTALLER_{team_id}",
                    installed_at=clock.now().timestamp(),
                )
            )
    yield runtime, tokens
    runtime.close()


def test_the_digest_goes_out_in_single_token_oauth_and_socket_mode(
    mode_runtime: tuple[Runtime, dict[str, str]],
    fake_slack: FakeSlack,
    database: Database,
    clock: FrozenClock,
) -> None:
    runtime, tokens = mode_runtime
    furnish(fake_slack)
    for user in OTHER_LEADS:
        fake_slack.add_user(user, team_id=OTHER_TEAM, tz="Europe/Berlin")
    w = World(database, clock)
    leads = {TEAM: (LA, BERLIN), OTHER_TEAM: OTHER_LEADS}
    for team_id in tokens:
        ritual_id = w.ritual(
            team_id=team_id,
            channel=CHANNEL,
            marketing=leads[team_id][:1],
            it=leads[team_id][1:],
            now=utc(6, 1, 8),
        )
        w.tallied_pulse(ritual_id, opened_at=utc(11, 3, 8), marketing={4: 3}, it={3: 3})
    scheduler = runtime.scheduler
    assert scheduler is not None
    for when in (utc(12, 1, 8), utc(12, 1, 17)):
        clock.set(when)
        scheduler.leads_digest_work()
        scheduler.held_dm_work()
    # Each lead got one digest, with their own workspace's token.
    sent = sorted((c.params["channel_id"], c.token) for c in fake_slack.calls("files.completeUploadExternal"))
    assert sent == sorted((f"D{user}", tokens[team_id]) for team_id in tokens for user in leads[team_id])
    for team_id in tokens:
        for user in leads[team_id]:
            (text,) = digests_to(fake_slack, user)
            assert "Marketing rates IT: 4.0/5" in text


# -- timing and words, without Slack -----------------------------------------------------------------


def test_a_lead_far_east_of_the_ritual_waits_for_the_month_to_end_where_the_ritual_is() -> None:
    hours = WorkingHours()
    november = Month(2026, 11)
    # Tokyo's 09:00 on 1 December is still 30 November in Los Angeles: the digest waits for midnight there.
    assert due_at(
        november, ritual_timezone="America/Los_Angeles", lead_timezone="Asia/Tokyo", hours=hours
    ) == local("America/Los_Angeles", 2026, 12, 1, 0)
    assert due_at(
        november, ritual_timezone="Asia/Tokyo", lead_timezone="America/Los_Angeles", hours=hours
    ) == local("America/Los_Angeles", 2026, 12, 1, 9)
    assert due_at(Month(2026, 7), ritual_timezone="UTC", lead_timezone="Europe/Berlin", hours=hours) == local(
        "Europe/Berlin", 2026, 8, 3, 9
    )
    assert Month(2026, 12).next() == Month(2027, 1) and Month(2027, 1).previous() == Month(2026, 12)


def test_the_digest_text_says_what_is_missing_rather_than_showing_blanks() -> None:
    facts = DigestFacts(
        ritual_name="A <b> sync",
        year=2026,
        month=3,
        pulses=1,
        scores=MonthScores(marketing=3.0, it=None),
        previous=MonthScores(marketing=None, it=None),
        answered={},
        wins=["x" * 200],
    )
    text = build_leads_digest(facts)
    assert "*A &lt;b&gt; sync: your digest for March 2026*" in text
    assert "Marketing rates IT: 3.0/5 (no figure for February to compare)" in text
    assert "IT rates marketing: no figure (no pulse, or too few answers to show)" in text
    assert "*Gap*: not shown (a side had no figure this month)." in text
    assert "*Weakest theme*: none measured" in text
    assert "“" + "x" * 79 + "…”" in text
    assert "*Commitments*: 0 done, none overdue." in text
