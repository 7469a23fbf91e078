"""A local fake of Slack's Socket Mode websocket: the handshake, pings answered, envelopes sent.

`accepting = False` makes it refuse connections (the handshake answers 503, as a server in trouble
would); set it back to True and the next attempt connects. Only what slack_sdk's built-in Socket
Mode client uses is implemented: RFC 6455 handshake, masked client frames, ping/pong, text frames.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    def __init__(self) -> None:
        self.accepting = True
        self.attempts = 0  # handshakes tried
        self.connections = 0  # handshakes accepted
        self.received: list[dict[str, Any]] = []  # text frames from the app (acknowledgements)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._clients: list[socket.socket] = []
        self._lock = threading.Condition()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=fake"

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for client in self._clients:
            client.close()

    def drop_connections(self) -> None:
        """Close every open connection without a closing frame (a network failure)."""
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
                client.close()
            self._clients.clear()

    def send(self, envelope: dict[str, Any]) -> None:
        """Send an envelope (events_api, interactive, slash_commands) to every connected client."""
        frame = _frame(0x1, json.dumps(envelope).encode())
        with self._lock:
            for client in self._clients:
                client.sendall(frame)

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        with self._lock:
            found = self._lock.wait_for(
                lambda: next((m for m in self.received if m.get("envelope_id") == envelope_id), None),
                timeout,
            )
        assert found, f"no acknowledgement of {envelope_id}"
        return found

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            self.attempts += 1
            if not self.accepting:
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                client.close()
                return
            headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
            key = headers["Sec-WebSocket-Key"]
            accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
            client.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            with self._lock:
                self._clients.append(client)
                self.connections += 1
            self._read_frames(client)
        except OSError:
            pass

    def _read_frames(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        while True:
            head = reader.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", reader.read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", reader.read(8))
            mask = reader.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(reader.read(length)))
            if opcode == 0x9:  # ping: answer as Slack does
                with self._lock:
                    client.sendall(_frame(0xA, payload))
            elif opcode == 0x1:
                with self._lock:
                    self.received.append(json.loads(payload))
                    self._lock.notify_all()
            elif opcode == 0x8:
                return


def _frame(opcode: int, payload: bytes) -> bytes:
    """A server frame (never masked)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload
