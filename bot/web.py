"""The WSGI application `tandem serve` runs: Slack's endpoints plus a health check."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.app import EVENTS_PATH
from db.session import Database

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment


class TandemWSGI:
    """Routes `/healthz` here and everything else (events, interactivity, OAuth) to Bolt."""

    def __init__(self, app: App, database: Database) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.database = database

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.healthz(start_response)
        return self.slack(environ, start_response)

    def healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        healthy = self.database.ping()
        body = json.dumps({"status": "ok" if healthy else "unavailable", "database": healthy}).encode()
        status = "200 OK" if healthy else "503 Service Unavailable"
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]
