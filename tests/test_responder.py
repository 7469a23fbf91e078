"""Replies to response_urls: kept-alive connections, a timeout, a reconnect after an idle close."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.responder import ResponseUrlClient


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.bodies: list[dict[str, Any]] = []
        self.delay = 0.0
        self.status = 200
        self.close_after_reply = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Slack's servers
    server: _Recorder

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(json.loads(body))
        time.sleep(self.server.delay)
        reply = b"ok" if self.server.status == 200 else b"expired_url"
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        if self.server.close_after_reply:
            # Close the socket without saying so, as an idle keep-alive connection is dropped.
            self.close_connection = True


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: _Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/actions/T1/1/abc?x=1"


def test_replies_reuse_one_kept_alive_connection(recorder: _Recorder) -> None:
    client = ResponseUrlClient(timeout=5)
    for n in range(5):
        assert client.send(url(recorder), {"text": f"You answered {n}"}) is True
    assert [b["text"] for b in recorder.bodies] == [f"You answered {n}" for n in range(5)]
    assert recorder.connections == 1


def test_a_connection_the_other_end_closed_is_reopened(recorder: _Recorder) -> None:
    client = ResponseUrlClient(timeout=5)
    recorder.close_after_reply = True
    assert client.send(url(recorder), {"text": "one"}) is True
    assert client.send(url(recorder), {"text": "two"}) is True
    assert [b["text"] for b in recorder.bodies] == ["one", "two"]  # each sent exactly once
    assert recorder.connections == 2


def test_a_refused_reply_is_reported_not_retried(
    recorder: _Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.status = 404
    assert ResponseUrlClient(timeout=5).send(url(recorder), {"text": "late"}) is False
    assert len(recorder.bodies) == 1
    assert "answered 404: expired_url" in caplog.text


def test_a_slow_reply_times_out_and_is_not_sent_twice(recorder: _Recorder) -> None:
    recorder.delay = 1.0
    started = time.monotonic()
    assert ResponseUrlClient(timeout=0.2).send(url(recorder), {"text": "slow"}) is False
    assert time.monotonic() - started < 0.9
    time.sleep(1.0)  # let the server finish the request it had: it must not get a second one
    assert len(recorder.bodies) == 1


def test_an_unreachable_host_fails_quietly() -> None:
    assert ResponseUrlClient(timeout=0.5).send("http://127.0.0.1:9/nowhere", {"text": "x"}) is False
