"""What `tandem serve` writes to its log, as an operator's log collector reads it."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import requests

from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.test_serve import SECRET, free_port, start_tandem, tandem_env, wait_until_healthy

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \[\d+\] [\w.]+: "
)


def run_once(tmp_path: Path, fake_slack: FakeSlack, **env: str) -> tuple[int, list[str]]:
    """A full start on a new database (migrations, the scheduler's first run), one signed request
    and SIGTERM: every line the process wrote, on stdout and stderr."""
    port = free_port()
    process = start_tandem(["serve", "--access-log"], tmp_path, tandem_env(fake_slack, port, **env))
    lines: list[str] = []
    readers = [
        threading.Thread(target=lambda s=stream: lines.extend(s), daemon=True)
        for stream in (process.stdout, process.stderr)
    ]
    for reader in readers:
        reader.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        slack = SlackRequests(url, SECRET, default_response_url=fake_slack.response_url())
        assert slack.command("help").status_code == 200
        assert requests.get(url + "/metrics", timeout=5).status_code == 200
        # The scheduler's first run ends with a line of its own: wait for it (a condition, not a clock).
        deadline = time.monotonic() + 20
        while not any("scheduler started with" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=90)
        for reader in readers:
            reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, [line.rstrip("\n") for line in lines if line.strip()]


def test_json_logs_are_one_json_object_per_line_gunicorn_included(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    status, lines = run_once(tmp_path, fake_slack, LOG_FORMAT="json")
    assert status == 0
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON: {line!r}") from None
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    loggers = {entry["logger"] for entry in entries}
    # gunicorn's own lines (master, worker, access log), the app's, migrations and the scheduler.
    assert {
        "gunicorn.error",
        "gunicorn.access",
        "tandem",
        "alembic.runtime.migration",
        "jobs.scheduler",
    } <= loggers
    messages = [entry["message"] for entry in entries]
    assert any('"POST /slack/events" 200' in m for m in messages)
    assert any("Handling signal: term" in m for m in messages)
    text = "\n".join(lines)
    assert "xoxb-serve-test" not in text and SECRET not in text


def test_a_quiet_start_one_line_per_event_in_one_format(tmp_path: Path, fake_slack: FakeSlack) -> None:
    status, lines = run_once(tmp_path, fake_slack)
    assert status == 0
    assert [line for line in lines if not TEXT_LINE.match(line)] == []  # gunicorn's lines too
    text = "\n".join(lines)
    assert "setup plugin" not in text  # Alembic's plugin list
    assert "will be unused" not in text  # Bolt's warning about a token Tandem never gave it
    assert "Context impl" not in text and "Adding job tentatively" not in text
    # Each real event once: the migrations, the workspace, listening, the scheduler, the stop.
    assert sum("Running upgrade" in line for line in lines) == len(
        list(Path("db/migrations/versions").glob("0*.py"))
    )
    for event in ("serving workspace T0001", "listening on", "scheduler started with", "scheduler stopped"):
        assert sum(event in line for line in lines) == 1, event
    assert len(lines) <= 30, "\n".join(lines)
