"""The baseline: a bare Bolt app that only acknowledges, served exactly the way `tandem serve` serves.

It is what Tandem is measured against, so everything but Tandem's own code is the same:

- the server: `bot.server.serve_http` itself (gunicorn, one `gthread` worker, 8 threads, the same
  timeouts and keep-alive), handed a tiny runtime-like object with the two things gunicorn uses,
  `.wsgi` and `.close()`;
- the Bolt app: a `WebClient` with a bot token pointed at the fake Slack (so Bolt's single-workspace
  authorization and its `auth.test` at start are the same), `process_before_response=False`, and a
  16-thread listener executor like Tandem's `Runtime` gives its app;
- the endpoint: Bolt's WSGI `SlackRequestHandler` on `/slack/events`.

Its listeners ack the `/tandem` command and any block action, and do nothing else (ack-only, the
`bare` target of `bench.run`).

With `--respond` (the `bare-respond` target) a block action is acked and then answered the way a real
click must be: one POST of a prebuilt JSON message to the interaction's `response_url`, through the
very client Tandem uses for it (`bot.responder.ResponseUrlClient`: urllib3's pool, kept-alive
connections, the same timeout and retry policy). The "Got it" button of the help message
(`help_dismiss`) deletes its ephemeral message as Tandem does; any other action gets a one-line
ephemeral confirmation of about the size of Tandem's "you answered" reply. That is the least any app
must do for those clicks, so Tandem's ratio against it is what its own code costs on top.

With `--prompt-acks` its request threads are woken by the ack, as Tandem's are (`bot.app.PromptAckRunner`),
instead of Bolt's 10 ms poll for it: for comparing what the two apps' code costs once neither is capped
by the poll (`bench.run --bare-acks prompt`).

Run: ``SLACK_SIGNING_SECRET=... SLACK_API_URL=http://127.0.0.1:PORT/api/ python -m bench.bare_app --port N [--respond]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import Ack, App, BoltContext
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot import ids
from bot.app import use_prompt_acks
from bot.responder import ResponseUrlClient
from bot.server import serve_http

EVENTS_PATH = "/slack/events"

# Serialised once, as Tandem serialises its replies once (bot/blocks/pulse.py, bot/listeners/help.py).
DELETE_ORIGINAL = json.dumps({"delete_original": True}, separators=(",", ":")).encode()
CONFIRMATION = json.dumps(
    {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": "Thanks: your answer (4) is saved. You can change it until the pulse closes.",
    },
    separators=(",", ":"),
).encode()


def _ack(ack: Ack) -> None:
    ack()


class Responder:
    """The `--respond` listener: ack, then one POST to the response_url (after the ack, as Tandem)."""

    def __init__(self, client: ResponseUrlClient) -> None:
        self.client = client

    def __call__(self, ack: Ack, body: dict, context: BoltContext) -> None:
        ack()
        response_url = body.get("response_url")
        if not isinstance(response_url, str) or not response_url:
            return
        action = (body.get("actions") or [{}])[0]
        message = DELETE_ORIGINAL if action.get("action_id") == ids.ACTION_HELP_DISMISS else CONFIRMATION
        self.client.send_raw(response_url, message)


class BareRuntime:
    """Stands in for `bot.runtime.Runtime` as far as `bot.server.GunicornServer` is concerned."""

    def __init__(
        self,
        signing_secret: str,
        api_url: str,
        token: str,
        listener_threads: int = 16,
        executor: Executor | None = None,
        respond: bool = False,
        prompt_acks: bool = False,
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
        if prompt_acks:
            use_prompt_acks(self.app)
        self.app.command("/tandem")(_ack)
        # As Tandem's Messenger builds it (SLACK_TIMEOUT defaults to 10 s).
        self.responses = ResponseUrlClient(timeout=10.0) if respond else None
        self.app.action(re.compile(".*"))(Responder(self.responses) if self.responses else _ack)
        self.wsgi = SlackRequestHandler(self.app, path=EVENTS_PATH)

    def start_scheduler(self) -> None:  # pragma: no cover - serve_http is called with run_scheduler=False
        pass

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        if self.responses is not None:
            self.responses.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="as `tandem serve` (default 1)")
    parser.add_argument("--threads", type=int, default=8, help="as `tandem serve` (default 8)")
    parser.add_argument(
        "--respond",
        action="store_true",
        help="after acking a block action, POST a reply to its response_url (as Tandem must)",
    )
    parser.add_argument(
        "--prompt-acks",
        action="store_true",
        help="wake request threads by the ack (Tandem's runner) instead of Bolt's 10 ms poll",
    )
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
        lambda: BareRuntime(
            signing_secret, api_url, token, respond=args.respond, prompt_acks=args.prompt_acks
        ),
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
