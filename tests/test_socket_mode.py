"""Socket Mode against a local fake of Slack's websocket: an honest state, /healthz and /metrics."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from bot.config import Mode, Settings
from bot.runtime import Runtime
from bot.socket_mode import SocketModeService
from tests.clock import FrozenClock
from tests.fake_slack import FakeSlack
from tests.fake_socket_mode import FakeSocketMode
from tests.test_serve import free_port

APP_TOKEN = "xapp-1-socket-test"


def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll a condition (a connection coming up), never a fixed sleep standing for a schedule."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def fake_socket(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode()
    fake_slack.socket_mode_url = fake.url
    yield fake
    fake.close()


@pytest.fixture
def service(settings: Settings, clock: FrozenClock) -> Iterator[SocketModeService]:
    socket_settings = settings.model_copy(update={"slack_signing_secret": None})
    runtime = Runtime(socket_settings, Mode.SOCKET, clock=clock)
    service = SocketModeService(
        runtime, APP_TOKEN, host="127.0.0.1", port=0, ping_interval=0.3, watch_interval=0.02
    )
    yield service
    service.close()
    runtime.close()


def health(service: SocketModeService) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{service.port}/healthz", timeout=5)


def test_healthz_follows_a_failed_then_a_working_connection(
    service: SocketModeService,
    fake_socket: FakeSocketMode,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.socket_mode")
    fake_socket.accepting = False
    service.start()

    refused = health(service)
    assert refused.status_code == 503
    assert refused.json() == {"status": "unavailable", "database": True, "socket_mode": "disconnected"}
    assert fake_socket.attempts >= 1 and fake_socket.connections == 0
    assert "could not connect to Slack" in caplog.text
    assert "connected to Slack" not in caplog.text.replace("could not connect to Slack", "")

    fake_socket.accepting = True  # Slack is back: the client's own retry connects
    assert eventually(lambda: health(service).status_code == 200)
    assert health(service).json() == {"status": "ok", "database": True, "socket_mode": "connected"}
    assert eventually(lambda: "Socket Mode: connected to Slack" in caplog.text, timeout=5)
    assert len(fake_slack.calls("apps.connections.open")) >= 2  # a new URL for the new attempt

    # The network drops it and Slack is unreachable for a while: unhealthy until reconnected. (While
    # refusing, the 503 cannot be missed between two polls by a reconnect that came back at once.)
    fake_socket.accepting = False
    fake_socket.drop_connections()
    assert eventually(lambda: health(service).status_code == 503, timeout=30)
    fake_socket.accepting = True
    assert eventually(lambda: health(service).status_code == 200, timeout=30)
    assert "the connection to Slack was lost" in caplog.text


def test_requests_arrive_over_the_socket_and_metrics_are_served_beside_healthz(
    service: SocketModeService, fake_socket: FakeSocketMode
) -> None:
    service.start()
    assert eventually(service.connected)
    fake_socket.send(
        {
            "envelope_id": "env-1",
            "type": "events_api",
            "accepts_response_payload": False,
            "payload": {
                "type": "event_callback",
                "team_id": "T0001",
                "api_app_id": "A0001",
                "event": {"type": "app_home_opened", "user": "U1", "tab": "messages"},
                "event_id": "Ev1",
                "event_time": 1700000000,
                "authorizations": [{"team_id": "T0001", "user_id": "U_BOT", "is_bot": True}],
            },
        }
    )
    assert fake_socket.wait_for_ack("env-1")["envelope_id"] == "env-1"
    metrics = requests.get(f"http://127.0.0.1:{service.port}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert 'tandem_requests_total{kind="event",outcome="ok"}' in metrics.text
    # Nothing but health and metrics on this port: Socket Mode requests carry no signature.
    assert (
        requests.post(f"http://127.0.0.1:{service.port}/slack/events", data="{}", timeout=5).status_code
        == 404
    )


def test_tandem_serve_in_socket_mode_serves_healthz_on_port_and_never_claims_a_connection(
    tmp_path: Path, fake_slack: FakeSlack, fake_socket: FakeSocketMode
) -> None:
    fake_socket.accepting = False
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "SLACK_BOT_TOKEN": "xoxb-socket-serve",
        "SLACK_APP_TOKEN": APP_TOKEN,
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
        url = f"http://127.0.0.1:{port}"

        def answered() -> bool:
            try:
                return requests.get(url + "/healthz", timeout=1).status_code == 503
            except requests.ConnectionError:
                return False

        assert eventually(answered, timeout=30)
        assert eventually(lambda: fake_socket.attempts >= 1, timeout=10)
        assert requests.get(url + "/metrics", timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "could not connect to Slack" in log
    assert "Socket Mode: connected to Slack" not in log and "A new session has been established" not in log
    assert APP_TOKEN not in log and "xoxb-socket-serve" not in log
