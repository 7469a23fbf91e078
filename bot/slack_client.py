"""Web API clients that retry the way Slack asks: Retry-After on 429, bounded backoff on 5xx, and
never a repeat of a post whose first try may have worked."""

from __future__ import annotations

import http.client
import io
import threading
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import urllib3
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError

from bot.config import Settings
from bot.metrics import MeasuredWebClient

# Gateway errors count as server errors too: a 502 or 504 in front of Slack is as passing as a 500.
RETRIED_STATUSES = frozenset({500, 502, 503, 504})

# Methods that create something each time they run, and have no idempotency key. Whenever Slack may
# have done the work, a repeat could post the check-in (or open the modal) twice, and a duplicate in a
# shared channel is what Tandem promises never to make. Ambiguous outcomes are: a read timeout, a 5xx
# (Slack, or a gateway in front of it, may answer 503 after the message was stored) and a connection
# that broke after the request was sent. They are not retried here; a post tagged with metadata is
# looked up in the channel's history instead (bot.usecases.checkins). Unambiguous ones are retried for
# every method: a 429 (Slack refused it, and says when to come back) and a failure to connect or send
# (urllib's URLError: Slack never received the whole request).
NOT_REPEATABLE = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "views.open", "views.push"}
)


def method_of(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]


# Slack calls made before a request is acknowledged share Slack's 3 seconds with the database work
# and the network: they get no retry handler (the 429 one sleeps Retry-After seconds) and time out
# by a deadline that leaves the ack room.
PRE_ACK_SECONDS = 2.0


class GatewayAwareServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's handler retries only 500 and 503; this one gateway errors too, and never a method
    that is not repeatable (a 5xx does not say whether Slack did the work)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code in RETRIED_STATUSES
            and method_of(request) not in NOT_REPEATABLE
        )


class SafeConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """Retries a broken connection, except one that broke after a non-repeatable request was sent.

    urllib raises URLError when connecting or sending fails (Slack never got the whole request: safe
    to repeat); a reset or disconnect while waiting for the answer arrives as ConnectionResetError or
    RemoteDisconnected, after Slack may have posted the message.
    """

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if method_of(request) in NOT_REPEATABLE and not isinstance(error, URLError):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class ReadTimeoutRetryHandler(RetryHandler):
    """Retries a request whose answer did not come in time, unless repeating it could duplicate it."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None or not isinstance(error, TimeoutError):
            return False
        return method_of(request) not in NOT_REPEATABLE


def retry_handlers() -> list[RetryHandler]:
    # slack_sdk only installs the connection-error handler by default; 429 and 5xx must be asked
    # for. The counts are bounded so a Slack outage delays one job, not the whole scheduler.
    return [
        SafeConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        GatewayAwareServerErrorRetryHandler(max_retry_count=3),
        ReadTimeoutRetryHandler(max_retry_count=1),
    ]


# Kept-alive connections to Slack shared by every client of the process (all workspaces' tokens go
# to the same host; a token is a header, not a connection). Room for the poster's 128 threads, the
# listeners' and the rest; a call beyond it opens a connection of its own and drops it after.
POOL_SIZE = 160
_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> urllib3.PoolManager:
    global _pool
    with _pool_lock:
        if _pool is None:
            # No retries here: slack_sdk's retry handlers decide (and never repeat a post).
            _pool = urllib3.PoolManager(maxsize=POOL_SIZE, block=False, retries=False)
        return _pool


class KeepAliveWebClient(MeasuredWebClient):
    """slack_sdk's client, sending over kept-alive connections instead of a new one per call.

    slack_sdk's urllib transport opens (and on HTTPS handshakes) a connection for every call: at
    hundreds of posts a second that is most of the CPU a post costs on both ends (bench/posting.py).
    This sends the same request through one process-wide urllib3 pool and hands slack_sdk what urllib
    would have: the same answer, an HTTPError for an HTTP error status, and the same failures, so the
    retry handlers and `bot.messenger` judge them as before: URLError when the connection could not
    be made (Slack never had the request), TimeoutError or ConnectionResetError once it may have been
    sent (ambiguous: a post is looked up, never repeated). A client with a proxy or its own SSL
    context keeps urllib.
    """

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or self.ssl is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        headers = dict(req.header_items())
        try:
            response = _shared_pool().urlopen(
                "POST",
                url,
                body=req.data,
                headers=headers,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
            )
        except (NewConnectionError, ConnectTimeoutError) as exc:
            raise URLError(exc) from exc  # not connected: nothing was sent
        except ReadTimeoutError as exc:
            raise TimeoutError(str(exc)) from exc
        except ProtocolError as exc:
            # A connection that broke while sending or waiting: Slack may have the request.
            raise ConnectionResetError(str(exc)) from exc
        if response.status >= 400:
            message = http.client.HTTPMessage()
            for name, value in response.headers.items():
                message[name] = value
            raise HTTPError(url, response.status, response.reason or "", message, io.BytesIO(response.data))
        # urllib3's headers read case-insensitively, as urllib's do (Bolt reads x-oauth-scopes).
        return {
            "status": response.status,
            "headers": response.headers,
            "body": response.data.decode(_charset(response)),
        }


def _charset(response: urllib3.BaseHTTPResponse) -> str:
    content_type = response.headers.get("Content-Type", "")
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    return KeepAliveWebClient(
        token=token,
        base_url=settings.api_url,
        timeout=settings.slack_timeout,
        retry_handlers=retry_handlers(),
    )


def pre_ack_deadline(seconds: float = PRE_ACK_SECONDS) -> float:
    """A `time.monotonic()` deadline for the Slack calls a listener makes before it acknowledges."""
    return time.monotonic() + seconds


def pre_ack_client(client: WebClient, deadline: float | None = None) -> WebClient:
    """`client`'s token and URL, without retries, timing out by `deadline` (default: PRE_ACK_SECONDS
    from now). Raises TimeoutError when the deadline has passed already."""
    remaining = (deadline if deadline is not None else pre_ack_deadline()) - time.monotonic()
    if remaining <= 0.05:
        raise TimeoutError("no time left before the acknowledgement")
    return KeepAliveWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=remaining,  # type: ignore[arg-type]  # urllib takes seconds as a float
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers),
        retry_handlers=[],
    )


def without_rate_limit_retries(client: WebClient) -> WebClient:
    """`client` (token, URL, timeout, other retries) without the handler that sleeps out a 429's
    Retry-After: the 429 is raised, for a caller that waits for it elsewhere (jobs/poster.py holds
    back the workspace's queue; sleeping would hold a posting thread for as long instead)."""
    return type(client)(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers),
        retry_handlers=[h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)],
    )
