"""The `Messenger` jobs post through: Slack's Web API with the right token, errors made plain."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store import InstallationStore

from bot.config import Mode, Settings
from bot.slack_client import make_client
from jobs.delivery import DeliveryError

log = logging.getLogger(__name__)

# Errors that need a person to act before this ritual can post again, in words for that person.
CHANNEL_ERRORS = {
    "not_in_channel": "Tandem is not a member of the channel any more",
    "channel_not_found": "the channel no longer exists, or Tandem cannot see it",
    "is_archived": "the channel was archived",
    "restricted_action": "the channel does not allow Tandem to post",
}
TOKEN_ERRORS = {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired", "no_bot"}


class SlackMessenger:
    """Posts for any workspace Tandem is installed in: one token (HTTP, Socket Mode) or the store's."""

    def __init__(
        self, settings: Settings, mode: Mode, installation_store: InstallationStore | None = None
    ) -> None:
        self.settings = settings
        self.mode = mode
        self.installation_store = installation_store
        self._clients: dict[str, WebClient] = {}
        self._lock = threading.Lock()

    def client(self, team_id: str) -> WebClient:
        with self._lock:
            client = self._clients.get(team_id)
        if client is not None:
            return client
        if self.mode is Mode.OAUTH:
            bot = (
                self.installation_store.find_bot(enterprise_id=None, team_id=team_id)
                if self.installation_store
                else None
            )
            if bot is None or not bot.bot_token:
                raise DeliveryError(
                    "Tandem is no longer installed in this workspace", pause=True, workspace_gone=True
                )
            token = bot.bot_token
        else:
            token = self.settings.slack_bot_token.get_secret_value()  # type: ignore[union-attr]
        client = make_client(self.settings, token)
        with self._lock:
            self._clients[team_id] = client
        return client

    def forget(self, team_id: str) -> None:
        with self._lock:
            self._clients.pop(team_id, None)

    def post(
        self,
        team_id: str,
        channel_id: str,
        *,
        text: str,
        blocks: Sequence[dict[str, Any]],
        thread_ts: str | None = None,
    ) -> str:
        client = self.client(team_id)
        try:
            return self._post(client, channel_id, text, blocks, thread_ts)
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error == "not_in_channel" and self._join(client, channel_id):
                # Removed from a public channel: join it again (channels:join) and retry once.
                try:
                    return self._post(client, channel_id, text, blocks, thread_ts)
                except SlackApiError as again:
                    raise self._translate(team_id, again) from None
            raise self._translate(team_id, exc) from None
        except SlackClientError as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from None
        except OSError as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from None

    def publish_home(self, team_id: str, user_id: str, view: dict[str, Any]) -> None:
        client = self.client(team_id)
        try:
            client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            raise self._translate(team_id, exc) from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from None

    def upload(
        self,
        team_id: str,
        channel_id: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        alt_text: str | None = None,
        initial_comment: str | None = None,
    ) -> None:
        client = self.client(team_id)
        try:
            client.files_upload_v2(
                channel=channel_id,
                content=content,
                filename=filename,
                title=title,
                alt_txt=alt_text,
                initial_comment=initial_comment,
            )
        except SlackApiError as exc:
            raise self._translate(team_id, exc) from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from None

    def dm_channel(self, team_id: str, user_id: str) -> str:
        client = self.client(team_id)
        try:
            return client.conversations_open(users=user_id)["channel"]["id"]
        except SlackApiError as exc:
            raise self._translate(team_id, exc) from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from None

    def dm(self, team_id: str, user_id: str, *, text: str, blocks: Sequence[dict[str, Any]]) -> None:
        client = self.client(team_id)
        try:
            # Posting to a user id opens (or reuses) the DM with the bot.
            client.chat_postMessage(channel=user_id, text=text, blocks=list(blocks))
        except SlackApiError as exc:
            raise self._translate(team_id, exc) from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from None

    def update(
        self, team_id: str, channel_id: str, ts: str, *, text: str, blocks: Sequence[dict[str, Any]]
    ) -> None:
        client = self.client(team_id)
        try:
            client.chat_update(channel=channel_id, ts=ts, text=text, blocks=list(blocks))
        except SlackApiError as exc:
            raise self._translate(team_id, exc) from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from None

    @staticmethod
    def _post(
        client: WebClient, channel_id: str, text: str, blocks: Sequence[dict[str, Any]], thread_ts: str | None
    ) -> str:
        response = client.chat_postMessage(
            channel=channel_id, text=text, blocks=list(blocks), thread_ts=thread_ts, unfurl_links=False
        )
        return response["ts"]

    @staticmethod
    def _join(client: WebClient, channel_id: str) -> bool:
        try:
            client.conversations_join(channel=channel_id)
            return True
        except SlackApiError:
            return False

    def _translate(self, team_id: str, exc: SlackApiError) -> DeliveryError:
        error = exc.response.get("error", "") or f"HTTP {exc.response.status_code}"
        if error in CHANNEL_ERRORS:
            return DeliveryError(f"{CHANNEL_ERRORS[error]} ({error})", pause=True)
        if error in TOKEN_ERRORS:
            self.forget(team_id)
            return DeliveryError(
                f"Slack no longer accepts Tandem's token ({error})", pause=True, workspace_gone=True
            )
        if error == "ratelimited":
            return DeliveryError("Slack kept rate-limiting Tandem after several retries (ratelimited)")
        return DeliveryError(f"Slack refused the message ({error})")
