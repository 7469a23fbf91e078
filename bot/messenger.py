"""The one road to Slack: every Web API call Tandem makes, and every reply to a response_url.

Use cases talk to Slack only through the `Messenger` protocol below, and every failure arrives as
one typed error, `DeliveryError`, whatever the call: so the same Slack answer gets the same
treatment everywhere (a channel that is gone pauses its rituals whether the failing post was a
check-in, a win, a digest or a pulse result). `SlackMessenger` is the implementation; tests pass it
the local fake of Slack's Web API, never a mock.

Calls made before an interaction is acknowledged take a `deadline` (a `time.monotonic()` value):
they share Slack's 3 seconds with the database, so they never retry and time out by it.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store import InstallationStore

from bot.config import Mode, Settings
from bot.responder import ResponseUrlClient
from bot.slack_client import make_client, pre_ack_client, without_rate_limit_retries

log = logging.getLogger(__name__)

# Errors that need a person to act before a ritual can post in the channel again, in words for that person.
CHANNEL_ERRORS = {
    "not_in_channel": "Tandem is not a member of the channel any more",
    "channel_not_found": "the channel no longer exists, or Tandem cannot see it",
    "is_archived": "the channel was archived",
    "restricted_action": "the channel does not allow Tandem to post",
}
TOKEN_ERRORS = {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired", "no_bot"}


class DeliveryError(Exception):
    """Slack did not do what Tandem asked.

    `code` is Slack's error code ("channel_not_found", "ratelimited", "timeout", ...); `pause` means
    a ritual in that channel cannot work until a person fixes something (the bot was removed, the
    channel was archived or deleted, the token was revoked); `workspace_gone` means nobody in the
    workspace can be told (the token itself no longer works); `unanswered` means Slack did not
    answer at all (network, timeout), so the call may be worth repeating. `ambiguous` means Slack may
    have done the work anyway (a 5xx, a read timeout, a connection lost after the request was sent):
    a post is then looked up (`find_tagged`), never simply repeated. `retry_after` is set when Slack
    answered 429 (rate limited): it did nothing, and asks to be called again no sooner than that
    many seconds later.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str = "",
        pause: bool = False,
        workspace_gone: bool = False,
        unanswered: bool = False,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.pause = pause
        self.workspace_gone = workspace_gone
        self.unanswered = unanswered
        self.ambiguous = ambiguous
        self.retry_after = retry_after


# Slack's answers to conversations.history that mean Tandem may not read the channel's history (an
# install from before the history scopes), as opposed to a passing failure.
HISTORY_NOT_ALLOWED = frozenset({"missing_scope", "not_allowed_token_type", "no_permission"})


@dataclass(frozen=True)
class PostTag:
    """What a scheduled post is, sent as the message's Slack `metadata`: its event type
    ("tandem_checkin", ...) and the id of the row it was claimed under. It is how an ambiguous post
    is found again in the channel's history."""

    event_type: str
    key: str

    def metadata(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "event_payload": {"id": self.key}}

    def matches(self, message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        return bool(metadata.get("event_type") == self.event_type and str(payload.get("id")) == self.key)


@dataclass(frozen=True)
class UserInfo:
    """What Tandem asks Slack about a person."""

    user_id: str
    timezone: str
    is_admin: bool
    title: str = ""
    deleted: bool = False  # deactivated: they have left the workspace
    display_name: str = ""  # as Slack shows them now (display name, else real name)


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: str
    is_member: bool
    is_private: bool
    is_archived: bool


class Messenger(Protocol):
    """Everything Tandem asks of Slack. Each method raises `DeliveryError`, and nothing else."""

    def post(
        self,
        team_id: str,
        channel_id: str,
        *,
        text: str,
        blocks: Sequence[dict[str, Any]],
        thread_ts: str | None = None,
        tag: PostTag | None = None,
        wait_if_limited: bool = True,
    ) -> str:
        """Post to a channel (or into a thread); returns the message ts. `tag` goes out as the
        message's metadata, so that `find_tagged` can tell whether an ambiguous post arrived.
        `wait_if_limited=False`: a 429 is not waited out and retried here but raised at once
        (DeliveryError with `retry_after`), for a caller that queues by workspace (jobs/poster.py)."""
        ...

    def find_tagged(
        self, team_id: str, channel_id: str, tag: PostTag, *, thread_ts: str | None = None
    ) -> str | None:
        """The ts of the message carrying `tag` among the channel's recent messages (or the thread's
        replies), None if there is none. Raises DeliveryError with a code in HISTORY_NOT_ALLOWED when
        Tandem may not read the history (the workspace installed it without the history scopes)."""
        ...

    def update(
        self, team_id: str, channel_id: str, ts: str, *, text: str, blocks: Sequence[dict[str, Any]]
    ) -> None:
        """Replace a message Tandem posted."""
        ...

    def ephemeral(
        self, team_id: str, channel_id: str, user_id: str, *, text: str, blocks: Sequence[dict[str, Any]] = ()
    ) -> None:
        """A message only `user_id` sees, in a channel."""
        ...

    def dm(self, team_id: str, user_id: str, *, text: str, blocks: Sequence[dict[str, Any]]) -> None:
        """Send a direct message."""
        ...

    def dm_channel(self, team_id: str, user_id: str) -> str:
        """The id of the bot's DM with a person (files need a channel id)."""
        ...

    def open_group(self, team_id: str, user_ids: Sequence[str]) -> str:
        """The id of a group DM with these people and the bot (conversations.open, mpim:write)."""
        ...

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
        """Upload a file into a channel or DM (files.getUploadURLExternal + completeUploadExternal)."""
        ...

    def publish_home(self, team_id: str, user_id: str, view: dict[str, Any]) -> None:
        """Publish a person's App Home tab."""
        ...

    def open_view(
        self, team_id: str, trigger_id: str, view: dict[str, Any], *, deadline: float | None = None
    ) -> None:
        """Open a modal (trigger ids expire after 3 seconds: pass a deadline)."""
        ...

    def update_view(
        self, team_id: str, view_id: str, view: dict[str, Any], *, hash: str | None = None
    ) -> None:
        """Replace an open modal (`hash` refuses the update if the user changed it meanwhile)."""
        ...

    def respond(self, response_url: str, message: dict[str, Any] | bytes) -> bool:
        """Reply to an interaction's response_url (a payload, or its JSON already encoded); False when
        Slack refused it (logged, not raised: the work is done and only its confirmation is lost)."""
        ...

    def user_info(self, team_id: str, user_id: str, *, deadline: float | None = None) -> UserInfo:
        """A person's timezone, title and whether they are a workspace admin or owner."""
        ...

    def channel_info(
        self, team_id: str, channel_id: str, *, deadline: float | None = None
    ) -> ChannelInfo: ...

    def join_channel(self, team_id: str, channel_id: str, *, deadline: float | None = None) -> None:
        """Join a public channel (channels:join)."""
        ...

    def permalink(self, team_id: str, channel_id: str, ts: str) -> str: ...

    def forget(self, team_id: str) -> None:
        """Drop what is cached for a workspace (its client): it uninstalled, or reinstalled with a new token."""
        ...

    def complete_step(
        self, team_id: str, execution_id: str, *, outputs: dict[str, Any], token: str | None = None
    ) -> None:
        """Finish a Workflow Builder step with its outputs (`token`: the execution's own, if Slack sent one)."""
        ...

    def fail_step(self, team_id: str, execution_id: str, *, error: str, token: str | None = None) -> None:
        """Fail a Workflow Builder step; `error` is shown to whoever runs the workflow."""
        ...


# Retry-After when a 429 comes without one (Slack always sends it; a proxy might not).
DEFAULT_RETRY_AFTER = 1.0


def retry_after_of(exc: SlackApiError) -> float:
    """The seconds a 429 asks Tandem to wait (its Retry-After header)."""
    headers = {str(k).lower(): v for k, v in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


# How much of a channel's history `find_tagged` reads: 5 pages of 200, newest first.
HISTORY_PAGE = 200
HISTORY_PAGES = 5


class SlackMessenger:
    """Slack's Web API for any workspace Tandem is installed in: one token (HTTP, Socket Mode) or
    the installation store's (OAuth)."""

    def __init__(
        self,
        settings: Settings,
        mode: Mode,
        installation_store: InstallationStore | None = None,
        responses: ResponseUrlClient | None = None,
    ) -> None:
        self.settings = settings
        self.mode = mode
        self.installation_store = installation_store
        self.responses = responses or ResponseUrlClient(timeout=settings.slack_timeout)
        self._clients: dict[str, WebClient] = {}
        # The same clients without the 429 retry handler (`post(wait_if_limited=False)`).
        self._unwaiting: dict[str, WebClient] = {}
        self._lock = threading.Lock()

    # -- clients ----------------------------------------------------------------------------------

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
                    "Tandem is no longer installed in this workspace",
                    code="not_installed",
                    pause=True,
                    workspace_gone=True,
                )
            token = bot.bot_token
        else:
            # Settings.resolve_mode guarantees a bot token in the single-workspace modes.
            assert self.settings.slack_bot_token is not None
            token = self.settings.slack_bot_token.get_secret_value()
        client = make_client(self.settings, token)
        with self._lock:
            self._clients[team_id] = client
        return client

    def _client(self, team_id: str, deadline: float | None) -> WebClient:
        client = self.client(team_id)
        if deadline is None:
            return client
        try:
            return pre_ack_client(client, deadline)
        except TimeoutError:
            raise DeliveryError("Slack did not answer in time", code="timeout", unanswered=True) from None

    def _unwaiting_client(self, team_id: str) -> WebClient:
        with self._lock:
            client = self._unwaiting.get(team_id)
        if client is None:
            client = without_rate_limit_retries(self.client(team_id))
            with self._lock:
                self._unwaiting[team_id] = client
        return client

    def forget(self, team_id: str) -> None:
        with self._lock:
            self._clients.pop(team_id, None)
            self._unwaiting.pop(team_id, None)

    def _call(self, team_id: str, deadline: float | None, call: Any, *, wait_if_limited: bool = True) -> Any:
        """Run `call(client)` and translate whatever goes wrong into a DeliveryError."""
        client = self._client(team_id, deadline) if wait_if_limited else self._unwaiting_client(team_id)
        try:
            return call(client)
        except SlackApiError as exc:
            raise self._translate(team_id, exc) from None
        except (SlackClientError, OSError, http.client.HTTPException) as exc:
            raise DeliveryError(
                f"Slack could not be reached ({type(exc).__name__})",
                code="timeout" if isinstance(exc, TimeoutError) else "unreachable",
                unanswered=True,
                # urllib raises URLError when connecting or sending failed: Slack never had the
                # request. Anything later (a read timeout, a reset while waiting) may follow its work.
                ambiguous=not isinstance(exc, URLError | SlackClientError),
            ) from None

    # -- messages ---------------------------------------------------------------------------------

    def post(
        self,
        team_id: str,
        channel_id: str,
        *,
        text: str,
        blocks: Sequence[dict[str, Any]],
        thread_ts: str | None = None,
        tag: PostTag | None = None,
        wait_if_limited: bool = True,
    ) -> str:
        metadata = tag.metadata() if tag is not None else None

        def send(client: WebClient) -> str:
            try:
                return self._post(client, channel_id, text, blocks, thread_ts, metadata)
            except SlackApiError as exc:
                if exc.response.get("error") == "not_in_channel" and self._join(client, channel_id):
                    # Removed from a public channel: join it again (channels:join) and retry once.
                    return self._post(client, channel_id, text, blocks, thread_ts, metadata)
                raise

        return str(self._call(team_id, None, send, wait_if_limited=wait_if_limited))

    def find_tagged(
        self, team_id: str, channel_id: str, tag: PostTag, *, thread_ts: str | None = None
    ) -> str | None:
        def look(client: WebClient) -> str | None:
            cursor: str | None = None
            # The newest HISTORY_PAGES pages: a post worth finding is at most the grace window old.
            for _ in range(HISTORY_PAGES):
                if thread_ts is None:
                    page = client.conversations_history(
                        channel=channel_id, limit=HISTORY_PAGE, include_all_metadata=True, cursor=cursor
                    )
                else:
                    page = client.conversations_replies(
                        channel=channel_id,
                        ts=thread_ts,
                        limit=HISTORY_PAGE,
                        include_all_metadata=True,
                        cursor=cursor,
                    )
                for message in page.get("messages") or []:
                    if tag.matches(message):
                        return str(message["ts"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not page.get("has_more") or not cursor:
                    return None
            return None

        found = self._call(team_id, None, look)
        return None if found is None else str(found)

    def update(
        self, team_id: str, channel_id: str, ts: str, *, text: str, blocks: Sequence[dict[str, Any]]
    ) -> None:
        self._call(
            team_id,
            None,
            lambda c: c.chat_update(channel=channel_id, ts=ts, text=text, blocks=list(blocks)),
        )

    def ephemeral(
        self, team_id: str, channel_id: str, user_id: str, *, text: str, blocks: Sequence[dict[str, Any]] = ()
    ) -> None:
        self._call(
            team_id,
            None,
            lambda c: c.chat_postEphemeral(
                channel=channel_id, user=user_id, text=text, blocks=list(blocks) or None
            ),
        )

    def dm(self, team_id: str, user_id: str, *, text: str, blocks: Sequence[dict[str, Any]]) -> None:
        # Posting to a user id opens (or reuses) the DM with the bot.
        self._call(
            team_id, None, lambda c: c.chat_postMessage(channel=user_id, text=text, blocks=list(blocks))
        )

    def dm_channel(self, team_id: str, user_id: str) -> str:
        return str(self._call(team_id, None, lambda c: c.conversations_open(users=user_id)["channel"]["id"]))

    def open_group(self, team_id: str, user_ids: Sequence[str]) -> str:
        users = ",".join(user_ids)
        return str(self._call(team_id, None, lambda c: c.conversations_open(users=users)["channel"]["id"]))

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
        self._call(
            team_id,
            None,
            lambda c: c.files_upload_v2(
                channel=channel_id,
                content=content,
                filename=filename,
                title=title,
                alt_txt=alt_text,
                initial_comment=initial_comment,
            ),
        )

    def publish_home(self, team_id: str, user_id: str, view: dict[str, Any]) -> None:
        self._call(team_id, None, lambda c: c.views_publish(user_id=user_id, view=view))

    # -- interactions -----------------------------------------------------------------------------

    def open_view(
        self, team_id: str, trigger_id: str, view: dict[str, Any], *, deadline: float | None = None
    ) -> None:
        self._call(team_id, deadline, lambda c: c.views_open(trigger_id=trigger_id, view=view))

    def update_view(
        self, team_id: str, view_id: str, view: dict[str, Any], *, hash: str | None = None
    ) -> None:
        self._call(team_id, None, lambda c: c.views_update(view_id=view_id, hash=hash, view=view))

    def respond(self, response_url: str, message: dict[str, Any] | bytes) -> bool:
        if isinstance(message, bytes):
            return self.responses.send_raw(response_url, message)
        return self.responses.send(response_url, message)

    def user_info(self, team_id: str, user_id: str, *, deadline: float | None = None) -> UserInfo:
        user = self._call(team_id, deadline, lambda c: c.users_info(user=user_id)["user"])
        return UserInfo(
            user_id=user_id,
            timezone=user.get("tz") or "UTC",
            is_admin=bool(user.get("is_admin") or user.get("is_owner")),
            title=(user.get("profile") or {}).get("title") or "",
            deleted=bool(user.get("deleted")),
            display_name=(user.get("profile") or {}).get("display_name")
            or user.get("real_name")
            or user.get("name")
            or "",
        )

    def channel_info(self, team_id: str, channel_id: str, *, deadline: float | None = None) -> ChannelInfo:
        channel = self._call(team_id, deadline, lambda c: c.conversations_info(channel=channel_id)["channel"])
        return ChannelInfo(
            channel_id=channel_id,
            is_member=bool(channel.get("is_member")),
            is_private=bool(channel.get("is_private")),
            is_archived=bool(channel.get("is_archived")),
        )

    def join_channel(self, team_id: str, channel_id: str, *, deadline: float | None = None) -> None:
        self._call(team_id, deadline, lambda c: c.conversations_join(channel=channel_id))

    def permalink(self, team_id: str, channel_id: str, ts: str) -> str:
        return str(
            self._call(
                team_id, None, lambda c: c.chat_getPermalink(channel=channel_id, message_ts=ts)["permalink"]
            )
        )

    # -- Workflow Builder steps ---------------------------------------------------------------------

    def complete_step(
        self, team_id: str, execution_id: str, *, outputs: dict[str, Any], token: str | None = None
    ) -> None:
        self._step_call(
            team_id,
            token,
            lambda c: c.functions_completeSuccess(function_execution_id=execution_id, outputs=outputs),
        )

    def fail_step(self, team_id: str, execution_id: str, *, error: str, token: str | None = None) -> None:
        self._step_call(
            team_id,
            token,
            lambda c: c.functions_completeError(function_execution_id=execution_id, error=error),
        )

    def _step_call(self, team_id: str, token: str | None, call: Any) -> None:
        if token is None:
            self._call(team_id, None, call)
            return
        # The execution's token is good for this run only: a client of its own, not cached.
        client = make_client(self.settings, token)
        self._call(team_id, None, lambda _: call(client))

    # -- internals --------------------------------------------------------------------------------

    @staticmethod
    def _post(
        client: WebClient,
        channel_id: str,
        text: str,
        blocks: Sequence[dict[str, Any]],
        thread_ts: str | None,
        metadata: dict[str, Any] | None,
    ) -> str:
        response = client.chat_postMessage(
            channel=channel_id,
            text=text,
            blocks=list(blocks),
            thread_ts=thread_ts,
            unfurl_links=False,
            metadata=metadata,
        )
        return str(response["ts"])

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
            return DeliveryError(f"{CHANNEL_ERRORS[error]} ({error})", code=error, pause=True)
        if error in TOKEN_ERRORS:
            self.forget(team_id)
            return DeliveryError(
                f"Slack no longer accepts Tandem's token ({error})",
                code=error,
                pause=True,
                workspace_gone=True,
            )
        if error == "ratelimited" or exc.response.status_code == 429:
            return DeliveryError(
                "Slack is rate-limiting Tandem in this workspace (ratelimited)",
                code="ratelimited",
                retry_after=retry_after_of(exc),
            )
        server_error = exc.response.status_code >= 500
        return DeliveryError(
            f"Slack refused the message ({error})",
            code=error,
            unanswered=server_error,
            ambiguous=server_error,
        )
