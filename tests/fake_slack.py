"""A local, in-process fake of Slack's Web API, served over real HTTP.

Tests point the app's ``slack_sdk.WebClient`` at :attr:`FakeSlack.base_url` so every Web API call goes
through slack_sdk's real request encoding, retry handlers and response parsing. The fake records each
call (see :class:`Call`) and answers with payloads shaped like Slack's, including its error codes, so the
app's error handling is exercised too. Faults (rate limits, 5xx, ``ok: false``) and network latency can be
injected per method.

Typical use::

    with FakeSlack() as fake:
        fake.add_channel("C1", name="general", is_member=True)
        client = WebClient(base_url=fake.base_url, token="xoxb-test")
        client.chat_postMessage(channel="C1", text="hi")
        assert fake.wait_for("chat.postMessage")[0].params["text"] == "hi"

Besides ``/api/<method>``, the server exposes ``/response/<name>`` (a stand-in for an interaction's
``response_url``, recorded as method ``"response_url"``) and ``/upload/<file_id>`` (the upload URL handed
out by ``files.getUploadURLExternal``, recorded as method ``"upload"``).
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import itertools
import json
import mimetypes
import random
import re
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "BOT_USER_NAME",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "Call",
    "FakeChannel",
    "FakeSlack",
    "FakeUser",
]

TEAM_ID = "T0001"
TEAM_NAME = "Test Team"
TEAM_DOMAIN = "test-team"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0001"
BOT_USER_NAME = "tandem"
APP_ID = "A0TANDEM"

# Parameters slack_sdk JSON-encodes into a form field (e.g. files.completeUploadExternal's "files",
# chat.update's "blocks" when sent as form). Decoding them lets tests assert on structures, not strings.
# Only these keys are decoded so free text such as "[urgent] deploy" in `text` is never touched.
JSON_PARAMS = frozenset(
    {"blocks", "attachments", "view", "files", "metadata", "message", "outputs", "prefs", "manifest", "users"}
)

# Methods that must work without a bearer token (they authenticate with client id/secret).
_NO_TOKEN_METHODS = frozenset({"oauth.v2.access", "oauth.access", "openid.connect.token"})

# Slack labels time zones with long names; zoneinfo only knows abbreviations. Unknown ones fall back
# to the abbreviation, which is good enough for tests.
_TZ_LABELS = {
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "UTC": "Coordinated Universal Time",
    "JST": "Japan Standard Time",
    "IST": "India Standard Time",
}

_METHOD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    Attributes:
        method: Web API method name (``"chat.postMessage"``), or ``"upload"`` for file bytes posted to an
            upload URL, or ``"response_url"`` for a POST to a :meth:`FakeSlack.response_url`.
        params: Query, form and JSON parameters merged; JSON-encoded fields (see ``JSON_PARAMS``) decoded.
            For ``"response_url"`` this is the JSON body; for ``"upload"`` it is ``{file_id, size}``.
        token: The bearer token sent, if any.
        at: ``time.monotonic()`` when the request arrived (before any injected latency).
        path: The request path, e.g. ``"/response/r1"``; handy to tell response URLs apart.
    """

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    path: str = ""


@dataclass
class FakeUser:
    """A user known to the fake; mutate attributes directly to change what ``users.info`` returns."""

    id: str
    name: str
    real_name: str
    tz: str = "America/New_York"
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    team_id: str = TEAM_ID
    email: str | None = None
    title: str = ""  # profile.title: the job title a person set in Slack

    def to_slack(self) -> dict[str, Any]:
        """Render the user the way ``users.info`` does, with the tz offset valid right now."""
        now = datetime.now(ZoneInfo(self.tz))
        offset = now.utcoffset()
        abbrev = now.tzname() or self.tz
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": self.team_id,
        }
        if self.title:
            profile["title"] = self.title
        if self.email is not None:
            profile["email"] = self.email
        if self.is_bot:
            profile["bot_id"] = BOT_ID
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "tz": self.tz,
            "tz_label": _TZ_LABELS.get(abbrev, abbrev),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
            "profile": profile,
        }


@dataclass
class FakeChannel:
    """A channel known to the fake; mutate attributes directly (e.g. ``is_archived = True``)."""

    id: str
    name: str
    is_private: bool = False
    is_member: bool = False
    is_archived: bool = False
    members: list[str] = field(default_factory=list)

    def to_slack(self) -> dict[str, Any]:
        """Render the channel the way ``conversations.info`` does."""
        # Legacy private channels have G ids and report is_group instead of is_channel.
        legacy_group = self.id.startswith("G")
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not legacy_group,
            "is_group": legacy_group,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.is_member,
            "created": 1700000000,
            "creator": BOT_USER_ID,
            "num_members": len(self.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int | None  # None = forever
    token: str | None = None  # only calls made with this token (one workspace's); None: any


@dataclass(frozen=True)
class _Flaky:
    rate: float
    status: int
    stored: bool
    retry_after: int | None


class _SlackError(Exception):
    """Raised by API handlers to answer ``{"ok": false, "error": code}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes the kernel drop SYNs under benchmark concurrency, which shows up as
    # one-second connect stalls rather than errors.
    request_queue_size = 128

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response (e.g. a test that timed out) are not the fake's problem; keep
        # stderr quiet and leave a note for anyone debugging.
        self.fake.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeSlack/1.0"
    # Keep-alive, as Slack's own endpoints do (every response carries a Content-Length). Headers and
    # body go out in two writes; without TCP_NODELAY the body would wait for the client's delayed ACK
    # (40 ms) on a kept-alive connection.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = fake._handle_http(self.command, self.path, dict(self.headers), body)
        except Exception:  # pragma: no cover - a bug in the fake itself
            fake.errors.append(traceback.format_exc())
            status, headers = 500, {"Content-Type": "application/json; charset=utf-8"}
            payload = b'{"ok": false, "error": "fake_slack_internal_error"}'
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _truthy(value: Any) -> bool:
    # slack_sdk turns form booleans into "1"/"0"; JSON bodies keep real booleans.
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _maybe_json(key: str, value: Any) -> Any:
    if key in JSON_PARAMS and isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    # Only the legacy files.upload path sends multipart; text parts become str, file parts bytes.
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    out: dict[str, Any] = {}
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        out[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return out


class FakeSlack:
    """Fake Slack Web API server. Start it, point ``WebClient(base_url=fake.base_url)`` at it, assert.

    Configuration attributes (set any time; read per request):
        valid_tokens: ``None`` accepts any token; a set rejects others with ``invalid_auth``.
        auto_channels: treat unknown ``C…`` ids as public channels the bot is in (for benchmarks).
        strict_users: ``views.publish``/``conversations.open`` reject unknown users with ``user_not_found``.
        latency: seconds slept before answering every Web API call (simulated network time).
        method_latency: per-method override of ``latency``; also honoured for ``"upload"``/``"response_url"``.
        scopes: sent back in the ``x-oauth-scopes`` header, which Bolt reads after ``auth.test``.
        oauth_client: ``(client_id, client_secret)`` that ``oauth.v2.access`` accepts (``None``: any).
        oauth_team: ``(team_id, team_name)`` a code from ``oauth.v2.access`` installs into.

    State attributes (read freely in tests): ``users``, ``channels``, ``messages`` (``(channel, ts)`` ->
    current message), ``views`` (id -> view), ``home_tabs`` (user id -> view), ``uploads`` (file id ->
    bytes), ``files`` (file id -> completed file metadata), ``errors`` (tracebacks from the fake itself).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._flaky: dict[str, list[_Flaky]] = {}
        self._flaky_rng = random.Random(0)
        self._flaky_in_a_row: dict[str, int] = {}  # method: most faults in a row for one call's params
        self._flaky_streaks: dict[tuple[str, str], int] = {}
        # Every fault `flaky` injected: (the call, the status answered, whether the work was done first).
        self.injected: list[tuple[Call, int, bool]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counter = itertools.count(1)

        self.valid_tokens: set[str] | None = None
        self.revoked_tokens: set[str] = set()
        self.auto_channels = False
        self.strict_users = False
        self.latency = 0.0
        self.method_latency: dict[str, float] = {}
        # oauth.v2.access: the client credentials it accepts (None: any), and the team a code installs into.
        self.oauth_client: tuple[str, str] | None = None
        self.oauth_team: tuple[str, str] = (TEAM_ID, TEAM_NAME)
        self._used_codes: set[str] = set()
        self.scopes: list[str] = [
            "chat:write",
            "commands",
            "users:read",
            "channels:read",
            "channels:join",
            "groups:read",
            "im:write",
            "files:write",
            "channels:history",
            "groups:history",
        ]

        self.users: dict[str, FakeUser] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        # Group DMs opened with conversations.open (several users): the bot may post into them.
        self.mpims: set[str] = set()
        self.views: dict[str, dict[str, Any]] = {}
        self.home_tabs: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._pending_files: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

        # The bot itself is a user, as in a real workspace, so users.info on it works.
        self.add_user(BOT_USER_ID, name=BOT_USER_NAME, real_name="Tandem", tz="UTC", is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Bind an OS-chosen port on 127.0.0.1 and serve from a daemon thread. Returns ``self``."""
        if self._server is not None:
            return self
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeSlack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (server must be started)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Web API base URL for ``WebClient(base_url=...)``, with the trailing slash slack_sdk expects."""
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        """A ``response_url`` on this server; POSTs to it are recorded as method ``"response_url"``."""
        return f"{self.url}/response/{name}"

    # ------------------------------------------------------------------ registration

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "America/New_York",
        is_admin: bool = False,
        is_owner: bool = False,
        deleted: bool = False,
        team_id: str = TEAM_ID,
        is_bot: bool = False,
        email: str | None = None,
        title: str = "",
    ) -> FakeUser:
        """Register (or replace) a user for ``users.info``/``users.list``. Returns the mutable record."""
        ZoneInfo(tz)  # fail at setup time, not inside a request, on a typo'd zone
        user = FakeUser(
            id=user_id,
            name=name if name is not None else user_id.lower(),
            real_name=real_name if real_name is not None else (name or user_id),
            tz=tz,
            is_admin=is_admin,
            is_owner=is_owner,
            is_bot=is_bot,
            deleted=deleted,
            team_id=team_id,
            email=email,
            title=title,
        )
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_private: bool = False,
        is_member: bool = False,
        is_archived: bool = False,
        members: Iterable[str] = (),
    ) -> FakeChannel:
        """Register (or replace) a channel. Returns the mutable record."""
        channel = FakeChannel(
            id=channel_id,
            name=name,
            is_private=is_private,
            is_member=is_member,
            is_archived=is_archived,
            members=list(members),
        )
        with self._lock:
            self.channels[channel_id] = channel
        return channel

    def revoke(self, token: str) -> None:
        """Make every later call with ``token`` fail with ``token_revoked``."""
        with self._lock:
            self.revoked_tokens.add(token)

    # ------------------------------------------------------------------ fault injection

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        token: str | None = None,
    ) -> None:
        """Queue a failure for ``method`` (``"*"`` = any Web API method); queued failures apply in order.

        ``status=429`` answers ``ratelimited`` with a ``Retry-After`` header (``retry_after`` seconds,
        default 1; slack_sdk parses it as an int). Other non-200 statuses answer that status with a JSON
        error body. ``status=200`` answers ``{"ok": false, "error": error}``. ``times=None`` repeats
        until :meth:`clear_failures`. ``method`` may also be ``"upload"`` or ``"response_url"``.
        ``token`` limits the failure to calls made with that token (one workspace's, as Slack's rate
        limits are per workspace); calls with other tokens pass it by.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        failure = _Failure(status=status, error=error, retry_after=retry_after, remaining=times, token=token)
        with self._lock:
            self._failures.setdefault(method, deque()).append(failure)

    def flaky(
        self,
        method: str,
        *,
        rate: float,
        status: int = 503,
        stored: bool = False,
        retry_after: int | None = None,
        seed: int | None = None,
        in_a_row: int | None = None,
    ) -> None:
        """Answer a share (``rate``, 0..1) of the calls to ``method`` with ``status``, at random.

        ``in_a_row`` caps how many calls with the same parameters in a row may draw a fault (any
        rule's): with it, a caller that retries that often always gets through in the end, so a test
        of recovery does not fail one run in a few when chance lands every try of one post on a fault.

        ``stored=True`` does the work first (a ``chat.postMessage`` stores its message) and then answers
        the error, as a gateway or an overloaded Slack may; ``stored=False`` answers before doing
        anything. ``status=429`` carries ``Retry-After: retry_after`` (default 1). Several rules for one
        method share one draw per call, so their rates add up. ``seed`` makes the draws repeatable.
        Every injected fault is appended to :attr:`injected`.
        """
        if not 0 < rate <= 1:
            raise ValueError("rate must be in (0, 1]")
        with self._lock:
            if seed is not None:
                self._flaky_rng = random.Random(seed)
            self._flaky.setdefault(method, []).append(_Flaky(rate, status, stored, retry_after))
            if in_a_row is not None:
                self._flaky_in_a_row[method] = in_a_row

    def _draw_flaky(self, method: str, params: Mapping[str, Any]) -> _Flaky | None:
        with self._lock:
            rules = self._flaky.get(method)
            if not rules:
                return None
            cap = self._flaky_in_a_row.get(method)
            key = (method, json.dumps(params, sort_keys=True, default=str))
            if cap is not None and self._flaky_streaks.get(key, 0) >= cap:
                self._flaky_streaks.pop(key, None)
                return None
            draw, edge = self._flaky_rng.random(), 0.0
            for rule in rules:
                edge += rule.rate
                if draw < edge:
                    self._flaky_streaks[key] = self._flaky_streaks.get(key, 0) + 1
                    return rule
            self._flaky_streaks.pop(key, None)
        return None

    def clear_failures(self) -> None:
        """Drop every queued, permanent or random failure."""
        with self._lock:
            self._failures.clear()
            self._flaky.clear()
            self._flaky_in_a_row.clear()
            self._flaky_streaks.clear()

    def _take_failure(self, method: str, wildcard: bool, token: str | None = None) -> _Failure | None:
        with self._lock:
            for key in (method, "*") if wildcard else (method,):
                queue = self._failures.get(key)
                if not queue:
                    continue
                failure = next((f for f in queue if f.token is None or f.token == token), None)
                if failure is None:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        queue.remove(failure)
                return failure
        return None

    # ------------------------------------------------------------------ recording / assertions

    def calls(self, method: str | None = None) -> list[Call]:
        """A copy of the recorded calls, optionally only those to ``method``."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str | None = None) -> Call:
        """The most recent call (to ``method``); raises AssertionError listing all calls if none."""
        with self._lock:
            matching = self.calls(method)
            if not matching:
                raise AssertionError(f"no call to {method or 'any method'}; {self._describe_calls()}")
            return matching[-1]

    def responses(self, name: str | None = None) -> list[dict[str, Any]]:
        """JSON bodies POSTed to response URLs (optionally only ``/response/<name>``), oldest first."""
        return [c.params for c in self.calls("response_url") if name is None or c.path == f"/response/{name}"]

    def clear(self) -> None:
        """Forget recorded calls (state such as users, channels and failures is kept)."""
        with self._lock:
            self._calls.clear()

    def wait_for(
        self,
        method: str | None,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Call]:
        """Block until at least ``count`` calls to ``method`` (``None`` = any) satisfy ``predicate``.

        Returns every matching call recorded so far (at least ``count``). Calls made before this was
        invoked count too, so call :meth:`clear` first when only new calls should match. On timeout,
        raises AssertionError listing what was called instead.
        """

        def matching() -> list[Call]:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method) and (predicate is None or predicate(c))
            ]

        deadline = time.monotonic() + timeout
        with self._cond:
            found = matching()
            while len(found) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    what = f"{count} call(s) to {method or 'any method'}"
                    if predicate is not None:
                        what += " matching the predicate"
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; {len(found)} matched. "
                        + self._describe_calls()
                    )
                self._cond.wait(remaining)
                found = matching()
            return found

    def _describe_calls(self, limit: int = 40) -> str:
        with self._lock:
            calls = list(self._calls)
        if not calls:
            return "No calls were recorded."
        lines = [f"Recorded calls ({len(calls)}, last {min(limit, len(calls))} shown):"]
        for c in calls[-limit:]:
            params = json.dumps(c.params, default=repr, sort_keys=True)
            if len(params) > 300:
                params = params[:297] + "..."
            lines.append(f"  {c.method} {params}")
        return "\n".join(lines)

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    # ------------------------------------------------------------------ HTTP plumbing

    def _handle_http(
        self, verb: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        arrived = time.monotonic()
        parts = urlsplit(raw_path)
        path = parts.path
        lower_headers = {k.lower(): v for k, v in headers.items()}

        if path.startswith("/upload/") and verb == "POST":
            return self._handle_upload(path, body, arrived)
        if path.startswith("/response/") and verb == "POST":
            return self._handle_response_url(path, body, arrived)
        if not path.startswith("/api/"):
            return 404, {"Content-Type": "text/plain"}, b"not found"

        method = path[len("/api/") :]
        params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        content_type = lower_headers.get("content-type", "")
        if body:
            if content_type.startswith("application/json"):
                decoded = json.loads(body)
                if isinstance(decoded, dict):
                    params.update(decoded)
            elif content_type.startswith("multipart/form-data"):
                params.update(_parse_multipart(body, content_type))
            else:
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        params = {k: _maybe_json(k, v) for k, v in params.items()}

        token: str | None = None
        auth = lower_headers.get("authorization", "")
        client_secret: str | None = None
        if auth.lower().startswith("bearer "):
            token = auth[len("bearer ") :].strip()
        elif auth.lower().startswith("basic "):
            # oauth.v2.access: slack_sdk sends the client id and secret as HTTP basic auth. The id is
            # recorded with the call; the secret is only checked, never recorded.
            try:
                client_id, _, client_secret = (
                    base64.b64decode(auth[len("basic ") :].strip()).decode("utf-8").partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                client_id = ""
            params["client_id"] = client_id
        elif "token" in params:
            # Legacy clients put the token in the body; keep it out of params like the header case.
            token = str(params.pop("token"))

        self._record(Call(method=method, params=params, token=token, at=arrived, path=path))
        self._sleep(method, self.latency)

        failure = self._take_failure(method, wildcard=True, token=token)
        if failure is not None:
            return self._failure_response(failure)
        flaky = self._draw_flaky(method, params)
        if flaky is not None and not flaky.stored:
            return self._flaky_response(flaky, method, params, token, arrived, path)

        try:
            if method == "oauth.v2.access":
                self._check_client(params.get("client_id"), client_secret)
            result = self._api(method, params, token)
        except _SlackError as e:
            result = {"ok": False, "error": e.error, **e.extra}
        if flaky is not None:
            # The work is done (the message is stored); the caller only hears an error.
            return self._flaky_response(flaky, method, params, token, arrived, path)
        return self._json(200, result)

    def _flaky_response(
        self, flaky: _Flaky, method: str, params: dict[str, Any], token: str | None, arrived: float, path: str
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.injected.append((Call(method, params, token, arrived, path), flaky.status, flaky.stored))
        return self._failure_response(_Failure(flaky.status, None, flaky.retry_after, 1))

    def _sleep(self, method: str, default: float) -> None:
        delay = self.method_latency.get(method, default)
        if delay > 0:
            # The one deliberate sleep: it stands in for network/Slack processing time.
            time.sleep(delay)

    def _json(
        self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-oauth-scopes": ",".join(self.scopes),
            "x-accepted-oauth-scopes": "",
        }
        if extra:
            headers.update(extra)
        return status, headers, json.dumps(payload).encode("utf-8")

    def _failure_response(self, failure: _Failure) -> tuple[int, dict[str, str], bytes]:
        if failure.status == 429:
            retry_after = failure.retry_after if failure.retry_after is not None else 1
            return self._json(
                429, {"ok": False, "error": failure.error or "ratelimited"}, {"Retry-After": str(retry_after)}
            )
        extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
        if failure.status == 200:
            return self._json(200, {"ok": False, "error": failure.error or "internal_error"}, extra)
        return self._json(failure.status, {"ok": False, "error": failure.error or "internal_error"}, extra)

    def _handle_upload(self, path: str, body: bytes, arrived: float) -> tuple[int, dict[str, str], bytes]:
        file_id = path[len("/upload/") :]
        self._record(Call("upload", {"file_id": file_id, "size": len(body)}, None, arrived, path))
        self._sleep("upload", 0.0)
        failure = self._take_failure("upload", wildcard=False)
        if failure is not None:
            return failure.status, {"Content-Type": "text/plain"}, (failure.error or "upload failed").encode()
        with self._lock:
            if file_id not in self._pending_files:
                return 404, {"Content-Type": "text/plain"}, b"unknown upload url"
            self.uploads[file_id] = body
        # files.slack.com answers a successful upload with this plain-text body.
        return 200, {"Content-Type": "text/plain; charset=utf-8"}, f"OK - {len(body)}".encode()

    def _handle_response_url(
        self, path: str, body: bytes, arrived: float
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {"_raw": body.decode("utf-8", "replace")}
        self._record(Call("response_url", payload, None, arrived, path))
        self._sleep("response_url", 0.0)
        failure = self._take_failure("response_url", wildcard=False)
        if failure is not None:
            return self._failure_response(failure)
        return self._json(200, {"ok": True})

    # ------------------------------------------------------------------ Web API

    def _api(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        with self._lock:
            if token is None:
                if method not in _NO_TOKEN_METHODS:
                    raise _SlackError("not_authed")
            elif token in self.revoked_tokens:
                raise _SlackError("token_revoked")
            elif self.valid_tokens is not None and token not in self.valid_tokens:
                raise _SlackError("invalid_auth")
            handler = (
                getattr(self, "_api_" + method.replace(".", "_"), None) if _METHOD_RE.match(method) else None
            )
            if handler is None:
                raise _SlackError("unknown_method", req_method=method)
            result: dict[str, Any] = handler(params)
            return {"ok": True, **result}

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):010d}"

    def _next_ts(self) -> str:
        micros = 1_700_000_000_000_000 + 100 * next(self._counter)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _user(self, user_id: Any) -> FakeUser:
        user = self.users.get(str(user_id or ""))
        if user is None:
            raise _SlackError("user_not_found")
        return user

    def _resolve_channel(self, channel: Any) -> FakeChannel | str:
        """Registered channel record, or a DM id string; raises channel_not_found otherwise."""
        cid = str(channel or "")
        if not cid:
            raise _SlackError("channel_not_found")
        if cid.startswith("D") or cid in self.mpims:
            return cid
        if cid[0] in "UW":
            # Posting to a user id opens (or reuses) the DM with that user.
            if self.strict_users:
                self._user(cid)
            return "D" + cid
        if cid.startswith("#"):
            for record in self.channels.values():
                if record.name == cid[1:]:
                    return record
            raise _SlackError("channel_not_found")
        record = self.channels.get(cid)
        if record is None and self.auto_channels and cid.startswith("C"):
            record = self.add_channel(cid, name=cid.lower(), is_member=True)
        if record is None:
            raise _SlackError("channel_not_found")
        return record

    def _postable(self, channel: Any) -> str:
        resolved = self._resolve_channel(channel)
        if isinstance(resolved, str):
            return resolved
        if resolved.is_archived:
            raise _SlackError("is_archived")
        if not resolved.is_member:
            raise _SlackError("not_in_channel")
        return resolved.id

    def _bot_message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": params.get("text") or "",
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        return message

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_USER_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
            "enterprise_id": None,
        }

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user(params.get("user")).to_slack()}

    def _api_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "members": [u.to_slack() for u in self.users.values()],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": ""},
        }

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve_channel(params.get("channel"))
        if isinstance(resolved, str):
            user = resolved[1:] if resolved.startswith("DU") or resolved.startswith("DW") else None
            return {"channel": {"id": resolved, "is_im": True, "user": user, "is_open": True}}
        return {"channel": resolved.to_slack()}

    def _api_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve_channel(params.get("channel"))
        if isinstance(resolved, str):
            raise _SlackError("method_not_supported_for_channel_type")
        if resolved.is_private:
            raise _SlackError("method_not_supported_for_channel_type")
        if resolved.is_archived:
            raise _SlackError("is_archived")
        extra: dict[str, Any] = {}
        if resolved.is_member:
            extra["warning"] = "already_in_channel"
            extra["response_metadata"] = {"warnings": ["already_in_channel"]}
        resolved.is_member = True
        if BOT_USER_ID not in resolved.members:
            resolved.members.append(BOT_USER_ID)
        return {"channel": resolved.to_slack(), **extra}

    def _api_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve_channel(params.get("channel"))
        members = [] if isinstance(resolved, str) else list(resolved.members)
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _api_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = {t.strip() for t in str(params.get("types") or "public_channel").split(",") if t.strip()}
        exclude_archived = _truthy(params.get("exclude_archived", False))
        channels = [
            c.to_slack()
            for c in self.channels.values()
            if ("private_channel" if c.is_private else "public_channel") in types
            and not (exclude_archived and c.is_archived)
        ]
        return {"channels": channels, "response_metadata": {"next_cursor": ""}}

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            resolved = self._resolve_channel(params["channel"])
            cid = resolved if isinstance(resolved, str) else resolved.id
            return {"channel": {"id": cid}}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _SlackError("users_list_not_supplied")
        if self.strict_users:
            for u in users:
                self._user(u)
        if len(users) == 1:
            return {"channel": {"id": "D" + users[0], "is_im": True, "user": users[0]}}
        cid = "G" + "".join(sorted(users))
        with self._lock:
            self.mpims.add(cid)
        return {"channel": {"id": cid, "is_mpim": True}}

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params.get("channel"))
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            raise _SlackError("no_text")
        ts = self._next_ts()
        message = self._bot_message(params, ts)
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve_channel(params.get("channel"))
        if isinstance(resolved, str):
            raise _SlackError("channel_not_found")
        needed = "groups:history" if resolved.is_private else "channels:history"
        if needed not in self.scopes:
            raise _SlackError("missing_scope", needed=needed, provided=",".join(self.scopes))
        if not resolved.is_member:
            raise _SlackError("not_in_channel")
        with_metadata = _truthy(params.get("include_all_metadata", False))
        oldest = float(params.get("oldest") or 0)
        # Newest first, top-level messages only (thread replies are conversations.replies'), as Slack does.
        found = sorted(
            (
                m
                for (channel, ts), m in self.messages.items()
                if channel == resolved.id and m.get("thread_ts", ts) == ts and float(ts) > oldest
            ),
            key=lambda m: float(m["ts"]),
            reverse=True,
        )
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), 999)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "messages": [
                m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in page
            ],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params.get("channel"))
        user = str(params.get("user") or "")
        if not user:
            raise _SlackError("user_not_found")
        record = self.channels.get(channel)
        if record is not None and record.members and user not in record.members:
            raise _SlackError("user_not_in_channel")
        return {"message_ts": self._next_ts()}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve_channel(params.get("channel"))
        channel = resolved if isinstance(resolved, str) else resolved.id
        ts = str(params.get("ts") or "")
        if not ts:
            raise _SlackError("message_not_found")
        # Lenient on purpose: tests often act on messages they crafted rather than ones the fake posted.
        message = self._bot_message(params, ts)
        self.messages[(channel, ts)] = {**self.messages.get((channel, ts), {}), **message}
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _api_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve_channel(params.get("channel"))
        channel = resolved if isinstance(resolved, str) else resolved.id
        ts = str(params.get("ts") or "")
        if not ts:
            raise _SlackError("message_not_found")
        self.messages.pop((channel, ts), None)
        return {"channel": channel, "ts": ts}

    def _api_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = self._resolve_channel(params.get("channel"))
        channel = resolved if isinstance(resolved, str) else resolved.id
        ts = str(params.get("message_ts") or "")
        if not ts:
            raise _SlackError("message_not_found")
        return {
            "channel": channel,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _api_chat_scheduleMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params.get("channel"))
        post_at = int(params.get("post_at") or 0)
        if post_at <= time.time():
            raise _SlackError("time_in_past")
        message = self._bot_message(params, "")
        message.pop("ts")
        return {
            "channel": channel,
            "scheduled_message_id": self._next_id("Q"),
            "post_at": post_at,
            "message": message,
        }

    def _render_view(self, view: Any, view_id: str, previous: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(view, dict) or "type" not in view:
            raise _SlackError("invalid_arguments")
        rendered: dict[str, Any] = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view["type"],
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": (previous or {}).get("root_view_id") or view_id,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        rendered.update(view)
        rendered["id"] = view_id
        rendered["hash"] = f"{int(time.time())}.{secrets.token_hex(4)}"
        self.views[view_id] = rendered
        return rendered

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            raise _SlackError("invalid_arguments")
        return {"view": self._render_view(params.get("view"), self._next_id("V"), None)}

    def _api_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            raise _SlackError("invalid_arguments")
        return {"view": self._render_view(params.get("view"), self._next_id("V"), None)}

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and external_id:
            view_id = next(
                (v["id"] for v in self.views.values() if v.get("external_id") == external_id), None
            )
            if view_id is None:
                raise _SlackError("not_found")
        if not view_id:
            raise _SlackError("invalid_arguments")
        previous = self.views.get(str(view_id))
        # Slack rejects an update whose hash is stale; unknown views (crafted by tests) are accepted.
        if previous is not None and params.get("hash") and params["hash"] != previous["hash"]:
            raise _SlackError("hash_conflict")
        return {"view": self._render_view(params.get("view"), str(view_id), previous)}

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user_id") or "")
        if not user_id:
            raise _SlackError("invalid_arguments")
        if self.strict_users:
            self._user(user_id)
        previous = self.home_tabs.get(user_id)
        view_id = previous["id"] if previous else self._next_id("V")
        rendered = self._render_view(params.get("view"), view_id, previous)
        self.home_tabs[user_id] = rendered
        return {"view": rendered}

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        length = params.get("length")
        if not filename or length in (None, ""):
            raise _SlackError("invalid_arguments")
        file_id = self._next_id("F")
        self._pending_files[file_id] = {
            "filename": str(filename),
            "length": int(length),
            "alt_txt": params.get("alt_txt"),
            "snippet_type": params.get("snippet_type"),
        }
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise _SlackError("invalid_arguments")
        targets: list[str] = []
        if params.get("channel_id"):
            targets.append(self._postable(params["channel_id"]))
        for cid in str(params.get("channels") or "").split(","):
            if cid.strip():
                targets.append(self._postable(cid.strip()))
        completed = []
        for entry in files:
            file_id = str(entry.get("id") or "")
            pending = self._pending_files.get(file_id)
            if pending is None or file_id not in self.uploads:
                raise _SlackError("file_not_found")
            title = entry.get("title") or pending["filename"]
            info = {
                "id": file_id,
                "title": title,
                "name": pending["filename"],
                "mimetype": mimetypes.guess_type(pending["filename"])[0] or "application/octet-stream",
                "size": len(self.uploads[file_id]),
                "alt_txt": pending["alt_txt"],
                "user": BOT_USER_ID,
                "channels": targets,
                "initial_comment": params.get("initial_comment"),
                "thread_ts": params.get("thread_ts"),
                "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{file_id}/{pending['filename']}",
            }
            self.files[file_id] = info
            completed.append({"id": file_id, "title": title})
        return {"files": completed}

    # ------------------------------------------------------------------ OAuth

    def _check_client(self, client_id: Any, client_secret: str | None) -> None:
        if self.oauth_client is None:
            return
        if client_id != self.oauth_client[0]:
            raise _SlackError("invalid_client_id")
        if client_secret != self.oauth_client[1]:
            raise _SlackError("bad_client_secret")

    def _api_oauth_v2_access(self, params: dict[str, Any]) -> dict[str, Any]:
        """Exchange a one-time code for a bot token, as the redirect after "Allow" does."""
        code = str(params.get("code") or "")
        if not code or code in self._used_codes:
            raise _SlackError("invalid_code")
        self._used_codes.add(code)
        team_id, team_name = self.oauth_team
        return {
            "app_id": APP_ID,
            "authed_user": {"id": "U_INSTALLER"},
            "scope": ",".join(self.scopes),
            "token_type": "bot",
            "access_token": f"xoxb-oauth-{code}",
            "bot_user_id": BOT_USER_ID,
            "team": {"id": team_id, "name": team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    # ------------------------------------------------------------------ Socket Mode, workflow steps

    socket_mode_url: str | None = None  # what apps.connections.open hands out (a FakeSocketMode's url)

    def _api_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """A websocket URL for Socket Mode (tests/fake_socket_mode.py serves one)."""
        if self.socket_mode_url is None:
            raise _SlackError("internal_error")
        return {"url": self.socket_mode_url}

    def _api_functions_completeSuccess(self, params: dict[str, Any]) -> dict[str, Any]:
        """A workflow step finished: it needs its execution id and its outputs."""
        if not params.get("function_execution_id"):
            raise _SlackError("invalid_arguments")
        if not isinstance(params.get("outputs"), dict):
            raise _SlackError("invalid_arguments")
        return {}

    def _api_functions_completeError(self, params: dict[str, Any]) -> dict[str, Any]:
        """A workflow step failed: Workflow Builder shows `error` to the person who runs it."""
        if not params.get("function_execution_id") or not params.get("error"):
            raise _SlackError("invalid_arguments")
        return {}
