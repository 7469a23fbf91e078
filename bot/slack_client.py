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
