"""The scaled-out mode's brokers, read beside the hub: Redis and RabbitMQ on loopback (CI starts both; a broker
that is down fails the tests, it does not skip them), and fakes of brokers that stop answering."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Callable

import pytest
import redis
from kombu import Connection
from sqlalchemy import select

from core.db import Database, InboxEvent

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("HUB_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKERS = {"redis": REDIS_URL, "amqp": AMQP_URL}
CLOSED = {"redis": "redis://127.0.0.1:1/0", "amqp": "amqp://guest:guest@127.0.0.1:1//"}  # nothing listens there


def eventually(check: Callable[[], bool], seconds: float) -> bool:
    """Whether ``check`` comes true within ``seconds`` (asked every 0.1 s)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def inbox_status(db: Database, row_id: int) -> str | None:
    """The inbox row's status (``None``: no such row)."""
    with db.session() as s:
        return s.scalar(select(InboxEvent.status).where(InboxEvent.id == row_id))


def unique_prefix() -> str:
    """A ``HUB_BROKER_QUEUE_PREFIX`` of this test alone: two suites on one broker at once (two checkouts, CI
    jobs) neither take each other's hand-offs nor count each other's messages. Delete its queues afterwards
    (:func:`delete_queues`)."""
    return f"hub-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def require(url: str) -> None:
    """Fail the test, naming the broker, when nothing answers at ``url`` (never a skip: CI starts both)."""
    try:
        with Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as e:  # noqa: BLE001 - any reason is the same failure, named
        pytest.fail(f"no broker answers at {url.split('@')[-1]} ({e}): start it (.ci/run starts Redis and RabbitMQ)")


def queue_length(url: str, name: str) -> int:
    """The messages ready in broker queue ``name`` (a Redis list's length; a RabbitMQ queue's ready count, 0 when
    the queue does not exist)."""
    if url.startswith("redis"):
        client = redis.Redis.from_url(url)
        try:
            return int(client.llen(name))
        finally:
            client.close()
    with Connection(url, connect_timeout=5) as conn:
        try:
            return int(conn.default_channel.queue_declare(name, passive=True).message_count)
        except conn.channel_errors:
            return 0


def lose_messages(url: str, name: str) -> None:
    """Drop every message of broker queue ``name``, as a broker restarted without persistence does."""
    if url.startswith("redis"):
        client = redis.Redis.from_url(url)
        try:
            client.delete(name)
        finally:
            client.close()
        return
    with Connection(url, connect_timeout=5) as conn:
        conn.default_channel.queue_purge(name)


def delete_queue(url: str, name: str) -> None:
    """Delete broker queue ``name`` and its messages, as an operator does (``rabbitmqctl delete_queue``; on Redis,
    the queue's list), from a connection of its own: the hub's connections are not told."""
    if url.startswith("redis"):
        lose_messages(url, name)
        return
    with Connection(url, connect_timeout=5) as conn:
        conn.default_channel.queue_delete(name)


def delete_queues(url: str, prefix: str) -> None:
    """Delete a test's broker queues (``prefix``, ``prefix.inbox``, ``prefix.outbox``) and what binds them."""
    if url.startswith("redis"):
        client = redis.Redis.from_url(url)  # the queues' lists and kombu's bindings of them
        try:
            left = list(client.scan_iter(f"*{prefix}*"))
            if left:
                client.delete(*left)
        finally:
            client.close()
        return
    with Connection(url, connect_timeout=5) as conn:
        channel = conn.default_channel
        for name in (prefix, f"{prefix}.inbox", f"{prefix}.outbox"):
            channel.queue_delete(name)  # NOTE(rabbitmq): deleting a queue or exchange that is not there is no error
            channel.exchange_delete(name)


class SilentBroker:
    """A TCP server that accepts connections and never answers (a paused or partitioned broker: no reset, no
    reply). It drops its connections ``guard`` seconds after the first, or at :meth:`close`, so a blocked caller
    comes back at last."""

    def __init__(self, scheme: str, guard: float = 5.0) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        port = self.server.getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/0" if scheme == "redis" else f"amqp://guest:guest@127.0.0.1:{port}//"
        self.guard, self.gave_up, self._closing = guard, threading.Event(), threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        """Drop the connections and stop listening (within a fraction of a second)."""
        self._closing.set()
        self.gave_up.wait(5)

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        first: float | None = None
        while (first is None or time.monotonic() - first < self.guard) and not self._closing.is_set():
            try:
                self.conns.append(self.server.accept()[0])
                first = first or time.monotonic()
            except OSError:
                continue
        self.gave_up.set()
        for conn in self.conns:
            conn.close()
        self.server.close()


def _proxied(url: str, server: socket.socket) -> tuple[tuple[str, int], str]:
    """The broker address of ``url`` and the same URL pointing at ``server``, a proxy in front of it."""
    scheme, rest = url.split("://", 1)
    credentials, _, hostport_path = rest.rpartition("@")
    hostport, _, path = hostport_path.partition("/")
    host, _, port = hostport.partition(":")
    at = f"{credentials}@" if credentials else ""
    return (host, int(port)), f"{scheme}://{at}127.0.0.1:{server.getsockname()[1]}/{path}"


class StallingProxy:
    """A loopback TCP proxy in front of a broker whose :meth:`stall` silences the connections open at that moment
    (no byte forwarded either way, nothing closed: a broker paused, or a partition, as seen from the hub's side)
    while new connections reach the broker as before (it answers again, or a failover took over)."""

    def __init__(self, url: str) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.target, self.url = _proxied(url, self.server)
        self.stalled: list[socket.socket] = []
        self._live: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        """Stop forwarding on every connection open now, keeping them open."""
        with self._lock:
            for client, upstream, silent in self._live:
                silent.set()
                self.stalled += [client, upstream]
            self._live = []

    def close(self) -> None:
        self.server.close()
        with self._lock:
            for client, upstream, _ in self._live:
                client.close()
                upstream.close()
            for sock in self.stalled:
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client = self.server.accept()[0]
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            silent = threading.Event()
            with self._lock:
                self._live.append((client, upstream, silent))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, silent), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, silent: threading.Event) -> None:
        src.settimeout(0.1)
        while not silent.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if silent.is_set():
                return
            if not data:
                dst.close()
                return
            try:
                dst.sendall(data)
            except OSError:
                return


class PausedBroker:
    """A loopback TCP proxy in front of a broker that starts paused: it accepts connections and forwards nothing
    either way (a broker stopped with SIGSTOP, or a partition, as seen from the hub: no reply, no reset) until
    :meth:`resume`, from when every connection, those it held too, reaches the broker (the broker answers again)."""

    def __init__(self, url: str) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.target, self.url = _proxied(url, self.server)
        self.resumed, self._closing = threading.Event(), threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def resume(self) -> None:
        """Forward every connection, held and new, to the broker from now on."""
        self.resumed.set()

    def close(self) -> None:
        """Drop every connection and stop listening (within a fraction of a second)."""
        self._closing.set()
        self.resumed.set()
        with self._lock:
            for sock in self._socks:
                _drop(sock)

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self._closing.is_set():
            try:
                client = self.server.accept()[0]
            except OSError:
                continue
            client.settimeout(None)
            with self._lock:
                self._socks.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()
        self.server.close()

    def _serve(self, client: socket.socket) -> None:
        self.resumed.wait()  # what the client sent meanwhile waits in its socket, as in a paused broker's
        if self._closing.is_set():
            return
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            _drop(client)
            return
        with self._lock:
            self._socks.append(upstream)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                _drop(dst)  # the other side's end: its pipe sees it and drops this one
                return
            try:
                dst.sendall(data)
            except OSError:
                _drop(src)
                return


def _drop(sock: socket.socket) -> None:
    """Close ``sock``, waking a thread that waits on it (a bare close does not, on Linux)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
