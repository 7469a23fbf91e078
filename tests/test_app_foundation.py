"""The Bolt app driven the way Slack drives it: signed requests in, the fake Web API's record out."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from pydantic import SecretStr
from slack_bolt import Ack, App
from sqlalchemy import func, select

from bot import ids
from bot.config import Mode, Settings
from bot.listeners import register_listeners
from bot.runtime import Runtime
from bot.usecases.pulses import close_due, send_reminders
from db.models import (
    Commitment,
    Occurrence,
    ProcessedEvent,
    Pulse,
    PulseBallot,
    PulseQuestion,
    Ritual,
    Workspace,
    slack_bots,
    slack_installations,
    slack_oauth_states,
)
from db.session import Database
from jobs.scheduler import TandemScheduler
from tests.clock import FrozenClock
from tests.conftest import SIGNING_SECRET, RunningApp, serve_runtime
from tests.fake_slack import TEAM_ID, TEAM_NAME, FakeSlack
from tests.world import World, weekly


def _help_listing(body: dict) -> str:
    return "\n".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section")


def router_subcommands() -> list[str]:
    """Every subcommand the app's router knows, from the same registration `create_app` runs."""
    app = App(signing_secret="x", token="xoxb-x", token_verification_enabled=False)
    return register_listeners(app).names


HELP_ITEM = re.compile(r"^• `/tandem (?P<usage>[^`]+)`: .+\n\s+_e\.g\._ `/tandem (?P<example>[^`]+)`$", re.M)


def test_help_is_answered_ephemerally_with_every_subcommand_and_an_example(running_app: RunningApp) -> None:
    started = time.monotonic()
    response = running_app.slack.command("help")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    listing = _help_listing(body)
    items = [(m["usage"].split()[0], m["example"].split()[0]) for m in HELP_ITEM.finditer(listing)]
    names = router_subcommands()
    assert len(names) >= 15  # the router really was read (setup … alerts)
    # Each subcommand exactly once, with exactly one example, and that example uses it.
    assert sorted(usage for usage, _ in items) == sorted(names)
    assert all(usage == example for usage, example in items)
    assert listing.count("_e.g._") == len(names)
    assert "Tandem keeps marketing and IT working as partners" in body["text"]
    assert elapsed < 3.0  # Slack's limit; in practice this is a few milliseconds


def test_unknown_subcommand_and_empty_text_get_the_help(running_app: RunningApp) -> None:
    unknown = running_app.slack.command("frobnicate now").json()
    assert unknown["response_type"] == "ephemeral"
    assert "I don't know the subcommand “frobnicate”" in unknown["text"]
    assert "`frobnicate`" in _help_listing(unknown)

    empty = running_app.slack.command("").json()
    assert "Here is what I can do" in empty["text"]


def test_help_dismiss_button_deletes_the_ephemeral_message(running_app: RunningApp) -> None:
    response_url = running_app.fake.response_url("help-1")
    response = running_app.slack.block_action(
        ids.ACTION_HELP_DISMISS, value="dismiss", response_url=response_url
    )
    assert response.status_code == 200
    running_app.drain()
    posted = running_app.fake.responses("help-1")
    assert posted == [{"delete_original": True}] or posted[0].get("delete_original") in (True, "true")


def test_forged_stale_and_unsigned_requests_get_401_and_change_nothing(
    running_app: RunningApp, database: Database
) -> None:
    slack = running_app.slack
    six_minutes_ago = int(time.time()) - 6 * 60
    forged = slack.command("help", team_id="T_FORGED", signature="v0=" + "0" * 64)
    stale = slack.command("help", team_id="T_STALE", timestamp=six_minutes_ago)
    unsigned = slack.command("help", team_id="T_UNSIGNED", sign=False)
    event_forged = slack.event(
        {"type": ids.EVENT_APP_UNINSTALLED}, team_id="T_FORGED", signature="v0=" + "1" * 64
    )
    for response in (forged, stale, unsigned, event_forged.response):
        assert response.status_code == 401
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(Workspace)) == 0
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0
    assert running_app.fake.calls("chat.postMessage") == []


def test_healthz_reports_the_database(running_app: RunningApp) -> None:
    from wsgiref.util import setup_testing_defaults

    import requests

    from bot.web import TandemWSGI

    ok = requests.get(running_app.url + "/healthz", timeout=5)
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "database": True}

    # The same app in front of a database that does not answer.
    broken = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    try:
        assert running_app.runtime.app is not None
        wsgi = TandemWSGI(running_app.runtime.app, broken)
        environ: dict = {"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}
        setup_testing_defaults(environ)
        statuses: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)

        body = b"".join(wsgi(environ, start_response))
        assert statuses == ["503 Service Unavailable"]
        assert b'"database": false' in body
    finally:
        broken.dispose()


def test_app_uninstalled_removes_tokens_keeps_history_and_is_handled_once(
    running_app: RunningApp, database: Database
) -> None:
    World(database, running_app.clock).tokens("T0001")
    first = running_app.slack.event({"type": ids.EVENT_APP_UNINSTALLED})
    assert first.response.status_code == 200
    running_app.drain()
    with database.begin() as session:
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == "T0001")).one()
        uninstalled_at = workspace.uninstalled_at
    assert uninstalled_at == running_app.clock.now()

    running_app.clock.advance(minutes=5)
    retry = running_app.slack.event(
        {"type": ids.EVENT_APP_UNINSTALLED}, event_id=first.event_id, retry_num=1, retry_reason="http_timeout"
    )
    assert retry.response.status_code == 200
    running_app.drain()

    with database.begin() as session:
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == "T0001")).one()
        assert workspace.uninstalled_at == uninstalled_at  # the retry changed nothing
        assert session.scalar(select(func.count()).select_from(slack_installations)) == 0
        assert session.scalar(select(func.count()).select_from(slack_bots)) == 0
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


@dataclass
class Team:
    """A workspace with a ritual, an open anonymous pulse with an answer, and a commitment."""

    team_id: str
    channel: str
    marketing: str
    it: str
    pulse_id: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return (self.channel, self.marketing, self.it)


def _seed(world: World, team: Team) -> None:
    """A ritual posting on Tuesdays at 05:30 UTC, its pulse (reminders due 20 h after now, closing
    after 24 h) with one anonymous answer, and a commitment two days overdue."""
    now = world.now()
    ritual_id = world.ritual(
        team_id=team.team_id,
        channel=team.channel,
        cadence=weekly(at=dt.time(5, 30), timezone="UTC"),
        marketing=(team.marketing,),
        it=(team.it,),
        pulse_enabled=False,  # no new pulse with the check-in: the seeded one is the only one
        now=now - dt.timedelta(days=1),
    )
    team.pulse_id = world.pulse(
        ritual_id, answers={team.marketing: {PulseQuestion.PARTNER: 4}}, reminder_hours=4, message_ts=None
    )
    world.commitment(
        team_id=team.team_id,
        what="Shared KPI dashboard",
        marketing_owner=team.marketing,
        it_owner=team.it,
        due=now.date() - dt.timedelta(days=2),
        ritual_id=ritual_id,
        at=now - dt.timedelta(days=7),
    )


def _mentions(fake: FakeSlack, team: Team) -> list[str]:
    return [c.method for c in fake.calls() if any(n in json.dumps(c.params) for n in team.names)]


def test_an_uninstalled_workspace_gets_no_scheduled_work(running_app: RunningApp, database: Database) -> None:
    fake, clock = running_app.fake, running_app.clock
    installed = Team("T0001", "C_STAYS", "U_MKT_STAYS", "U_IT_STAYS")
    removed = Team("T0002", "C_GONE", "U_MKT_GONE", "U_IT_GONE")
    for team in (installed, removed):
        fake.add_channel(team.channel, name=team.channel.lower(), is_member=True)
        _seed(World(database, clock), team)
    # The installed team works in Tokyo, where Tuesday 06:00 UTC is 15:00: their DMs go out at once
    # (quiet hours are tests/test_quiet_hours.py's).
    for user in (installed.marketing, installed.it):
        fake.add_user(user, tz="Asia/Tokyo", team_id=installed.team_id)

    uninstalled = running_app.slack.event({"type": ids.EVENT_APP_UNINSTALLED}, team_id=removed.team_id)
    assert uninstalled.response.status_code == 200
    running_app.drain()

    # The scheduler's own jobs, on the frozen clock, exactly as `tandem scheduler` runs them.
    runtime = running_app.runtime
    scheduler = TandemScheduler(
        database,
        clock,
        runtime.messenger,
        poster_interval=0.0,
        pulse_settings=running_app.services.pulse_settings,
        services=running_app.services,
    )
    try:
        clock.advance(hours=21)  # Tuesday 06:00: reminders due, the 05:30 check-in owed, a nudge owed
        scheduler.sync()
        scheduler.pulse_work()
        scheduler.ledger_work()
        scheduler.catch_up()
        clock.advance(hours=4)  # both pulses are past their closing time
        scheduler.pulse_work()
        assert scheduler.outbox is not None and scheduler.outbox.join(20)
    finally:
        scheduler.shutdown()

    # The installed workspace got each kind of scheduled message ...
    assert "chat.postMessage" in _mentions(fake, installed)
    posted_to = [c.params["channel"] for c in fake.calls("chat.postMessage")]
    assert posted_to.count(installed.channel) == 2  # the check-in and the pulse results
    assert posted_to.count(installed.it) == 2  # the pulse reminder and the overdue nudge
    assert posted_to.count(installed.marketing) == 1  # the nudge: they answered, so no reminder
    # ... and the uninstalled one nothing at all.
    assert _mentions(fake, removed) == []

    with database.begin() as session:
        pulse = session.get(Pulse, removed.pulse_id)
        assert pulse is not None and pulse.closed_at is not None  # closed in the database only
        assert session.scalar(select(func.count()).select_from(PulseBallot)) == 0  # anonymity kept
        gone = session.scalars(
            select(Commitment).join(Workspace).where(Workspace.team_id == removed.team_id)
        ).one()
        assert gone.nudged_at is None  # waits for a reinstall, unclaimed
        assert (
            session.scalar(
                select(func.count())
                .select_from(Occurrence)
                .join(Ritual)
                .join(Workspace)
                .where(Workspace.team_id == removed.team_id)
            )
            == 0
        )


def test_pulse_jobs_skip_an_uninstalled_workspace_even_with_a_pulse_left_open(
    running_app: RunningApp, database: Database
) -> None:
    """Defence in depth: a pulse of an uninstalled workspace that is somehow still open (say, opened
    by a check-in racing the uninstall) gets neither reminders nor posted results."""
    fake, clock = running_app.fake, running_app.clock
    removed = Team("T0002", "C_GONE", "U_MKT_GONE", "U_IT_GONE")
    fake.add_channel(removed.channel, name="gone", is_member=True)
    _seed(World(database, clock), removed)
    World(database, clock).mark_uninstalled(removed.team_id)
    services = running_app.services

    clock.advance(hours=21)
    assert send_reminders(services, now=clock.now()) == 0
    clock.advance(hours=4)
    assert close_due(services, now=clock.now()) == 0
    assert _mentions(fake, removed) == []


def test_the_scheduler_posts_through_the_runtimes_one_outbox(
    settings: Settings, database: Database, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """`tandem scheduler` as the runtime wires it: one outbox, whose writes take turns with the
    scheduler's own, and a post that finds its channel gone unschedules the ritual at once."""
    team = Team(TEAM_ID, "C_GONE", "U_MKT_GONE", "U_IT_GONE")
    _seed(World(database, clock), team)
    with database.read() as session:
        ritual_id = session.scalars(select(Ritual.id).where(Ritual.channel_id == team.channel)).one()
    runtime = Runtime(
        settings, Mode.HTTP, with_app=False, with_scheduler=True, clock=clock, poster_interval=0.0
    )
    try:
        scheduler = runtime.scheduler
        assert scheduler is not None and scheduler.services is runtime.services
        assert scheduler.outbox is runtime.outbox is runtime.services.checkins
        assert runtime.outbox.database is scheduler.database
        assert scheduler.database.engine is runtime.database.engine
        # Use cases keep the plain database: only the scheduler's writes queue for their turn.
        assert runtime.services.database is runtime.database
        scheduler.sync()
        assert scheduler.next_run(ritual_id) is not None

        fake_slack.fail("chat.postMessage", error="channel_not_found", times=3)
        clock.advance(hours=21)  # Tuesday 06:00: the 05:30 check-in is owed
        assert scheduler.catch_up() == 1
        assert scheduler.join(20)
        assert scheduler.next_run(ritual_id) is None  # paused, and the scheduler was told
    finally:
        runtime.close()


def test_tokens_revoked_for_the_bot_uninstalls_but_user_tokens_alone_do_not(
    running_app: RunningApp, database: Database
) -> None:
    World(database, running_app.clock).tokens("T0001")
    running_app.slack.event({"type": ids.EVENT_TOKENS_REVOKED, "tokens": {"oauth": ["U1"]}})
    running_app.drain()
    with database.begin() as session:
        assert session.scalars(select(Workspace)).one().uninstalled_at is None
        assert session.scalar(select(func.count()).select_from(slack_bots)) == 1

    running_app.slack.event({"type": ids.EVENT_TOKENS_REVOKED, "tokens": {"bot": ["U0BOT"]}})
    running_app.drain()
    with database.begin() as session:
        assert session.scalars(select(Workspace)).one().uninstalled_at is not None
        assert session.scalar(select(func.count()).select_from(slack_bots)) == 0


def test_a_failing_listener_tells_the_user_in_plain_words(running_app: RunningApp, caplog) -> None:
    from slack_bolt.request import BoltRequest

    from bot.app import create_app

    # A listener that fails after acknowledging, added to an app built by the real factory.
    app = create_app(running_app.services.settings, running_app.services)

    def broken(ack: Ack) -> None:
        ack()
        raise RuntimeError("boom")

    app.command("/tandem-broken")(broken)
    built = running_app.slack.build_command(
        "x", command="/tandem-broken", response_url=running_app.fake.response_url("err")
    )
    response = app.dispatch(BoltRequest(body=built.text, headers={k: [v] for k, v in built.headers.items()}))

    assert response.status == 200  # the ack went out before the failure
    (call,) = running_app.fake.wait_for("response_url", lambda c: c.path == "/response/err")
    assert "something went wrong" in call.params["text"]
    # The failure came after the ack, possibly after part of the work was saved: no false promise.
    assert "Nothing was changed" not in call.params["text"]
    assert "may not have been completed" in call.params["text"]
    assert call.params["response_type"] == "ephemeral"
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_url_verification(running_app: RunningApp) -> None:
    response = running_app.slack.url_verification("challenge-xyz")
    assert response.status_code == 200
    assert json.loads(response.text)["challenge"] == "challenge-xyz"


def test_a_retry_after_a_failed_listener_is_handled_and_after_success_is_not(
    running_app: RunningApp, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The event id is claimed before the listener runs; a listener that fails gives the claim back."""
    World(database, running_app.clock).tokens("T0001")
    calls: list[str | None] = []

    def scheduler_down_once(team_id: str | None) -> None:
        calls.append(team_id)
        if len(calls) == 1:
            raise RuntimeError("the scheduler could not be told")

    running_app.services.on_schedule_change = scheduler_down_once

    first = running_app.slack.event({"type": ids.EVENT_APP_UNINSTALLED})
    assert first.response.status_code == 200
    running_app.drain()
    assert calls == ["T0001"]
    assert any(r.exc_info and "could not be told" in str(r.exc_info[1]) for r in caplog.records)
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0  # released

    # Slack's retry of the failed delivery is processed ...
    def retry(num: int) -> int:
        event = {"type": ids.EVENT_APP_UNINSTALLED}
        sent = running_app.slack.event(
            event, event_id=first.event_id, retry_num=num, retry_reason="http_error"
        )
        return sent.response.status_code

    assert retry(1) == 200
    running_app.drain()
    assert calls == ["T0001", "T0001"]
    # ... and, once it succeeded, a further retry is only acknowledged.
    assert retry(2) == 200
    running_app.drain()
    assert calls == ["T0001", "T0001"]
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_a_new_workspace_is_stamped_with_tandems_clock(running_app: RunningApp, database: Database) -> None:
    assert running_app.slack.command("help", team_id="T_NEW").status_code == 200
    with database.begin() as session:
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == "T_NEW")).one()
        assert workspace.installed_at == running_app.clock.now()  # the frozen clock, not today's date


# -- OAuth: many workspaces installed through /slack/install ----------------------------------------

CLIENT_ID, CLIENT_SECRET = "1234.5678", "oauth-client-secret-0123456789"


@pytest.fixture
def oauth_app(
    fake_slack: FakeSlack, database_url: str, database: Database, clock: FrozenClock
) -> Iterator[RunningApp]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' own option: mypy sees only fields
        slack_client_id=CLIENT_ID,
        slack_client_secret=SecretStr(CLIENT_SECRET),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=fake_slack.base_url,
        database_url=database_url,
    )
    assert settings.resolve_mode() is Mode.OAUTH
    fake_slack.oauth_client = (CLIENT_ID, CLIENT_SECRET)
    fake_slack.valid_tokens = {"xoxb-oauth-c0de"}  # only the token the installation hands out
    runtime = Runtime(settings, Mode.OAUTH, clock=clock, listener_threads=1, poster_interval=0.0)
    with serve_runtime(runtime, fake_slack, clock) as app:
        yield app


def test_oauth_install_stores_the_installation_and_the_team_is_answered(
    oauth_app: RunningApp, database: Database
) -> None:
    fake, browser = oauth_app.fake, requests.Session()
    # Before anyone installed Tandem, Bolt finds no token for the team and the command gets no help.
    before = oauth_app.slack.command("help")
    assert before.status_code == 200 and "/tandem setup" not in before.text

    page = browser.get(oauth_app.url + "/slack/install", allow_redirects=False, timeout=5)
    assert page.status_code == 200
    authorize = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert authorize is not None
    assert f"client_id={CLIENT_ID}" in authorize[1] and "scope=commands" in authorize[1]
    state = re.search(r"state=([\w-]+)", authorize[1])
    assert state is not None
    assert browser.cookies.get("slack-app-oauth-state") == state[1]  # the browser holds the state too
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(slack_oauth_states)) == 1

    # Slack sends the admin back with a one-time code after they press "Allow". The state cookie is
    # `Secure` (Tandem runs behind https), so this plain-http test hands it over itself.
    cookie = {"slack-app-oauth-state": state[1]}
    done = browser.get(
        oauth_app.url + "/slack/oauth_redirect",
        params={"code": "c0de", "state": state[1]},
        cookies=cookie,
        timeout=5,
    )
    assert done.status_code == 200
    (exchange,) = fake.calls("oauth.v2.access")
    assert exchange.params["code"] == "c0de" and exchange.params["client_id"] == CLIENT_ID
    with database.begin() as session:
        bot = session.execute(select(slack_bots.c.team_id, slack_bots.c.bot_token)).one()
        assert tuple(bot) == (TEAM_ID, "xoxb-oauth-c0de")
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == TEAM_ID)).one()
        assert workspace.name == TEAM_NAME and workspace.uninstalled_at is None
        assert workspace.installed_at == oauth_app.clock.now()
        assert session.scalar(select(func.count()).select_from(slack_oauth_states)) == 0  # used up

    answer = oauth_app.slack.command("help")
    assert answer.status_code == 200
    assert answer.json()["response_type"] == "ephemeral" and "/tandem setup" in answer.text

    # The state is single-use: replaying the redirect installs nothing more.
    replay = browser.get(
        oauth_app.url + "/slack/oauth_redirect",
        params={"code": "c0de", "state": state[1]},
        cookies=cookie,
        timeout=5,
    )
    assert replay.status_code in (400, 401) and len(fake.calls("oauth.v2.access")) == 1


def _install(app: RunningApp, code: str) -> requests.Response:
    """An admin's trip through /slack/install, Slack's "Allow" and back to /slack/oauth_redirect."""
    browser = requests.Session()
    page = browser.get(app.url + "/slack/install", allow_redirects=False, timeout=5)
    state = re.search(r"state=([\w-]+)", page.text)
    assert page.status_code == 200 and state is not None
    return browser.get(
        app.url + "/slack/oauth_redirect",
        params={"code": code, "state": state[1]},
        cookies={"slack-app-oauth-state": state[1]},
        timeout=5,
    )


def test_an_oauth_reinstall_posts_with_the_new_token(oauth_app: RunningApp, database: Database) -> None:
    fake, messenger = oauth_app.fake, oauth_app.services.messenger
    assert messenger is not None
    fake.add_channel("C_OAUTH", name="mkt-it", is_member=True)
    assert _install(oauth_app, "c0de").status_code == 200
    messenger.post(TEAM_ID, "C_OAUTH", text="before", blocks=[])
    assert fake.last("chat.postMessage").token == "xoxb-oauth-c0de"

    uninstalled = oauth_app.slack.event({"type": ids.EVENT_APP_UNINSTALLED})
    assert uninstalled.response.status_code == 200
    oauth_app.drain()
    with database.begin() as session:
        assert session.scalar(select(func.count()).select_from(slack_bots)) == 0
        assert session.scalars(select(Workspace)).one().uninstalled_at is not None

    oauth_app.clock.advance(days=2)
    fake.valid_tokens = {"xoxb-oauth-c0de2"}  # the old token is dead
    assert _install(oauth_app, "c0de2").status_code == 200
    with database.begin() as session:
        workspace = session.scalars(select(Workspace)).one()
        assert workspace.uninstalled_at is None and workspace.installed_at == oauth_app.clock.now()
    messenger.post(TEAM_ID, "C_OAUTH", text="after", blocks=[])  # not the cached, revoked client
    assert fake.last("chat.postMessage").token == "xoxb-oauth-c0de2"
