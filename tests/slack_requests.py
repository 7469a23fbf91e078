"""Send correctly signed requests into the running app, shaped the way Slack sends them.

Every request goes to ``POST {app_url}/slack/events``: slash commands and interactivity as
``application/x-www-form-urlencoded`` (interactive payloads as a JSON string in the ``payload`` field),
Events API deliveries as ``application/json``. Each is signed like Slack does: header
``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{raw body}">`` plus
``X-Slack-Request-Timestamp``.

Each ``build_*`` method returns a :class:`BuiltRequest` (raw body + headers) without sending it, and the
same-named method without ``build_`` sends it and returns the ``requests.Response``. All of them accept
``timestamp`` (craft a stale request), ``signature`` (forge one) and ``sign=False`` (omit both headers).

``requests.Session`` is not guaranteed thread-safe: use :meth:`SlackRequests.clone` per thread.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, NamedTuple, ParamSpec
from urllib.parse import urlencode

import requests

__all__ = [
    "API_APP_ID",
    "BuiltRequest",
    "EventDelivery",
    "SlackRequests",
    "sign",
]

API_APP_ID = "A0TANDEM"
BOT_USER_ID = "U0BOT"
DEFAULT_USER_ID = "U_MKT1"
DEFAULT_CHANNEL_ID = "C_SHARED"
# Requests never leave the machine: with no response_url given, point at the discard port so a stray
# respond() fails fast with "connection refused" instead of reaching hooks.slack.com.
UNSET_RESPONSE_URL = "http://127.0.0.1:9/response/unset"
REQUEST_TIMEOUT = 10.0

_ids = itertools.count(1)


def sign(body: bytes | str, secret: str, timestamp: int) -> str:
    """Slack's request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed by secret."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}{secrets.token_hex(4).upper()}"


def _trigger_id() -> str:
    # Same three-part shape as Slack's trigger ids ("13345224609.738474920.8088930838d88f008e0").
    return f"{int(time.time() * 1000)}.{next(_ids)}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


@dataclass(frozen=True)
class BuiltRequest:
    """A request ready to send: the exact bytes that were signed and the headers to send with them."""

    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (what Bolt verifies the signature against)."""
        return self.body.decode("utf-8")


class EventDelivery(NamedTuple):
    """Result of :meth:`SlackRequests.event`: unpack as ``response, event_id = ...``."""

    response: requests.Response
    event_id: str


_P = ParamSpec("_P")


def _sender(
    build: Callable[Concatenate[SlackRequests, _P], BuiltRequest],
) -> Callable[Concatenate[SlackRequests, _P], requests.Response]:
    """Turn a ``build_x`` method into ``x`` that sends it, keeping the exact (typed) signature."""

    def send_built(self: SlackRequests, /, *args: _P.args, **kwargs: _P.kwargs) -> requests.Response:
        return self.send(build(self, *args, **kwargs))

    name = build.__name__.removeprefix("build_")
    send_built.__name__ = send_built.__qualname__ = name
    send_built.__doc__ = f"Send :meth:`{build.__name__}` and return the app's response (same arguments)."
    return send_built


class SlackRequests:
    """Builds, signs and sends Slack-shaped requests to a Bolt app at ``app_url``.

    Args:
        app_url: base URL of the app, e.g. ``http://127.0.0.1:3000`` (``/slack/events`` is appended).
        signing_secret: the app's signing secret.
        team_id: workspace id used in every payload unless overridden per call.
        default_response_url: used when a call needs a ``response_url`` and none is given; typically
            ``fake_slack.response_url()``.
        path: endpoint path on the app.
        verification_token: the legacy ``token`` field Slack still includes in payloads.
    """

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        team_id: str = "T0001",
        *,
        default_response_url: str | None = None,
        path: str = "/slack/events",
        verification_token: str = "tandem-verification-token",
        team_domain: str = "test-team",
    ) -> None:
        self.app_url = app_url.rstrip("/")
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.default_response_url = default_response_url
        self.path = path
        self.verification_token = verification_token
        self.team_domain = team_domain
        self.session = requests.Session()

    @property
    def url(self) -> str:
        """Full endpoint URL requests are POSTed to."""
        return self.app_url + self.path

    def clone(self) -> SlackRequests:
        """A copy with the same settings and its own ``requests.Session`` (use one per thread)."""
        return SlackRequests(
            self.app_url,
            self.signing_secret,
            self.team_id,
            default_response_url=self.default_response_url,
            path=self.path,
            verification_token=self.verification_token,
            team_domain=self.team_domain,
        )

    def close(self) -> None:
        """Close the underlying HTTP session."""
        self.session.close()

    def __enter__(self) -> SlackRequests:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ signing / sending

    def finish(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
        extra_headers: Mapping[str, str] | None = None,
    ) -> BuiltRequest:
        """Sign ``body`` and assemble the headers Slack would send with it."""
        raw = body.encode("utf-8")
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "Accept": "application/json,*/*",
        }
        if sign:
            ts = int(time.time()) if timestamp is None else timestamp
            headers["X-Slack-Request-Timestamp"] = str(ts)
            headers["X-Slack-Signature"] = (
                signature if signature is not None else _sign(raw, self.signing_secret, ts)
            )
        if extra_headers:
            headers.update(extra_headers)
        return BuiltRequest(body=raw, headers=headers)

    def send(self, built: BuiltRequest) -> requests.Response:
        """POST a built request to the app (10 s timeout)."""
        return self.session.post(self.url, data=built.body, headers=built.headers, timeout=REQUEST_TIMEOUT)

    def _form(self, fields: Mapping[str, Any], **signing: Any) -> BuiltRequest:
        return self.finish(urlencode(fields), "application/x-www-form-urlencoded", **signing)

    def _interactive(self, payload: Mapping[str, Any], **signing: Any) -> BuiltRequest:
        # Slack posts interactivity as a form with one field holding compact JSON.
        return self._form({"payload": json.dumps(payload, separators=(",", ":"))}, **signing)

    def _user(self, user_id: str, team_id: str) -> dict[str, Any]:
        name = user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": team_id}

    def _team(self, team_id: str) -> dict[str, Any]:
        return {"id": team_id, "domain": self.team_domain}

    # ------------------------------------------------------------------ slash commands

    def build_command(
        self,
        text: str,
        *,
        user_id: str = DEFAULT_USER_ID,
        channel_id: str = DEFAULT_CHANNEL_ID,
        command: str = "/tandem",
        response_url: str | None = None,
        trigger_id: str | None = None,
        team_id: str | None = None,
        channel_name: str | None = None,
        user_name: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> BuiltRequest:
        """A slash command invocation (form-encoded, same fields and order as Slack)."""
        if channel_name is None:
            channel_name = "directmessage" if channel_id.startswith("D") else channel_id.lower()
        fields = {
            "token": self.verification_token,
            "team_id": team_id or self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url or self.default_response_url or UNSET_RESPONSE_URL,
            "trigger_id": trigger_id or _trigger_id(),
        }
        return self._form(fields, timestamp=timestamp, signature=signature, sign=sign)

    command = _sender(build_command)

    # ------------------------------------------------------------------ block actions

    def build_block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        block_id: str = "b",
        user_id: str = DEFAULT_USER_ID,
        channel_id: str = DEFAULT_CHANNEL_ID,
        message_ts: str | None = None,
        message: dict[str, Any] | None = None,
        response_url: str | None = None,
        container: dict[str, Any] | None = None,
        action_type: str = "button",
        selected_option: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        team_id: str | None = None,
        action_extra: Mapping[str, Any] | None = None,
        state_values: dict[str, Any] | None = None,
        trigger_id: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> BuiltRequest:
        """A ``block_actions`` payload for one action, from a message (default) or from ``view``.

        With ``view`` given the payload looks like an action inside a modal/home tab (container of type
        ``view``, no channel/message/response_url). Otherwise it comes from a bot message in
        ``channel_id``; ``message`` defaults to a minimal bot message with ``ts=message_ts``.
        ``action_extra`` is merged into the action (e.g. ``{"selected_users": [...]}``).
        """
        team = team_id or self.team_id
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "type": action_type,
            "action_ts": _action_ts(),
        }
        if value is not None:
            action["value"] = value
        if selected_option is not None:
            action["selected_option"] = selected_option
        if action_extra:
            action.update(action_extra)

        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, team),
            "api_app_id": API_APP_ID,
            "token": self.verification_token,
            "trigger_id": trigger_id or _trigger_id(),
            "team": self._team(team),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view is not None:
            payload["container"] = container or {"type": "view", "view_id": view.get("id", "V1")}
            payload["view"] = view
        else:
            if message is None:
                message = {
                    "type": "message",
                    "subtype": "bot_message",
                    "text": "",
                    "ts": message_ts or f"{time.time():.6f}",
                    "bot_id": "B0001",
                    "user": BOT_USER_ID,
                    "blocks": [],
                }
            ts = str(message.get("ts") or message_ts or "")
            payload["container"] = container or {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": channel_id.lower()}
            payload["message"] = message
            payload["response_url"] = response_url or self.default_response_url or UNSET_RESPONSE_URL
        payload["state"] = {"values": state_values or {}}
        payload["actions"] = [action]
        return self._interactive(payload, timestamp=timestamp, signature=signature, sign=sign)

    block_action = _sender(build_block_action)

    # ------------------------------------------------------------------ views

    def _view(
        self,
        callback_id: str,
        values: dict[str, Any],
        private_metadata: str,
        view_id: str,
        hash: str,
        team: str,
        blocks: list[dict[str, Any]] | None,
        external_id: str,
    ) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": team,
            "type": "modal",
            "blocks": blocks or [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": hash,
            "title": {"type": "plain_text", "text": "Tandem", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": API_APP_ID,
            "external_id": external_id,
            "app_installed_team_id": team,
            "bot_id": "B0001",
        }

    def build_view_submission(
        self,
        callback_id: str,
        *,
        values: dict[str, Any],
        private_metadata: str = "",
        user_id: str = DEFAULT_USER_ID,
        view_id: str | None = None,
        hash: str | None = None,
        team_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        external_id: str = "",
        response_urls: list[dict[str, Any]] | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> BuiltRequest:
        """A ``view_submission`` payload; ``values`` becomes ``view.state.values`` unchanged.

        Shape: ``{block_id: {action_id: {"type": "plain_text_input", "value": "..."}}}`` (or
        ``selected_option``/``selected_users``/``selected_date``... as the element type dictates).
        Without ``view_id``/``hash``, each submission is of a modal of its own (as when a person opens
        the modal again); pass both to send the same submission twice (a replay, a double click).
        """
        team = team_id or self.team_id
        view_id = view_id or f"V{next(_ids):09d}"
        hash = hash or f"{int(time.time())}.{secrets.token_hex(4)}"
        payload = {
            "type": "view_submission",
            "team": self._team(team),
            "user": self._user(user_id, team),
            "api_app_id": API_APP_ID,
            "token": self.verification_token,
            "trigger_id": _trigger_id(),
            "view": self._view(
                callback_id, values, private_metadata, view_id, hash, team, blocks, external_id
            ),
            "response_urls": response_urls or [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interactive(payload, timestamp=timestamp, signature=signature, sign=sign)

    view_submission = _sender(build_view_submission)

    def build_view_closed(
        self,
        callback_id: str,
        *,
        values: dict[str, Any] | None = None,
        private_metadata: str = "",
        user_id: str = DEFAULT_USER_ID,
        view_id: str = "V1",
        hash: str = "h",
        team_id: str | None = None,
        is_cleared: bool = False,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> BuiltRequest:
        """A ``view_closed`` payload (sent only for views opened with ``notify_on_close``)."""
        team = team_id or self.team_id
        view = self._view(callback_id, values or {}, private_metadata, view_id, hash, team, None, "")
        view["notify_on_close"] = True
        payload = {
            "type": "view_closed",
            "team": self._team(team),
            "user": self._user(user_id, team),
            "api_app_id": API_APP_ID,
            "token": self.verification_token,
            "view": view,
            "is_cleared": is_cleared,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interactive(payload, timestamp=timestamp, signature=signature, sign=sign)

    view_closed = _sender(build_view_closed)

    # ------------------------------------------------------------------ shortcuts

    def build_shortcut(
        self,
        callback_id: str,
        *,
        user_id: str = DEFAULT_USER_ID,
        team_id: str | None = None,
        trigger_id: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> BuiltRequest:
        """A global shortcut (``type: shortcut``); it carries no channel and no response_url."""
        team = team_id or self.team_id
        payload = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": _action_ts(),
            "team": self._team(team),
            "user": self._user(user_id, team),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id or _trigger_id(),
        }
        return self._interactive(payload, timestamp=timestamp, signature=signature, sign=sign)

    shortcut = _sender(build_shortcut)

    def build_message_shortcut(
        self,
        callback_id: str,
        *,
        message: dict[str, Any],
        channel_id: str = DEFAULT_CHANNEL_ID,
        user_id: str = DEFAULT_USER_ID,
        response_url: str | None = None,
        team_id: str | None = None,
        trigger_id: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> BuiltRequest:
        """A message shortcut (``type: message_action``) on ``message`` in ``channel_id``."""
        team = team_id or self.team_id
        payload = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": _action_ts(),
            "team": self._team(team),
            "user": self._user(user_id, team),
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id or _trigger_id(),
            "response_url": response_url or self.default_response_url or UNSET_RESPONSE_URL,
            "message_ts": message.get("ts", ""),
            "message": message,
        }
        return self._interactive(payload, timestamp=timestamp, signature=signature, sign=sign)

    message_shortcut = _sender(build_message_shortcut)

    # ------------------------------------------------------------------ Events API

    @staticmethod
    def new_event_id() -> str:
        """A fresh, unique Events API ``event_id`` (``Ev…``)."""
        return _unique("Ev")

    def build_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        team_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        authorizations: list[dict[str, Any]] | None = None,
        event_time: int | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> tuple[BuiltRequest, str]:
        """An ``event_callback`` envelope around ``event`` (passed through untouched).

        Returns the request and the ``event_id`` used (generated when not given). ``retry_num`` and
        ``retry_reason`` add the ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason`` headers Slack sends on
        redelivery; reuse the first delivery's ``event_id`` to simulate a genuine retry.
        """
        team = team_id or self.team_id
        eid = event_id or self.new_event_id()
        envelope = {
            "token": self.verification_token,
            "team_id": team,
            "context_team_id": team,
            "context_enterprise_id": None,
            "api_app_id": API_APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": eid,
            "event_time": int(time.time()) if event_time is None else event_time,
            "authorizations": authorizations
            if authorizations is not None
            else [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": _unique("4-"),
        }
        extra: dict[str, str] = {}
        if retry_num is not None:
            extra["X-Slack-Retry-Num"] = str(retry_num)
        if retry_reason is not None:
            extra["X-Slack-Retry-Reason"] = retry_reason
        built = self.finish(
            json.dumps(envelope),
            "application/json",
            timestamp=timestamp,
            signature=signature,
            sign=sign,
            extra_headers=extra,
        )
        return built, eid

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        team_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        authorizations: list[dict[str, Any]] | None = None,
        event_time: int | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> EventDelivery:
        """Send :meth:`build_event`; returns ``(response, event_id)`` as an :class:`EventDelivery`."""
        built, eid = self.build_event(
            event,
            event_id=event_id,
            team_id=team_id,
            retry_num=retry_num,
            retry_reason=retry_reason,
            authorizations=authorizations,
            event_time=event_time,
            timestamp=timestamp,
            signature=signature,
            sign=sign,
        )
        return EventDelivery(self.send(built), eid)

    def build_url_verification(
        self,
        challenge: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        sign: bool = True,
    ) -> BuiltRequest:
        """The one-off ``url_verification`` handshake Slack sends when the request URL is configured."""
        payload = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        return self.finish(
            json.dumps(payload), "application/json", timestamp=timestamp, signature=signature, sign=sign
        )

    url_verification = _sender(build_url_verification)


# `finish` has a parameter named `sign`; keep a private alias so the module function stays reachable.
_sign = sign
