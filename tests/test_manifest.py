"""The manifest is the source of truth: it and the registered listeners must agree."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from slack_bolt import App
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher

from bot import ids
from bot.app import create_app
from bot.manifest import BOT_SCOPES, build_manifest
from tests.conftest import RunningApp

SCHEMA_DIR = Path(__file__).parent / "manifest_schema"  # slackapi/manifest-schema v0.5.0, see SOURCE.md
SCHEMA_VERSION = "v0.5.0"


def manifest_validator() -> Draft7Validator:
    """Slack's official manifest schema, its versioned parts served from the vendored copies."""
    base = f"https://raw.githubusercontent.com/slackapi/manifest-schema/{SCHEMA_VERSION}/schemas/"
    registry: Registry[Any] = Registry()
    for path in sorted((SCHEMA_DIR / "schemas").glob("*.json")):
        resource = Resource.from_contents(json.loads(path.read_text()))
        registry = registry.with_resource(base + path.name, resource)
    schema = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    return Draft7Validator(schema, registry=registry)


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    errors = sorted(manifest_validator().iter_errors(manifest), key=lambda e: list(e.path))
    # oneOf hides the real complaint in its context: list the deepest ones.
    found = []
    for error in errors:
        leaves = [e for e in error.context or [] if not e.context] or [error]
        found += [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in leaves]
    return found


def tandem_manifest(*args: str) -> dict[str, Any]:
    """What `tandem manifest ARGS` prints, run as an operator runs it."""
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "manifest", *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


@pytest.mark.parametrize(
    "args",
    [
        ["--url", "https://tandem.example.com"],
        ["--socket-mode"],
        ["--url", "https://tandem.example.com", "--workflow-steps"],
        ["--socket-mode", "--workflow-steps"],
    ],
    ids=["http", "socket-mode", "http-workflow-steps", "socket-mode-workflow-steps"],
)
def test_tandem_manifest_passes_slacks_official_schema(args: list[str]) -> None:
    assert schema_errors(tandem_manifest(*args)) == []


def test_the_schema_check_can_fail() -> None:
    """The vendored schema really constrains: the old 25-character shortcut name is refused."""
    manifest = build_manifest("https://tandem.example.com")
    manifest["features"]["shortcuts"][0]["name"] = "Celebrate as a shared win"
    manifest["settings"]["no_such_setting"] = True
    errors = schema_errors(manifest)
    assert any("features/shortcuts/0/name" in e and "too long" in e for e in errors), errors
    assert any("no_such_setting" in e for e in errors), errors


def test_workflow_steps_are_declared_only_when_asked_for() -> None:
    plain = build_manifest("https://tandem.example.com")
    assert "functions" not in plain and plain["settings"]["org_deploy_enabled"] is False
    assert ids.EVENT_FUNCTION_EXECUTED not in plain["settings"]["event_subscriptions"]["bot_events"]
    steps = build_manifest("https://tandem.example.com", workflow_steps=True)
    assert {f["title"] for f in steps["functions"].values()} == {
        "Start a Tandem pulse",
        "Celebrate a shared win",
        "Add a commitment",
    }
    assert steps["settings"]["org_deploy_enabled"] is True
    assert ids.EVENT_FUNCTION_EXECUTED in steps["settings"]["event_subscriptions"]["bot_events"]


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


def _manifest_ids() -> tuple[set[str], set[str], set[str]]:
    """The commands, bot events and shortcut callback ids the manifest declares."""
    m = build_manifest("https://example.com")
    commands = {c["command"] for c in m["features"]["slash_commands"]}
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    shortcuts = {s["callback_id"] for s in m["features"]["shortcuts"]}
    return commands, events, shortcuts


def test_every_manifest_command_shortcut_and_event_reaches_a_listener(running_app: RunningApp) -> None:
    # Bolt answers 404 to a request no listener takes (raise_error_for_unhandled_request=False).
    commands, events, shortcuts = _manifest_ids()
    for command in commands:
        assert running_app.slack.command("help", command=command).status_code == 200
    for callback_id in shortcuts:
        message = {"type": "message", "user": "U1", "text": "We shipped it", "ts": "1700000000.000100"}
        assert running_app.slack.message_shortcut(callback_id, message=message).status_code == 200
    for event in events:
        payload = (
            {"type": event, "tokens": {"oauth": ["U1"]}}
            if event == ids.EVENT_TOKENS_REVOKED
            else {"type": event, "user": "U1", "tab": "messages"}
        )
        assert running_app.slack.event(payload).response.status_code == 200
    assert (
        running_app.slack.command("help", command="/tandem-unknown").status_code == 404
    )  # the probe can fail


# Which argument of Bolt's built-in matcher factories (slack_bolt.listener_matcher.builtins) holds the
# id, by factory: `app.command("/x")` builds `command.<locals>.func` with `command` in its closure.
_MATCHER_ARGUMENT = {
    "command": "command",
    "event": "event_type",
    "shortcut": "callback_id",
    "global_shortcut": "callback_id",
    "message_shortcut": "callback_id",
    "action": "constraints",
    "block_action": "constraints",
    "view_submission": "callback_id",
    "view_closed": "callback_id",
    "function_executed": "callback_id",  # app.function: a Workflow Builder step
}


def registered_listeners(app: App) -> dict[str, set[str | re.Pattern[str]]]:
    """What every listener on `app` listens to, by kind, read off Bolt's matchers.

    A listener of a kind this test does not know fails it, so nothing registered escapes the check.
    """
    found: dict[str, set[str | re.Pattern[str]]] = {}
    for listener in app._listeners:
        builtins = [m for m in listener.matchers if isinstance(m, BuiltinListenerMatcher)]
        assert len(builtins) == 1, f"{listener.ack_function}: expected one built-in matcher"
        func = builtins[0].func
        kind = func.__qualname__.split(".")[0]
        assert kind in _MATCHER_ARGUMENT, f"a {kind} listener: teach this test (and the manifest) about it"
        closure = dict(
            zip(func.__code__.co_freevars, (c.cell_contents for c in func.__closure__ or ()), strict=True)
        )
        constraint = closure[_MATCHER_ARGUMENT[kind]]
        if isinstance(constraint, dict):  # e.g. app.action({"action_id": ..., "block_id": ...})
            constraint = constraint.get("action_id") or constraint.get("callback_id")
        found.setdefault(kind, set()).add(constraint)
    return found


def test_every_registered_listener_is_declared(running_app: RunningApp) -> None:
    app = create_app(running_app.services.settings, running_app.services)
    listeners = registered_listeners(app)
    commands, events, shortcuts = _manifest_ids()

    # What Slack must be told about: exactly what the manifest declares, both ways.
    assert listeners.pop("command") == commands
    assert listeners.pop("event") == events
    assert listeners.pop("shortcut", set()) | listeners.pop("message_shortcut", set()) == shortcuts
    assert not listeners.pop("global_shortcut", set()), "global shortcuts need a manifest entry"
    # Workflow steps: exactly the functions `tandem manifest --workflow-steps` declares.
    steps = build_manifest("https://example.com", workflow_steps=True)["functions"]
    assert listeners.pop("function_executed") == set(steps)

    # Actions and modal callbacks are not in the manifest, but every id is declared once in bot/ids.py:
    # a string is one of its constants, a pattern is anchored on one of its prefixes.
    constants = {v for k, v in vars(ids).items() if k.isupper() and isinstance(v, str)}
    assert listeners, "no action or view listeners found: the inspection is broken"
    for kind, constraints in listeners.items():
        for constraint in constraints:
            if isinstance(constraint, re.Pattern):
                prefix = constraint.pattern.removeprefix("^").removesuffix(":")
                assert constraint.pattern.startswith("^") and prefix in constants, (kind, constraint)
            else:
                assert constraint in constants, (
                    f"{kind} listener for {constraint!r} is not an id in bot/ids.py"
                )


def test_the_listener_inspection_sees_a_new_listener() -> None:
    """The check above fails for a listener nobody declared (so it is not vacuous)."""
    app = App(signing_secret="x", token="xoxb-x", token_verification_enabled=False)
    app.event("member_joined_channel")(lambda: None)
    app.command("/tandem-extra")(lambda ack: ack())
    app.action(re.compile("^nowhere:"))(lambda ack: ack())
    listeners = registered_listeners(app)
    assert listeners["event"] == {"member_joined_channel"}
    assert listeners["command"] == {"/tandem-extra"}
    (pattern,) = listeners["action"]
    assert isinstance(pattern, re.Pattern) and pattern.pattern == "^nowhere:"
