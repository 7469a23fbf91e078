"""The one global error handler: tell the user in plain words, keep the traceback in the log."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import App, BoltContext

from bot.blocks.help import SOMETHING_WENT_WRONG
from bot.messenger import DeliveryError
from bot.middleware import SERVICES, release_claimed_event
from bot.services import Services


def _first_response_url(body: dict[str, Any]) -> str | None:
    url = body.get("response_url")
    if isinstance(url, str) and url:
        return url
    for entry in body.get("response_urls") or ():
        url = entry.get("response_url") if isinstance(entry, dict) else None
        if isinstance(url, str) and url:
            return url
    return None


def _id_of(body: dict[str, Any], flat: str, nested: str) -> str | None:
    """`body[flat]` (slash commands) or `body[nested]["id"]` (interactions), when it is text."""
    value = body.get(flat)
    if not value and isinstance(body.get(nested), dict):
        value = body[nested].get("id")
    return value if isinstance(value, str) and value else None


def handle_error(error: Exception, body: dict[str, Any], context: BoltContext, logger: Logger) -> None:
    logger.error("unhandled error in a Tandem listener", exc_info=error)
    # An event whose listener failed must not stay marked as handled, or Slack's retry is dropped.
    release_claimed_event(context)
    services: Services | None = context.get(SERVICES)  # absent if the failure came before the middleware
    if services is None or not isinstance(body, dict):
        return
    message = {"text": SOMETHING_WENT_WRONG, "response_type": "ephemeral"}
    response_url = _first_response_url(body)
    user, channel = _id_of(body, "user_id", "user"), _id_of(body, "channel_id", "channel")
    try:
        if response_url:
            services.messenger.respond(response_url, message)
        elif user and channel:
            services.messenger.ephemeral(context.team_id or "", channel, user, text=SOMETHING_WENT_WRONG)
    except DeliveryError as exc:
        logger.warning("could not tell the user about the error: %s", exc.reason)


def register(app: App) -> None:
    app.error(handle_error)
