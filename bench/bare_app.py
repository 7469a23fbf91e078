"""The baseline: a bare Bolt app that only acknowledges, served exactly the way `tandem serve` serves.

It is what Tandem is measured against, so everything but Tandem's own code is the same:

- the server: `bot.server.serve_http` itself (gunicorn, one `gthread` worker, 8 threads, the same
  timeouts and keep-alive), handed a tiny runtime-like object with the two things gunicorn uses,
  `.wsgi` and `.close()`;
- the Bolt app: a `WebClient` with a bot token pointed at the fake Slack (so Bolt's single-workspace
  authorization and its `auth.test` at start are the same), `process_before_response=False`, and a
  16-thread listener executor like Tandem's `Runtime` gives its app;
- the endpoint: Bolt's WSGI `SlackRequestHandler` on `/slack/events`.

Its listeners ack the `/tandem` command and any block action, and do nothing else.

Run: ``SLACK_SIGNING_SECRET=... SLACK_API_URL=http://127.0.0.1:PORT/api/ python -m bench.bare_app --port N``
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.server import serve_http

EVENTS_PATH = "/slack/events"


def _ack(ack: Ack) -> None:
    ack()


class BareRuntime:
    """Stands in for `bot.runtime.Runtime` as far as `bot.server.GunicornServer` is concerned."""

    def __init__(
        self,
        signing_secret: str,
        api_url: str,
        token: str,
        listener_threads: int = 16,
        executor: Executor | None = None,
    ) -> None:
        self.executor = executor or ThreadPoolExecutor(
            max_workers=listener_threads, thread_name_prefix="bare-listener"
        )
        self.app = App(
            client=WebClient(base_url=api_url, token=token),
            signing_secret=signing_secret,
            process_before_response=False,
            listener_executor=self.executor,
        )
        self.app.command("/tandem")(_ack)
        self.app.action(re.compile(".*"))(_ack)
        self.wsgi = SlackRequestHandler(self.app, path=EVENTS_PATH)

    def start_scheduler(self) -> None:  # pragma: no cover - serve_http is called with run_scheduler=False
        pass

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="as `tandem serve` (default 1)")
    parser.add_argument("--threads", type=int, default=8, help="as `tandem serve` (default 8)")
    args = parser.parse_args(argv)

    signing_secret = os.environ.get("SLACK_SIGNING_SECRET", "")
    api_url = os.environ.get("SLACK_API_URL", "")
    if not signing_secret or not api_url:
        print("SLACK_SIGNING_SECRET and SLACK_API_URL must be set", file=sys.stderr)
        return 2
    if not api_url.endswith("/"):
        api_url += "/"
    token = os.environ.get("SLACK_BOT_TOKEN", "xoxb-bench")
    log_level = os.environ.get("LOG_LEVEL", "WARNING")
    logging.basicConfig(level=log_level.upper())

    serve_http(
        lambda: BareRuntime(signing_secret, api_url, token),
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        run_scheduler=False,
        access_log=False,
        log_level=log_level,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
