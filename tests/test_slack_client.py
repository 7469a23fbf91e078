"""Kept-alive connections to Slack (bot/slack_client.py KeepAliveWebClient) keep urllib's meaning of
each failure: not connected is safe to repeat, a connection lost after the request went out is not
(for a post), and Slack's answers arrive as they did."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bot import slack_client
from bot.config import Mode, Settings
from bot.messenger import DeliveryError, SlackMessenger
from tests.fake_slack import FakeSlack


def messenger_for(api_url: str) -> SlackMessenger:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-test",  # type: ignore[arg-type]
        slack_signing_secret="secret",  # type: ignore[arg-type]
        slack_api_url=api_url,
        slack_timeout=5,
    )
    return SlackMessenger(settings, Mode.HTTP)


class HangUp:
    """A server that reads each request and closes the connection without answering: the request
    reached "Slack", whose answer was lost."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/api/"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            with conn:
                if conn.recv(65536):
                    self.requests += 1

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def hang_up() -> Iterator[HangUp]:
    server = HangUp()
    yield server
    server.close()


def test_a_post_is_answered_over_a_kept_alive_connection(fake_slack: FakeSlack) -> None:
    fake_slack.auto_channels = True
    messenger = messenger_for(fake_slack.base_url)

    pool = slack_client._shared_pool().connection_from_url(fake_slack.base_url)
    opened = pool.num_connections

    first = messenger.post("T1", "C1", text="one", blocks=[])
    second = messenger.post("T2", "C2", text="two", blocks=[])  # another workspace, another token

    assert first != second
    assert [(c.params["text"], c.token) for c in fake_slack.calls("chat.postMessage")] == [
        ("one", "xoxb-test"),
        ("two", "xoxb-test"),
    ]
    assert pool.num_connections - opened == 1  # one connection, used twice


def test_a_429_is_raised_with_its_retry_after_when_the_caller_waits_elsewhere(fake_slack: FakeSlack) -> None:
    fake_slack.auto_channels = True
    fake_slack.fail("chat.postMessage", status=429, retry_after=7)
    messenger = messenger_for(fake_slack.base_url)

    with pytest.raises(DeliveryError) as refused:
        messenger.post("T1", "C1", text="hi", blocks=[], wait_if_limited=False)

    assert (refused.value.code, refused.value.retry_after, refused.value.ambiguous) == (
        "ratelimited",
        7.0,
        False,
    )
    assert len(fake_slack.calls("chat.postMessage")) == 1  # not slept on and repeated here


def test_nothing_listening_is_unanswered_but_not_ambiguous() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: the connection is refused

    with pytest.raises(DeliveryError) as failed:
        messenger_for(f"http://127.0.0.1:{port}/api/").post("T1", "C1", text="hi", blocks=[])

    assert failed.value.unanswered and not failed.value.ambiguous


def test_a_post_whose_connection_broke_after_sending_is_ambiguous_and_not_repeated(hang_up: HangUp) -> None:
    messenger = messenger_for(hang_up.url)

    with pytest.raises(DeliveryError) as lost:
        messenger.post("T1", "C1", text="hi", blocks=[])

    assert lost.value.ambiguous and lost.value.unanswered
    assert hang_up.requests == 1  # Slack may have stored it: never sent again


def test_a_read_whose_connection_broke_is_repeated(hang_up: HangUp) -> None:
    messenger = messenger_for(hang_up.url)

    with pytest.raises(DeliveryError):
        messenger.user_info("T1", "U1")

    assert hang_up.requests == 3  # users.info is safe to repeat: the first try and two retries
