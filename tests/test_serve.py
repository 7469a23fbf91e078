"""`tandem serve` as an operator runs it: a real gunicorn process, SQLite by default, SIGTERM to stop."""

from __future__ import annotations

import datetime as dt
import logging
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

from bot import __version__, ids
from db.migrate import upgrade
from db.session import Database
from tests.clock import FrozenClock
from tests.fake_slack import TEAM_ID, FakeSlack
from tests.slack_requests import SlackRequests
from tests.world import World, weekly

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
            assert process.stderr is not None  # start_tandem pipes it
            raise AssertionError(f"tandem serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            return requests.get(url + "/healthz", timeout=1)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("tandem serve did not come up")


def tandem_env(fake_slack: FakeSlack, port: int, **extra: str) -> dict[str, str]:
    # Only the two settings the issue names, plus where Slack's API and our port are.
    return {
        "PATH": os.environ["PATH"],
        "SLACK_BOT_TOKEN": "xoxb-serve-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "PORT": str(port),
        **extra,
    }


def start_tandem(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str]:
    """SIGTERM, as a process manager sends it; the exit status and everything logged."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


@pytest.fixture
def served(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[Served]:
    port = free_port()
    process = start_tandem(["serve"], tmp_path, tandem_env(fake_slack, port))
    try:
        yield Served(process, f"http://127.0.0.1:{port}", tmp_path)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def seed_due_checkin(directory: Path, channel: str) -> str:
    """A migrated SQLite database in `directory` with one ritual whose check-in fell due 10 minutes ago.

    The `tandem` processes run on the real clock, so the schedule is set relative to it (no date is
    fixed): weekly, on today's weekday and at the minute it was 10 minutes ago, in UTC.
    """
    url = f"sqlite:///{directory / 'tandem.db'}"
    now = dt.datetime.now(dt.UTC)
    due = (now - dt.timedelta(minutes=10)).replace(second=0, microsecond=0)
    database = Database(url)
    try:
        upgrade(database.engine)
        World(database, FrozenClock(now)).ritual(
            team_id=TEAM_ID,
            channel=channel,
            cadence=weekly(weekday=due.weekday(), at=due.time(), timezone="UTC"),
            marketing=("U_M1",),
            it=("U_I1",),
            pulse_enabled=False,
            now=now - dt.timedelta(days=1),
        )
    finally:
        database.dispose()
    return url


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

    # SIGTERM while acknowledged work is still running: the Home tab's "New ritual" button is acked at
    # once, then asks users.info for the clicker's timezone (slow here) before it opens the modal.
    fake_slack.method_latency["users.info"] = 2.0
    clicked = slack.block_action(
        ids.ACTION_HOME_NEW_RITUAL, user_id="U_SLOW", view={"id": "V1", "type": "home"}
    )
    assert clicked.status_code == 200
    fake_slack.wait_for("users.info", lambda c: c.params.get("user") == "U_SLOW")
    signalled = time.monotonic()
    status, log = stop(served.process)

    assert status == 0
    (opened,) = fake_slack.calls("views.open")  # the work finished after the signal, before the exit
    assert opened.at > signalled
    assert "scheduler stopped" in log
    assert "xoxb-serve-test" not in log and SECRET not in log


def test_the_graceful_timeout_covers_what_shutdown_waits_for() -> None:
    from bot.config import Settings
    from bot.server import GRACEFUL_TIMEOUT

    # `_env_file` is pydantic-settings' own option; mypy sees only the fields.
    slack_call = Settings(_env_file=None).slack_timeout  # type: ignore[call-arg]
    outbox_drain = 20  # jobs.scheduler: TandemScheduler.shutdown stops the outbox after 20 s
    ack = 3  # Slack's limit on a request
    assert ack + 2 * slack_call + outbox_drain <= GRACEFUL_TIMEOUT


def test_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"tandem {__version__}"


def test_scheduler_runs_alone_and_stops_on_sigterm(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C_DUE", name="mkt-it", is_member=True)
    url = seed_due_checkin(tmp_path, "C_DUE")
    port = free_port()
    process = start_tandem(
        ["scheduler", "--no-migrate"], tmp_path, tandem_env(fake_slack, port, DATABASE_URL=url)
    )
    try:
        # It catches up on the check-in that fell due (well within the 2-hour grace) ...
        (_checkin,) = fake_slack.wait_for(
            "chat.postMessage",
            lambda c: c.params["channel"] == "C_DUE" and "Weekly sync" in c.params["text"],
            timeout=60,
        )
        # ... and serves nothing: the web app is another process's job.
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        status, log = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert status == 0
    assert "scheduler running" in log and "scheduler stopped" in log
    assert "xoxb-serve-test" not in log and SECRET not in log


def test_serve_no_scheduler_no_migrate(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C_DUE", name="mkt-it", is_member=True)
    url = seed_due_checkin(tmp_path, "C_DUE")  # `tandem db upgrade` ran, as the README's deployment says
    port = free_port()
    env = tandem_env(fake_slack, port, DATABASE_URL=url)
    process = start_tandem(["serve", "--no-scheduler", "--no-migrate"], tmp_path, env)
    try:
        app_url = f"http://127.0.0.1:{port}"
        assert wait_until_healthy(app_url, process).status_code == 200
        answer = SlackRequests(app_url, SECRET, default_response_url=fake_slack.response_url()).command(
            "help"
        )
        assert answer.status_code == 200 and "/tandem setup" in answer.text
        status, log = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert status == 0
    assert "scheduler off" in log
    assert "scheduler stopped" not in log  # no scheduler was ever built in this process
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == "C_DUE"] == []


def test_serve_no_migrate_refuses_an_unmigrated_database(tmp_path: Path, fake_slack: FakeSlack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--no-migrate"],
        cwd=tmp_path,
        env=tandem_env(fake_slack, free_port()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "migration(s) pending and --no-migrate was given" in result.stderr
    assert "tandem db upgrade" in result.stderr and "Traceback" not in result.stderr
    assert fake_slack.calls("auth.test") == []  # it stopped before anything else


@pytest.fixture
def socket_mode_run(
    tmp_path: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[tuple[str, object]]]:
    """Run `main()` in this process with the Socket Mode connection and the wait for SIGTERM stubbed:
    everything else (settings, migrations, auth.test, the app, the handler) is real."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    import bot.cli
    import bot.server

    events: list[tuple[str, object]] = []
    monkeypatch.chdir(tmp_path)
    for name in (
        "SLACK_SIGNING_SECRET",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "DATABASE_URL",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-socket-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-socket-test")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.base_url)
    monkeypatch.setenv("PORT", str(free_port()))  # Socket Mode serves /healthz there too
    monkeypatch.setattr(SocketModeHandler, "connect", lambda self: events.append(("connect", self)))
    monkeypatch.setattr(bot.cli, "_wait_for_stop_signal", lambda stop: events.append(("stop", None)))
    monkeypatch.setattr(bot.server, "serve_http", lambda *a, **k: events.append(("http", None)))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield events
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize("how", ["app token alone", "--socket-mode"])
def test_socket_mode_is_chosen_and_its_handler_built(
    how: str,
    socket_mode_run: list[tuple[str, object]],
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.cli import main

    argv = ["serve"]
    if how == "--socket-mode":
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)  # with a secret, only the flag means Socket Mode
        argv.append("--socket-mode")
    assert main(argv) == 0
    assert [name for name, _ in socket_mode_run] == ["connect", "stop"]  # never gunicorn
    handler = socket_mode_run[0][1]
    assert isinstance(handler, SocketModeHandler)
    assert handler.app_token == "xapp-socket-test"
    # The handler talks to Slack through the app's own client, so SLACK_API_URL applies to it too.
    assert handler.client.web_client.base_url == fake_slack.base_url


def test_socket_mode_with_a_refused_app_token_says_so(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.revoke("xapp-refused")
    env = tandem_env(fake_slack, free_port(), SLACK_APP_TOKEN="xapp-refused")
    del env["SLACK_SIGNING_SECRET"]
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    (opened,) = fake_slack.calls("apps.connections.open")  # Socket Mode, with the app-level token
    assert opened.token == "xapp-refused"
    assert "Slack refused the Socket Mode connection (token_revoked)" in result.stderr
    assert "Traceback" not in result.stderr and "xapp-refused" not in result.stderr


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
