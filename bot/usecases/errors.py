"""Telling a person that their request failed on Tandem's side (the global error handler's words)."""

from __future__ import annotations

import logging

from bot.blocks.help import SOMETHING_WENT_WRONG
from bot.messenger import DeliveryError
from bot.services import Services

log = logging.getLogger(__name__)


def apologise(
    services: Services, team_id: str, *, response_url: str | None, user_id: str | None, channel_id: str | None
) -> bool:
    """Say sorry where the person will see it: through the request's response_url when it has one,
    else as an ephemeral message in its channel. Returns whether it could be said."""
    try:
        if response_url:
            return services.messenger.respond(
                response_url, {"text": SOMETHING_WENT_WRONG, "response_type": "ephemeral"}
            )
        if user_id and channel_id:
            services.messenger.ephemeral(team_id, channel_id, user_id, text=SOMETHING_WENT_WRONG)
            return True
    except DeliveryError as exc:
        log.warning("could not tell the user about the error: %s", exc.reason)
    return False
