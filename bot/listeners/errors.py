"""The one global error handler: tell the user in plain words, keep the traceback in the log."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt import App, BoltContext

from bot.middleware import SERVICES, release_claimed_event
from bot.services import Services
from bot.usecases import errors


def _first_response_url(body: dict[str, Any]) -> str | None:
    url = body.get("response_url")
    if isinstance(url, str) and url:
        return url
    entries = body.get("response_urls")  # a modal submission's, when its view asked for one
    for entry in entries if isinstance(entries, list) else ():
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
    errors.apologise(
        services,
        context.team_id or "",
        response_url=_first_response_url(body),
        user_id=_id_of(body, "user_id", "user"),
        channel_id=_id_of(body, "channel_id", "channel"),
    )


def register(app: App) -> None:
    app.error(handle_error)
