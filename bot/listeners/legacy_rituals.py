"""Transitional: the ritual toolkit that other listeners (insight, home, prompts, pulses, wins) imported
from `bot.listeners.rituals` before the use-case layer.

`acting_on` now stands on `bot.usecases.access` (scoped to the workspace, Slack asked through the
messenger); the three helpers that take Bolt's `WebClient` keep their old behaviour, their words
coming from the builders. Delete this module once those listeners call `bot.usecases` themselves:
`bot.usecases.access.ritual_named` / `is_admin`, `bot.usecases.rituals.check_channel` and
`bot.usecases.rituals.open_setup` replace it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks.rituals import refusal_text
from bot.blocks.setup import ChannelProblem, channel_problem_text
from bot.blocks.setup import new_setup_form as form_for_new
from bot.listeners.commands import Invocation
from bot.slack_client import pre_ack_client
from bot.usecases.access import Actor, RefusalKind, Refused, load_scoped_ritual, ritual_named

__all__ = ["acting_on", "check_channel", "form_for_new", "is_admin", "user_timezone"]


@contextmanager
def acting_on(
    inv: Invocation, name: str, example: str, *, refusal: str | None = None
) -> Iterator[tuple[Any, Any] | None]:
    """The ritual a command names, in a write unit of work, if the caller may act on it: (session,
    ritual), typed loosely so that this listener module imports nothing from `db`. Otherwise the ack
    says why and it yields None."""
    found = ritual_named(inv.services, Actor(inv.team_id, inv.user_id, inv.channel_id), name, example=example)
    if isinstance(found, Refused):
        text = refusal_text(found.kind, detail=found.detail, ritual_name=found.ritual_name, refusal=refusal)
        inv.ack(text=text, response_type="ephemeral")
        yield None
        return
    with inv.services.database.begin() as session:
        ritual = load_scoped_ritual(session, inv.team_id, found.id)
        if ritual is not None:
            yield session, ritual
            return
    inv.ack(text=refusal_text(RefusalKind.NOT_FOUND), response_type="ephemeral")
    yield None


def is_admin(client: WebClient, user_id: str, *, deadline: float | None = None) -> bool | None:
    """Whether the user is a workspace admin or owner; None when Slack did not say in time."""
    try:
        user = pre_ack_client(client, deadline).users_info(user=user_id)["user"]
    except SlackApiError as exc:
        if exc.response.status_code == 429 or exc.response.status_code >= 500:
            return None
        return False
    except (SlackClientError, OSError):
        return None
    return bool(user.get("is_admin") or user.get("is_owner"))


def user_timezone(client: WebClient, user_id: str) -> str:
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except SlackApiError:
        return "UTC"


def check_channel(client: WebClient, channel_id: str, *, deadline: float | None = None) -> str | None:
    """None if Tandem can post in the channel (joining a public one itself), else what to tell the user."""
    try:
        channel = pre_ack_client(client, deadline).conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        code = exc.response.get("error") or ""
        if code == "channel_not_found":
            return channel_problem_text(ChannelProblem.UNSEEN)
        return channel_problem_text(ChannelProblem.CHECK_FAILED, code)
    except (SlackClientError, OSError):
        return channel_problem_text(ChannelProblem.CHECK_SLOW)
    if channel.get("is_archived"):
        return channel_problem_text(ChannelProblem.ARCHIVED)
    if channel.get("is_member"):
        return None
    if channel.get("is_private"):
        return channel_problem_text(ChannelProblem.PRIVATE)
    try:
        pre_ack_client(client, deadline).conversations_join(channel=channel_id)
    except SlackApiError as exc:
        return channel_problem_text(ChannelProblem.JOIN_FAILED, exc.response.get("error") or "")
    except (SlackClientError, OSError):
        return channel_problem_text(ChannelProblem.JOIN_SLOW)
    return None
