"""The one global error handler: tell the user in plain words, keep the traceback in the log."""

from __future__ import annotations

from logging import Logger

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.middleware import release_claimed_event

# The failure may come after the ack and after part of the work was saved, so promise nothing
# about what changed: ask the person to look before repeating it.
SORRY = (
    ":warning: Sorry, something went wrong on Tandem's side and your request may not have been "
    "completed. Please check whether it took effect before trying again; if it keeps happening, "
    "tell your Slack admin."
)


def register(app: App) -> None:
    def handle_error(
        error: Exception, body: dict, client: WebClient, context: BoltContext, logger: Logger
    ) -> None:
        logger.error("unhandled error in a Tandem listener", exc_info=error)
        # An event whose listener failed must not stay marked as handled, or Slack's retry is dropped.
        release_claimed_event(context)
        response_url = body.get("response_url") or next(
            (r.get("response_url") for r in body.get("response_urls", [])), None
        )
        user = body.get("user_id") or (body.get("user") or {}).get("id")
        channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
        try:
            if response_url:
                WebhookClient(response_url, timeout=5).send(text=SORRY, response_type="ephemeral")
            elif user and channel:
                client.chat_postEphemeral(channel=channel, user=user, text=SORRY)
        except (SlackApiError, OSError):
            logger.warning("could not tell the user about the error", exc_info=True)

    app.error(handle_error)
