"""The Slack app manifest: the source of truth for commands, events and scopes.

Each scope is here because a feature needs it; the comment says which. Fewer scopes make a
friendlier install screen and a smaller blast radius if a token leaks.
"""

from __future__ import annotations

from typing import Any

from bot import ids

BOT_SCOPES: tuple[str, ...] = (
    "commands",  # the /tandem slash command
    "chat:write",  # check-ins, answers, confirmations, DMs to a ritual's creator
    "users:read",  # users.info: a person's timezone (setup default) and whether they are an admin
    "channels:read",  # conversations.info: can Tandem post in the chosen public channel?
    "groups:read",  # conversations.info for private channels Tandem was invited to
    "channels:join",  # join the ritual's public channel itself
    "files:write",  # report charts and CSV exports (files_upload_v2)
    "im:write",  # conversations.open: a DM channel id to upload a report or a drift alert's chart into
    # conversations.history / .replies with include_all_metadata: when Slack's answer to a check-in
    # (or pulse, result, digest) is ambiguous (a 5xx, a timeout), or Tandem died while posting, the
    # tagged message is looked for in the channel, so it is neither posted twice nor lost (README,
    # "Delivery guarantees"). Without them such a post is recorded as uncertain.
    "channels:history",
    "groups:history",
    "mpim:write",  # conversations.open with two or three users: the group DM introducing a one-to-one pair
)

BOT_EVENTS: tuple[str, ...] = (
    ids.EVENT_APP_UNINSTALLED,  # no scope needed: drop tokens, stop scheduled work
    ids.EVENT_TOKENS_REVOKED,
    ids.EVENT_APP_HOME_OPENED,  # no scope needed: publish the person's Home tab
)

SHORTCUTS: tuple[dict[str, str], ...] = (
    {
        "name": "Celebrate a shared win",
        "type": "message",
        "callback_id": ids.SHORTCUT_CELEBRATE,
        "description": "Credit marketing and IT together for what this message reports",
    },
)

COMMANDS: tuple[dict[str, str], ...] = (
    {
        "command": ids.COMMAND,
        "description": "Joint marketing and IT check-ins, pulses and shared wins",
        "usage_hint": "help",
    },
)


def _parameters(*params: tuple[str, str, str, bool]) -> dict[str, Any]:
    """A step's input parameters in the manifest's form: (name, Slack type, title, required)."""
    return {
        "properties": {
            name: {"type": kind, "title": title, "description": title} for name, kind, title, _ in params
        },
        "required": [name for name, _, _, required in params if required],
    }


# Every step acts as the person running the workflow: their rights, their name on what it creates.
_RUNNER = ("user", "slack#/types/user_id", "Person running the workflow", True)

# Workflow Builder custom steps (Bolt's `app.function`), handled in bot/listeners/workflow_steps.py.
# Slack offers them only to org-ready apps on paid plans, so they are opt-in: `--workflow-steps`.
WORKFLOW_STEPS: dict[str, dict[str, Any]] = {
    ids.FUNCTION_START_PULSE: {
        "title": "Start a Tandem pulse",
        "description": "Ask a ritual's marketing and IT members the pulse questions now",
        "input_parameters": _parameters(_RUNNER, ("ritual", "string", "Ritual name", True)),
        "output_parameters": _parameters(("ritual", "string", "Ritual the pulse opened in", True)),
    },
    ids.FUNCTION_CELEBRATE_WIN: {
        "title": "Celebrate a shared win",
        "description": "Credit marketing and IT people together for a win",
        "input_parameters": _parameters(
            _RUNNER,
            ("text", "string", "What was won", True),
            ("marketing", "array", "Marketing people", True),
            ("it", "array", "IT people", True),
            ("channel", "slack#/types/channel_id", "Channel to celebrate in", True),
        ),
        "output_parameters": _parameters(("win_id", "string", "Win id", True)),
    },
    ids.FUNCTION_ADD_COMMITMENT: {
        "title": "Add a commitment",
        "description": "A commitment with one marketing owner, one IT owner and a due date",
        "input_parameters": _parameters(
            _RUNNER,
            ("text", "string", "What is committed", True),
            ("marketing_owner", "slack#/types/user_id", "Marketing owner", True),
            ("it_owner", "slack#/types/user_id", "IT owner", True),
            ("due", "slack#/types/date", "Due date", True),
        ),
        "output_parameters": _parameters(("commitment_id", "string", "Commitment id", True)),
    },
}
# Arrays of people: Workflow Builder passes user ids.
for _step in WORKFLOW_STEPS.values():
    for _param in _step["input_parameters"]["properties"].values():
        if _param["type"] == "array":
            _param["items"] = {"type": "slack#/types/user_id"}


def build_manifest(
    url: str | None, *, socket_mode: bool = False, workflow_steps: bool = False
) -> dict[str, Any]:
    """The manifest for an app served at `url` (https://HOST), or over Socket Mode when `url` is None.

    `workflow_steps` adds the Workflow Builder steps; they need manifest version 2, the
    `function_executed` event and an org-ready app (`org_deploy_enabled`).
    """
    base = (url or "").rstrip("/")
    events_url = f"{base}/slack/events"

    def with_url(entry: dict[str, Any], key: str = "url") -> dict[str, Any]:
        return entry if socket_mode else {**entry, key: events_url}

    settings: dict[str, Any] = {
        "event_subscriptions": with_url({"bot_events": list(BOT_EVENTS)}, "request_url"),
        "interactivity": with_url({"is_enabled": True}, "request_url"),
        "org_deploy_enabled": workflow_steps,
        "socket_mode_enabled": socket_mode,
        "token_rotation_enabled": False,
    }
    oauth_config: dict[str, Any] = {"scopes": {"bot": list(BOT_SCOPES)}}
    if not socket_mode:
        oauth_config["redirect_urls"] = [f"{base}/slack/oauth_redirect"]
    manifest: dict[str, Any] = {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "Tandem",
            "description": "Keeps marketing and IT leadership working as partners.",
            "long_description": (
                "Tandem runs the ritual that keeps a CMO's and a CIO's teams in step: recurring joint "
                "check-ins in a shared channel, discussion prompts drawn from proven collaboration "
                "practices, one-click pulse ratings that show how each side sees the other, shared wins "
                "that credit both functions, and commitments with an owner on each side."
            ),
            "background_color": "#2c4a6e",
        },
        "features": {
            "bot_user": {"display_name": "Tandem", "always_online": True},
            # DMs (a paused ritual, pulse reminders) arrive in the app's Messages tab: posting to a
            # user id there needs only chat:write, no im:write.
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "slash_commands": [with_url(dict(c)) for c in COMMANDS],
            "shortcuts": [dict(s) for s in SHORTCUTS],
        },
        "oauth_config": oauth_config,
        "settings": settings,
    }
    if workflow_steps:
        manifest["_metadata"] = {"major_version": 2}
        settings["event_subscriptions"]["bot_events"].append(ids.EVENT_FUNCTION_EXECUTED)
        settings["function_runtime"] = "remote"  # the steps run here, in Tandem, not on Slack's hosts
        manifest["functions"] = WORKFLOW_STEPS
    return manifest
