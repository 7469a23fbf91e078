"""`tandem serve --socket-mode`: the websocket to Slack, its honest state, and `/healthz` + `/metrics`.

slack_sdk's Socket Mode client does not raise when the websocket cannot be opened: it logs, and its
monitor retries every `ping_interval` seconds. So "connected" is logged here only when the client
says a socket is open, each change of state is one log line, and `/healthz` answers 503 while there
is no connection (Tandem hears nothing from Slack then). `/healthz` and `/metrics` are served on
PORT as in HTTP mode; nothing else is, since Socket Mode requests carry no signature to check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.runtime import Runtime
from bot.web import OpsWSGI

log = logging.getLogger(__name__)

# Seconds between the client's pings, which is also how soon it retries a failed connection.
PING_INTERVAL = 10.0


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # probes every few seconds would drown the log


class SocketModeService:
    """The Socket Mode connection of one runtime, watched, with its health and metrics endpoints."""

    def __init__(
        self,
        runtime: Runtime,
        app_token: str,
        *,
        host: str,
        port: int,
        ping_interval: float = PING_INTERVAL,
        watch_interval: float = 0.5,
    ) -> None:
        assert runtime.app is not None
        self.handler = SocketModeHandler(runtime.app, app_token, ping_interval=ping_interval)
        self.ops = OpsWSGI(runtime.database, metrics_text=runtime.metrics_text, connected=self.connected)
        self.server = make_server(host, port, self.ops, _ThreadingServer, _QuietHandler)
        self.watch_interval = watch_interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def connected(self) -> bool:
        return bool(self.handler.client.is_connected())

    def start(self) -> None:
        """Serve /healthz and /metrics, then connect. Raises slack_sdk's SlackApiError when Slack
        refuses the app token; a websocket that cannot be opened is retried, not raised."""
        self._spawn(self.server.serve_forever, "tandem-ops-http")
        self.handler.connect()
        if not self.connected():
            log.warning(
                "Socket Mode: could not connect to Slack; retrying every %g s (/healthz answers 503)",
                self.handler.client.ping_interval,
            )
        self._spawn(self._watch, "tandem-socket-watch")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch(self) -> None:
        """One log line per change of the connection's state, never a "connected" that is not."""
        was_connected: bool | None = None
        while not self._stop.is_set():
            now_connected = self.connected()
            if now_connected != was_connected:
                if now_connected:
                    log.info("Socket Mode: connected to Slack")
                elif was_connected:
                    log.warning("Socket Mode: the connection to Slack was lost; reconnecting")
                was_connected = now_connected
            self._stop.wait(self.watch_interval)

    def close(self) -> None:
        self._stop.set()
        self.handler.close()
        self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
