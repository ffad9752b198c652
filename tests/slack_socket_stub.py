"""A local stand-in for Slack's Socket Mode WebSocket (RFC 6455, the subset slack_sdk's built-in client uses).

A TCP server on 127.0.0.1, port 0. It completes the WebSocket handshake, sends Slack's ``hello``, answers pings
with pongs, records every text frame the client sends (the acks, ``{"envelope_id": ...}``), and lets a test push
envelopes shaped as Slack sends them. Pair it with :class:`tests.slack_stub.SlackStub` answering
``apps.connections.open`` with this server's ``ws://`` URL (slack_sdk connects without TLS to a port other
than 443, which is how its own tests run).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
from typing import Any, Mapping

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HELLO = {"type": "hello", "num_connections": 1, "debug_info": {"host": "applink-stub", "approximate_connection_time": 18060},
         "connection_info": {"app_id": "AHUBAPP01"}}


def envelope(payload: Mapping[str, Any], *, kind: str = "events_api", envelope_id: str = "1", retry: int = 0) -> dict[str, Any]:
    """A Socket Mode envelope as Slack sends it.

    NOTE(slack): https://docs.slack.dev/apis/events-api/using-socket-mode#events
    """
    return {"envelope_id": envelope_id, "type": kind, "payload": dict(payload), "accepts_response_payload": False,
            "retry_attempt": retry, "retry_reason": "timeout" if retry else ""}


def _frame(opcode: int, data: bytes) -> bytes:
    """A server frame (unmasked, FIN set)."""
    head = bytes([0x80 | opcode])
    if len(data) < 126:
        return head + bytes([len(data)]) + data
    if len(data) < 1 << 16:
        return head + bytes([126]) + struct.pack("!H", len(data)) + data
    return head + bytes([127]) + struct.pack("!Q", len(data)) + data


class SocketModeStub:
    """The fake Socket Mode endpoint. ``url`` is what ``apps.connections.open`` should answer."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self._conn: socket.socket | None = None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f"ws://127.0.0.1:{self._server.getsockname()[1]}/link/?ticket=stub&app_id=AHUBAPP01"

    def start(self) -> "SocketModeStub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._thread.join(timeout=5)
        self._server.close()

    # -- test controls ---------------------------------------------------------------------------------

    def push(self, message: Mapping[str, Any], timeout: float = 10.0) -> None:
        """Send one envelope (or any JSON message) to the connected client (waiting ``timeout`` for one)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._conn is None:
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("no Socket Mode client connected")
            self._conn.sendall(_frame(0x1, json.dumps(message).encode("utf-8")))

    def acks(self) -> list[str]:
        with self._lock:
            return [m["envelope_id"] for m in self.received if set(m) >= {"envelope_id"}]

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` sessions have been opened (the client may return from its connect before this
        server has counted the session)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.connections < count:
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    return False
        return True

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while envelope_id not in [m.get("envelope_id") for m in self.received]:
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    return False
        return True

    # -- the fake endpoint -----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._server.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            lines = request.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)}
            accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()).decode()
            conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            conn.sendall(_frame(0x1, json.dumps(HELLO).encode()))
            with self._cond:
                self._conn = conn
                self.connections += 1
                self._cond.notify_all()
            conn.settimeout(0.2)
            buffer = b""
            while not self._stopped:
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                buffer += chunk
                try:
                    buffer = self._frames(conn, buffer)
                except OSError:  # the client went away mid-answer (a pong or close to a dropped connection)
                    break

    def _frames(self, conn: socket.socket, buffer: bytes) -> bytes:
        """Handle every complete client frame in ``buffer``; return what is left."""
        while len(buffer) >= 2:
            opcode, masked, length = buffer[0] & 0x0F, buffer[1] & 0x80, buffer[1] & 0x7F
            at = 2
            if length == 126:
                length, at = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                length, at = struct.unpack("!Q", buffer[2:10])[0], 10
            mask = buffer[at:at + 4] if masked else b"\0\0\0\0"
            at += 4 if masked else 0
            if len(buffer) < at + length:
                return buffer
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(buffer[at:at + length]))
            buffer = buffer[at + length:]
            if opcode == 0x9:  # ping
                conn.sendall(_frame(0xA, data))
            elif opcode == 0x8:  # close
                conn.sendall(_frame(0x8, data[:2]))
            elif opcode == 0x1:
                with self._cond:
                    self.received.append(json.loads(data))
                    self._cond.notify_all()
        return buffer
