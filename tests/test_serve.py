"""`tandem serve` as an operator runs it: a real gunicorn process, SQLite by default, SIGTERM to stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests

SECRET = "serve-test-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    cwd: Path


def wait_until_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> requests.Response:
    """Poll /healthz until the server answers (a readiness probe, not a wait for a schedule)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"tandem serve exited with {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            return requests.get(url + "/healthz", timeout=1)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("tandem serve did not come up")


@pytest.fixture
def served(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[Served]:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        # Only the two settings the issue names, plus where Slack's API and our port are.
        "SLACK_BOT_TOKEN": "xoxb-serve-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield Served(process, f"http://127.0.0.1:{port}", tmp_path)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_serve_with_bot_token_and_signing_secret(served: Served, fake_slack: FakeSlack) -> None:
    health = wait_until_healthy(served.url, served.process)
    assert health.status_code == 200
    assert (served.cwd / "tandem.db").exists()

    slack = SlackRequests(served.url, SECRET, default_response_url=fake_slack.response_url())
    started = time.monotonic()
    answer = slack.command("help")
    assert time.monotonic() - started < 3.0
    assert answer.status_code == 200 and answer.json()["response_type"] == "ephemeral"
    assert "/tandem help" in answer.text

    stale = slack.command("help", timestamp=int(time.time()) - 360)
    forged = slack.command("help", signature="v0=" + "f" * 64)
    unsigned = slack.command("help", sign=False)
    assert [r.status_code for r in (stale, forged, unsigned)] == [401, 401, 401]

    # SIGTERM: gunicorn stops accepting, finishes in-flight requests, the scheduler shuts down.
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=40) == 0
    log = served.process.stderr.read()  # type: ignore[union-attr]
    assert "scheduler stopped" in log
    assert "xoxb-serve-test" not in log and SECRET not in log


def test_serve_with_nothing_set_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        "SLACK_BOT_TOKEN is missing" in result.stderr and "SLACK_SIGNING_SECRET is missing" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "tandem.db").exists()


def test_serve_with_a_rejected_token_says_so(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.valid_tokens = {"xoxb-the-right-one"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env={
            "PATH": os.environ["PATH"],
            "SLACK_BOT_TOKEN": "xoxb-wrong",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake_slack.base_url,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in result.stderr
    assert "xoxb-wrong" not in result.stderr
