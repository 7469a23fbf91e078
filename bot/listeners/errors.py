"""The one global error handler: tell the user in plain words, keep the traceback in the log."""

from __future__ import annotations

from logging import Logger

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

SORRY = (
    ":warning: Sorry, something went wrong on Tandem's side and your request was not completed. "
    "Nothing was changed. Please try again in a minute; if it keeps happening, tell your Slack admin."
)


def register(app: App) -> None:
    def handle_error(error: Exception, body: dict, client: WebClient, logger: Logger) -> None:
        logger.error("unhandled error in a Tandem listener", exc_info=error)
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
