"""`/tandem help`, and the "Got it" button that dismisses it."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond

from bot import ids
from bot.listeners.commands import CommandRouter, Invocation


def register(app: App, router: CommandRouter) -> None:
    def handle_help(inv: Invocation) -> None:
        text, blocks = router.help_message()
        inv.ack(text=text, blocks=blocks, response_type="ephemeral")

    def handle_help_dismiss(ack: Ack, respond: Respond) -> None:
        ack()
        # An ephemeral message can only be removed through its response_url.
        respond(delete_original=True)

    router.add("help", usage="help", summary="show this list", example="help", handler=handle_help)
    app.action(ids.ACTION_HELP_DISMISS)(handle_help_dismiss)
