"""The manifest is the source of truth: it and the registered listeners must agree."""

from __future__ import annotations

import json
import subprocess
import sys

from slack_bolt.request import BoltRequest

from bot import ids
from bot.app import create_app
from bot.manifest import BOT_EVENTS, BOT_SCOPES, build_manifest
from tests.conftest import RunningApp


def test_manifest_has_the_form_slack_accepts() -> None:
    m = build_manifest("https://example.com")
    assert m["display_information"]["name"] == "Tandem"
    assert len(m["display_information"]["description"]) <= 140
    assert m["features"]["bot_user"]["display_name"] == "Tandem"
    for command in m["features"]["slash_commands"]:
        assert command["url"] == "https://example.com/slack/events"
        assert command["command"].startswith("/") and len(command["description"]) <= 100
    assert m["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://example.com/slack/events",
    }
    assert m["settings"]["event_subscriptions"]["request_url"] == "https://example.com/slack/events"
    assert m["oauth_config"]["redirect_urls"] == ["https://example.com/slack/oauth_redirect"]
    assert set(m["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert m["settings"]["socket_mode_enabled"] is False

    socket = build_manifest(None, socket_mode=True)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "url" not in socket["features"]["slash_commands"][0]


def test_tandem_manifest_command_prints_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "manifest", "--url", "https://example.com"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == build_manifest("https://example.com")


def _manifest_ids() -> tuple[set[str], set[str]]:
    m = build_manifest("https://example.com")
    commands = {c["command"] for c in m["features"]["slash_commands"]}
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    return commands, events


def _manifest_shortcuts() -> set[str]:
    return {s["callback_id"] for s in build_manifest("https://example.com")["features"]["shortcuts"]}


def test_every_manifest_command_and_event_reaches_a_listener(running_app: RunningApp) -> None:
    commands, events = _manifest_ids()
    for command in commands:
        assert running_app.slack.command("help", command=command).status_code == 200
    for event in events:
        payload = (
            {"type": event, "tokens": {"oauth": ["U1"]}}
            if event == ids.EVENT_TOKENS_REVOKED
            else {"type": event}
        )
        assert running_app.slack.event(payload).response.status_code == 200


def _listener_constraints(app) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    """The commands and events the app's listeners match, read off Bolt's matchers by probing."""
    commands: set[str] = set()
    events: set[str] = set()
    probe_commands = {ids.COMMAND, "/tandem-other"}
    probe_events = set(BOT_EVENTS) | {
        "app_mention",
        "message",
        "reaction_added",
        "team_join",
        "app_home_opened",
    }
    for listener in app._listeners:
        for command in probe_commands:
            req = BoltRequest(body=f"command={command}&text=&team_id=T1&user_id=U1", mode="socket_mode")
            if all(m.matches(req, None) for m in listener.matchers):
                commands.add(command)
        for event in probe_events:
            body = {"type": "event_callback", "team_id": "T1", "event": {"type": event}}
            req = BoltRequest(body=body, mode="socket_mode")
            if all(m.matches(req, None) for m in listener.matchers):
                events.add(event)
    return commands, events


def test_every_listener_is_in_the_manifest(running_app: RunningApp) -> None:
    app = create_app(running_app.services.settings, running_app.services)
    listened_commands, listened_events = _listener_constraints(app)
    commands, events = _manifest_ids()
    assert listened_commands == commands
    assert listened_events == events
    # Shortcuts: every registered shortcut callback is declared, and every declared one is handled.
    probes = _manifest_shortcuts() | {"some_other_shortcut"}
    listened = set()
    for listener in app._listeners:
        for callback in probes:
            for kind in ("message_action", "shortcut"):
                body = {"type": kind, "callback_id": callback, "team": {"id": "T1"}, "user": {"id": "U1"}}
                if all(
                    m.matches(BoltRequest(body=body, mode="socket_mode"), None) for m in listener.matchers
                ):
                    listened.add(callback)
    assert listened == _manifest_shortcuts()
