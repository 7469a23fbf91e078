"""Answering an interaction: a modal opened on a click, or a word to the person who clicked."""

from __future__ import annotations

import logging

from slack_sdk.models.views import View

from bot.messenger import DeliveryError
from bot.services import Services
from bot.slack_client import pre_ack_deadline
from bot.usecases.access import Actor

log = logging.getLogger(__name__)


def open_modal(services: Services, actor: Actor, trigger_id: str, view: View) -> None:
    """Open `view` for the actor; a failure is logged, never raised (nothing was changed yet)."""
    # A trigger id expires 3 seconds after the click: one quick try, never a retry.
    try:
        services.messenger.open_view(actor.team_id, trigger_id, view.to_dict(), deadline=pre_ack_deadline())
    except DeliveryError as exc:
        log.warning("the %s modal could not be opened: %s", view.callback_id, exc.reason)


def reply(services: Services, actor: Actor, response_url: object, text: str) -> None:
    """Tell the actor `text` where only they see it: through the interaction's response_url (an
    ephemeral message beside the one they clicked in), else, for a click outside any message (the
    Home tab), as an ephemeral message in their DM with Tandem. Never raises."""
    if isinstance(response_url, str) and response_url:
        message = {"text": text, "response_type": "ephemeral", "replace_original": False}
        services.messenger.respond(response_url, message)
        return
    try:
        channel_id = services.messenger.dm_channel(actor.team_id, actor.user_id)
        services.messenger.ephemeral(actor.team_id, channel_id, actor.user_id, text=text)
    except DeliveryError as exc:
        log.info("could not tell %s why their click did nothing: %s", actor.user_id, exc.reason)
