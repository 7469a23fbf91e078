"""The WSGI application `tandem serve` runs: Slack's endpoints plus a health check."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.app import EVENTS_PATH
from db.session import Database

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)


class TandemWSGI:
    """Routes `/healthz` here and everything else (events, interactivity, OAuth) to Bolt."""

    def __init__(self, app: App, database: Database) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.database = database

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.healthz(start_response)
        try:
            return self.slack(environ, start_response)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # Bolt reads a few fields of every payload (user, team, channel) while it builds the
            # request, before its signature check and any listener: a body with, say, a number where
            # Slack sends a string makes it raise there. That is a malformed request, not a failure
            # of Tandem's: answer 400 and log one line, never a 500 with a traceback.
            log.warning("malformed request to %s refused: %s", environ.get("PATH_INFO"), type(exc).__name__)
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
