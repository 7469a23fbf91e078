"""The WSGI application `tandem serve` runs: Slack's endpoints, a health check and metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot import metrics
from bot.app import EVENTS_PATH
from db.session import Database

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)


class OpsWSGI:
    """`/healthz` and `/metrics`: what a load balancer, an orchestrator and Prometheus ask.

    `connected`, in Socket Mode, says whether the websocket to Slack is up: without it Tandem
    hears nothing, so it is unhealthy however well the database answers.
    """

    def __init__(
        self,
        database: Database,
        *,
        metrics_text: Callable[[], bytes] = metrics.exposition,
        connected: Callable[[], bool] | None = None,
    ) -> None:
        self.database = database
        self.metrics_text = metrics_text
        self.connected = connected

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = self.answer(environ, start_response)
        return answer if answer is not None else _answer(start_response, "404 Not Found", b"not found")

    def answer(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes] | None:
        """The answer to a health or metrics request, or None for any other request."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        if environ.get("PATH_INFO") == "/healthz":
            return self.healthz(start_response)
        if environ.get("PATH_INFO") == "/metrics":
            return _answer(start_response, "200 OK", self.metrics_text(), content_type=metrics.CONTENT_TYPE)
        return None

    def healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        database = self.database.ping()
        report: dict[str, object] = {"database": database}
        healthy = database
        if self.connected is not None:
            socket_up = self.connected()
            report["socket_mode"] = "connected" if socket_up else "disconnected"
            healthy = healthy and socket_up
        body = json.dumps({"status": "ok" if healthy else "unavailable", **report}).encode()
        status = "200 OK" if healthy else "503 Service Unavailable"
        return _answer(start_response, status, body, content_type="application/json")


class TandemWSGI:
    """Routes `/healthz` and `/metrics` to `OpsWSGI`, everything else (events, interactivity, OAuth)
    to Bolt."""

    def __init__(
        self, app: App, database: Database, *, metrics_text: Callable[[], bytes] = metrics.exposition
    ) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.database = database
        self.ops = OpsWSGI(database, metrics_text=metrics_text)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = self.ops.answer(environ, start_response)
        if answer is not None:
            return answer
        try:
            return self.slack(environ, start_response)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # Bolt reads a few fields of every payload (user, team, channel) while it builds the
            # request, before its signature check and any listener: a body with, say, a number where
            # Slack sends a string makes it raise there. That is a malformed request, not a failure
            # of Tandem's: answer 400 and log one line, never a 500 with a traceback.
            log.warning("malformed request to %s refused: %s", environ.get("PATH_INFO"), type(exc).__name__)
            metrics.count_malformed_request()
            return _answer(start_response, "400 Bad Request", b"malformed request")

    def healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        return self.ops.healthz(start_response)


def _answer(
    start_response: StartResponse, status: str, body: bytes, *, content_type: str = "text/plain"
) -> Iterable[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]
