"""Acknowledgements leave as soon as the listener acks: Tandem's listener runner (bot/app.py).

Bolt's own runner polls for the ack every 10 ms. Tandem's waits on an event the ack sets, and must
otherwise answer exactly as Bolt's does: the same status and body for an ack with blocks, a listener
that fails before or after acking, and one that never acks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_bolt import Ack, App
from slack_bolt.listener import thread_runner
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot import ids
from bot.app import PromptAckRunner, TandemApp
from tests.conftest import SIGNING_SECRET, RunningApp
from tests.slack_requests import SlackRequests


class _NoPolling:
    """Stands in for the `time` module inside Bolt's runner: any sleep there is a poll."""

    def __init__(self) -> None:
        self.sleeps = 0

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        time.sleep(seconds)


@pytest.fixture
def no_polling(monkeypatch: pytest.MonkeyPatch) -> _NoPolling:
    stub = _NoPolling()
    monkeypatch.setattr(thread_runner, "time", stub)
    return stub


def test_a_click_is_answered_while_its_post_ack_work_still_runs_without_polling(
    running_app: RunningApp, no_polling: _NoPolling
) -> None:
    assert isinstance(running_app.runtime.app, TandemApp)
    assert isinstance(running_app.runtime.app.listener_runner, PromptAckRunner)
    # Slack takes its time with the reply to the response_url: the click's post-ack work waits for it.
    running_app.fake.method_latency["response_url"] = 2.0
    started = time.monotonic()
    response = running_app.slack.block_action(ids.ACTION_HELP_DISMISS, value="dismiss")
    acked_after = time.monotonic() - started
    assert response.status_code == 200
    assert acked_after < 2.0  # the ack did not wait for the post-ack work
    running_app.drain()
    assert [c["delete_original"] for c in running_app.fake.responses()] == [True]
    assert no_polling.sleeps == 0  # and nobody polled for it


def _acks_with_blocks(ack: Ack) -> None:
    ack(text="hi", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}])


def _fails_before_ack(ack: Ack) -> None:
    raise RuntimeError("boom")


def _fails_after_ack(ack: Ack) -> None:
    ack()
    raise RuntimeError("boom")


def _never_acks(ack: Ack) -> None:
    pass


def _build(app_class: type[App], listener: Callable[..., None], executor: ThreadPoolExecutor) -> App:
    app = app_class(
        signing_secret=SIGNING_SECRET,
        token="xoxb-test",
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=executor,
    )
    app.action("probe")(listener)
    for registered in app._listeners:  # a short wait for the listener that never acks
        registered.ack_timeout = 1
    return app


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=True)


@pytest.mark.parametrize("listener", [_acks_with_blocks, _fails_before_ack, _fails_after_ack, _never_acks])
def test_tandems_runner_answers_as_bolts_own(
    listener: Callable[..., None], executor: ThreadPoolExecutor
) -> None:
    answers: list[tuple[int, Any]] = []
    with SlackRequests("http://unused.invalid", SIGNING_SECRET) as requests:
        for app_class in (App, TandemApp):
            app = _build(app_class, listener, executor)
            built = requests.build_block_action("probe", value="x")
            answer: BoltResponse = app.dispatch(BoltRequest(body=built.text, headers=built.headers))
            body = json.loads(answer.body) if answer.body.startswith("{") else answer.body
            answers.append((answer.status, body))
    bolt, tandem = answers
    assert tandem == bolt
