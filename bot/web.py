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


class TandemWSGI:
    """Routes `/healthz` and `/metrics` here and everything else (events, interactivity, OAuth) to Bolt."""

    def __init__(
        self, app: App, database: Database, *, metrics_text: Callable[[], bytes] = metrics.exposition
    ) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.database = database
        self.metrics_text = metrics_text

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            if environ.get("PATH_INFO") == "/healthz":
                return self.healthz(start_response)
            if environ.get("PATH_INFO") == "/metrics":
                return self._answer(
                    start_response, "200 OK", self.metrics_text(), content_type=metrics.CONTENT_TYPE
                )
        try:
            return self.slack(environ, start_response)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # Bolt reads a few fields of every payload (user, team, channel) while it builds the
            # request, before its signature check and any listener: a body with, say, a number where
            # Slack sends a string makes it raise there. That is a malformed request, not a failure
            # of Tandem's: answer 400 and log one line, never a 500 with a traceback.
            log.warning("malformed request to %s refused: %s", environ.get("PATH_INFO"), type(exc).__name__)
            metrics.count_malformed_request()
            return self._answer(start_response, "400 Bad Request", b"malformed request")

    def healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        healthy = self.database.ping()
        body = json.dumps({"status": "ok" if healthy else "unavailable", "database": healthy}).encode()
        status = "200 OK" if healthy else "503 Service Unavailable"
        return self._answer(start_response, status, body, content_type="application/json")

    @staticmethod
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
