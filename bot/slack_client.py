"""Web API clients that retry the way Slack asks: Retry-After on 429, bounded backoff on 5xx."""

from __future__ import annotations

import time

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

from bot.config import Settings
from bot.metrics import MeasuredWebClient

# Gateway errors count as server errors too: a 502 or 504 in front of Slack is as passing as a 500.
RETRIED_STATUSES = frozenset({500, 502, 503, 504})

# Methods that create something each time they run. After a *read* timeout the request may well have
# reached Slack and done its work; a retry would then post the check-in (or open the modal) twice,
# and a duplicate in a shared channel is worse than one check-in recorded as failed with its reason.
# (A timeout while connecting or sending is a URLError, retried by ConnectionErrorRetryHandler for
# every method: Slack never received that request.)
NOT_RETRIED_AFTER_A_READ_TIMEOUT = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "views.open", "views.push"}
)

# Slack calls made before a request is acknowledged share Slack's 3 seconds with the database work
# and the network: they get no retry handler (the 429 one sleeps Retry-After seconds) and time out
# by a deadline that leaves the ack room.
PRE_ACK_SECONDS = 2.0


class GatewayAwareServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's handler retries only 500 and 503."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in RETRIED_STATUSES


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
        method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        return method not in NOT_RETRIED_AFTER_A_READ_TIMEOUT


def retry_handlers() -> list[RetryHandler]:
    # slack_sdk only installs the connection-error handler by default; 429 and 5xx must be asked
    # for. The counts are bounded so a Slack outage delays one job, not the whole scheduler.
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        GatewayAwareServerErrorRetryHandler(max_retry_count=3),
        ReadTimeoutRetryHandler(max_retry_count=1),
    ]


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    return MeasuredWebClient(
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
    return MeasuredWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=remaining,  # type: ignore[arg-type]  # urllib takes seconds as a float
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers),
        retry_handlers=[],
    )
