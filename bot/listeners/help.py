"""`/tandem help`, and the "Got it" button that dismisses it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot import ids
from bot.listeners.commands import CommandRouter, Invocation
from bot.middleware import services_of


def handle_help(inv: Invocation) -> None:
    text, blocks = inv.router.help_message()
    inv.ack(text=text, blocks=blocks, response_type="ephemeral")


def handle_help_dismiss(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    # An ephemeral message can only be removed through its response_url.
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        services_of(context).messenger.respond(response_url, {"delete_original": True})


def register(app: App, router: CommandRouter) -> None:
    router.add("help", usage="help", summary="show this list", example="help", handler=handle_help)
    app.action(ids.ACTION_HELP_DISMISS)(handle_help_dismiss)
