"""Replies to an interaction's `response_url` over kept-alive connections.

A pulse click is the hottest request Tandem serves (a whole company may answer within a minute),
and each one needs an ephemeral "you answered 4". Bolt's `respond()` builds a new `WebhookClient`
and opens a new HTTPS connection for every reply, which cost more CPU than everything else a click
does together (bench/README.md). This sends the same JSON through urllib3's connection pool, which
keeps connections alive across threads, reconnects when an idle one was closed and honours a timeout.
`Messenger.respond` sends its replies through it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError

log = logging.getLogger(__name__)

_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class ResponseUrlClient:
    """POSTs JSON messages to response URLs; thread-safe (urllib3's pools are)."""

    def __init__(self, *, timeout: float = 10.0, pool_size: int = 16) -> None:
        self.timeout = timeout
        # One retry, on connection errors only: a kept-alive connection closed by Slack while idle is
        # reopened. A reply that reached Slack is never sent twice (no retry after a response or on a
        # read timeout), and an HTTP error status is answered, not retried.
        retries = urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0)
        timeouts = urllib3.Timeout(total=timeout)
        # Behind an HTTP(S) proxy (the same environment variables slack_sdk honours), go through it.
        proxy = urllib.request.getproxies().get("https")
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, maxsize=pool_size, retries=retries, timeout=timeouts)
            if proxy
            else urllib3.PoolManager(maxsize=pool_size, retries=retries, timeout=timeouts)
        )

    def send(self, url: str, message: dict[str, Any]) -> bool:
        """Deliver `message` (a response_url payload); False (and a log line) if Slack refused it."""
        return self.send_raw(url, json.dumps(message, separators=(",", ":")).encode())

    def send_raw(self, url: str, body: bytes) -> bool:
        try:
            response = self._pool.request("POST", url, body=body, headers=_HEADERS)
        except HTTPError as exc:
            log.warning("a reply to Slack's response_url failed: %s", type(exc).__name__)
            return False
        return self._accepted(response.status, response.data.decode("utf-8", "replace"))

    def close(self) -> None:
        self._pool.clear()

    @staticmethod
    def _accepted(status: int, body: str) -> bool:
        if status == 200:
            return True
        # The URL expired (30 minutes, 5 uses), or Slack is limiting us: the person's click is stored
        # either way; only its confirmation is lost, so this is logged rather than retried.
        log.warning("Slack's response_url answered %s: %s", status, body[:200])
        return False
