"""Web API clients that retry the way Slack asks: Retry-After on 429, bounded backoff on 5xx."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler

from bot.config import Settings


def retry_handlers() -> list[RetryHandler]:
    # slack_sdk only installs the connection-error handler by default; 429 and 5xx must be asked
    # for. The counts are bounded so a Slack outage delays one job, not the whole scheduler.
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=3),
    ]


def make_client(settings: Settings, token: str | None = None) -> WebClient:
    return WebClient(
        token=token,
        base_url=settings.api_url,
        timeout=settings.slack_timeout,
        retry_handlers=retry_handlers(),
    )


# Checks made before a view submission is acknowledged share Slack's 3 seconds with the rest of the
# handler: each gets one short try, and a 429 is an answer, never a sleep through its Retry-After.
PRE_ACK_TIMEOUT = 1.0


def pre_ack_client(client: WebClient, *, timeout: float = PRE_ACK_TIMEOUT) -> WebClient:
    """`client`'s token and address, with a short timeout and no retries: for calls before an ack."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=timeout,  # type: ignore[arg-type]  # urllib takes fractions of a second
        ssl=client.ssl,
        proxy=client.proxy,
        retry_handlers=[],
    )
