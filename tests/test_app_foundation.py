"""The Bolt app driven the way Slack drives it: signed requests in, the fake Web API's record out."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from bot import ids
from db.models import ProcessedEvent, Workspace, slack_bots, slack_installations
from db.session import Database
from tests.conftest import RunningApp


def _help_listing(body: dict) -> str:
    return "\n".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section")


def test_help_is_answered_ephemerally_with_every_subcommand_and_an_example(running_app: RunningApp) -> None:
    started = time.monotonic()
    response = running_app.slack.command("help")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    listing = _help_listing(body)
    router_names = ["help", "setup", "list", "edit", "pause", "resume", "skip", "now", "delete", "prompts"]
    for name in router_names:
        assert f"`/tandem {name}" in listing
    assert listing.count("_e.g._") >= len(router_names)
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
        body = b"".join(wsgi(environ, lambda status, headers: statuses.append(status)))  # type: ignore[arg-type]
        assert statuses == ["503 Service Unavailable"]
        assert b'"database": false' in body
    finally:
        broken.dispose()


def _install_tokens(database: Database, team_id: str) -> None:
    with database.begin() as session:
        common = {"client_id": "1.2", "app_id": "A0TANDEM", "team_id": team_id, "bot_token": "xoxb-stored"}
        session.execute(slack_installations.insert().values(user_id="U_INSTALLER", **common))
        session.execute(slack_bots.insert().values(**common))


def test_app_uninstalled_removes_tokens_keeps_history_and_is_handled_once(
    running_app: RunningApp, database: Database
) -> None:
    _install_tokens(database, "T0001")
    changes: list[str | None] = []
    running_app.services.on_schedule_change = changes.append

    first = running_app.slack.event({"type": ids.EVENT_APP_UNINSTALLED})
    assert first.response.status_code == 200
    running_app.drain()
    retry = running_app.slack.event(
        {"type": ids.EVENT_APP_UNINSTALLED}, event_id=first.event_id, retry_num=1, retry_reason="http_timeout"
    )
    assert retry.response.status_code == 200
    running_app.drain()

    with database.begin() as session:
        workspace = session.scalars(select(Workspace).where(Workspace.team_id == "T0001")).one()
        assert workspace.uninstalled_at == running_app.clock.now()
        assert session.scalar(select(func.count()).select_from(slack_installations)) == 0
        assert session.scalar(select(func.count()).select_from(slack_bots)) == 0
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
    assert changes == ["T0001"]  # the retry did nothing


def test_tokens_revoked_for_the_bot_uninstalls_but_user_tokens_alone_do_not(
    running_app: RunningApp, database: Database
) -> None:
    _install_tokens(database, "T0001")
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

    def broken(ack) -> None:  # type: ignore[no-untyped-def]
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
    assert call.params["response_type"] == "ephemeral"
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_url_verification(running_app: RunningApp) -> None:
    response = running_app.slack.url_verification("challenge-xyz")
    assert response.status_code == 200
    assert json.loads(response.text)["challenge"] == "challenge-xyz"
