"""Replies to an interaction's `response_url` over kept-alive connections.

A pulse click is the hottest request Tandem serves (a whole company may answer within a minute),
and each one needs an ephemeral "you answered 4". Bolt's `respond()` builds a new `WebhookClient`
and opens a new HTTPS connection for every reply, which cost more CPU than everything else a click
does together (bench/README.md). This sends the same JSON over one kept-alive connection per thread
and host, as any HTTP/1.1 client would. `Messenger.respond` sends its replies through it.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.webhook import WebhookClient

log = logging.getLogger(__name__)

# Errors that mean a kept-alive connection was closed by the other end while idle: reconnect once.
_STALE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    http.client.CannotSendRequest,
)


class ResponseUrlClient:
    """POSTs JSON messages to response URLs; thread-safe (each thread keeps its own connections)."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._ssl = ssl.create_default_context()
        self._local = threading.local()
        # Behind an HTTP(S) proxy, slack_sdk's client knows how to reach Slack; this one does not.
        self._proxied = bool(urllib.request.getproxies())

    def send(self, url: str, message: dict[str, Any]) -> bool:
        """Deliver `message` (a response_url payload); False (and a log line) if Slack refused it."""
        return self.send_raw(url, json.dumps(message, separators=(",", ":")).encode())

    def send_raw(self, url: str, body: bytes) -> bool:
        if self._proxied:
            sent = WebhookClient(url=url, timeout=int(self.timeout)).send_dict(json.loads(body))
            return self._accepted(sent.status_code, sent.body)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.hostname, parts.port)
        connections: dict[tuple[Any, ...], http.client.HTTPConnection] = self._connections()
        for attempt in (1, 2):
            conn = connections.get(key)
            reused = conn is not None
            if conn is None:
                conn = connections[key] = self._connect(parts.scheme, parts.hostname or "", parts.port)
            try:
                conn.request(
                    "POST", path, body=body, headers={"Content-Type": "application/json; charset=utf-8"}
                )
                response = conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                if response.will_close:
                    conn.close()
                    connections.pop(key, None)
                return self._accepted(response.status, text)
            except _STALE:
                conn.close()
                connections.pop(key, None)
                if reused and attempt == 1:
                    continue  # the idle connection had been closed: once more on a new one
                log.warning("a reply to Slack's response_url failed: the connection was closed")
                return False
            except OSError as exc:
                conn.close()
                connections.pop(key, None)
                log.warning("a reply to Slack's response_url failed: %s", type(exc).__name__)
                return False
        return False

    def _connections(self) -> dict[tuple[Any, ...], http.client.HTTPConnection]:
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        return connections

    def _connect(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    @staticmethod
    def _accepted(status: int, body: str) -> bool:
        if status == 200:
            return True
        # The URL expired (30 minutes, 5 uses), or Slack is limiting us: the person's click is stored
        # either way; only its confirmation is lost, so this is logged rather than retried.
        log.warning("Slack's response_url answered %s: %s", status, body[:200])
        return False
