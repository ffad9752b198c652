"""The scaled-out mode: rows handed to a real Celery worker over Redis, processed by the same handlers,
on PostgreSQL. A lost hand-off is recovered by the sweeper, as in the embedded mode."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import replace
from typing import Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from app import Hub, build_hub
from config import load_settings
from core import inbox
from core.celery_jobs import CeleryQueue, broker_queue, make_celery, register_worker_task
from core.db import InboxEvent
from core.models import TicketEvent
from tests.conftest import _postgres_schema, settings_dict
from tests.test_inbox import make_event

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def scaled_hub() -> Iterator[Hub]:
    for url in _postgres_schema():
        hub = build_hub(load_settings(settings_dict(url, HUB_QUEUE="celery", HUB_BROKER_URL=REDIS_URL)))
        hub.jobs.app.conf.task_default_queue = f"hub-test-{uuid.uuid4().hex[:8]}"  # type: ignore[attr-defined]
        yield hub
        hub.close()
        client = redis.Redis.from_url(REDIS_URL)  # the test's broker queues and kombu's bindings of them
        left = list(client.scan_iter(f"*{hub.jobs.app.conf.task_default_queue}*"))  # type: ignore[attr-defined]
        if left:
            client.delete(*left)
        client.close()


def test_a_celery_worker_processes_what_the_web_side_stored(scaled_hub: Hub) -> None:
    assert isinstance(scaled_hub.jobs, CeleryQueue)
    seen: list[str] = []
    done = threading.Event()

    def handle(event: TicketEvent, row_id: int) -> None:
        seen.append(event.delivery_id)
        done.set()

    handlers = {"inbox": lambda row_id: inbox.process(scaled_hub.db, row_id, handle, 5)}
    register_worker_task(scaled_hub.jobs.app, handlers)
    app = scaled_hub.jobs.app
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=[broker_queue(app, "inbox")]):
        accepted = inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event("EvCelery"), b"{}")
        assert done.wait(timeout=30), "the worker did not process the event"
    assert seen == ["EvCelery"]
    with scaled_hub.db.session() as s:
        assert s.scalar(select(InboxEvent.status).where(InboxEvent.id == accepted.row_id)) == "done"


def test_a_lost_hand_off_stays_pending_for_the_sweeper(scaled_hub: Hub) -> None:
    broken = CeleryQueue(make_celery("redis://127.0.0.1:1/0"))  # nothing listens there
    accepted = inbox.accept(scaled_hub.db, broken, make_event("EvLost"), b"{}")
    with scaled_hub.db.session() as s:
        assert s.scalar(select(InboxEvent.status).where(InboxEvent.id == accepted.row_id)) == "pending"
    handed: list[tuple[str, int]] = []

    class Recorder:
        def submit(self, queue: str, row_id: int) -> None:
            handed.append((queue, row_id))

        def shutdown(self, wait: bool = True) -> None: ...

    assert replace(scaled_hub, jobs=Recorder()).sweep() == 1 and handed == [("inbox", accepted.row_id)]


def broker_length(hub: Hub, queue: str) -> int:
    """The messages waiting in ``queue``'s broker queue (a Redis list), read beside the hub."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.llen(broker_queue(hub.jobs.app, queue)))  # type: ignore[attr-defined]
    finally:
        client.close()


def test_sweeps_do_not_pile_copies_up_while_no_worker_runs(scaled_hub: Hub) -> None:
    # Workers down (or busy) for an hour, a sweep every few seconds: each sweep used to hand every due row out
    # again, so the broker held rows x sweeps copies that the workers had to chew through before new work.
    for n in range(3):
        inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event(f"EvPile{n}"), b"{}")
    for _ in range(4):
        scaled_hub.sweep()
    scaled_hub.jobs.shutdown()  # the publisher thread has handed everything submitted to the broker
    assert broker_length(scaled_hub, "inbox") == 3


def test_a_sweep_hands_out_again_what_the_broker_lost(scaled_hub: Hub) -> None:
    for n in range(3):
        inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event(f"EvGone{n}"), b"{}")
    scaled_hub.jobs.shutdown()  # published
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(broker_queue(scaled_hub.jobs.app, "inbox"))  # type: ignore[attr-defined]  # a restart without persistence
    finally:
        client.close()
    assert scaled_hub.sweep() == 3
    scaled_hub.jobs.shutdown()
    assert broker_length(scaled_hub, "inbox") == 3


class SilentBroker:
    """A TCP server that accepts connections and never answers (a paused or partitioned Redis: no reset, no
    reply). It drops its connections ``guard`` seconds after the first, so a blocked caller comes back at last."""

    def __init__(self, guard: float = 5.0) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.guard, self.gave_up = guard, threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        first: float | None = None
        while first is None or time.monotonic() - first < self.guard:
            try:
                self.conns.append(self.server.accept()[0])
                first = first or time.monotonic()
            except OSError:
                continue
        self.gave_up.set()
        for conn in self.conns:
            conn.close()
        self.server.close()


def test_an_acknowledgement_never_waits_for_a_broker_that_does_not_answer(scaled_hub: Hub) -> None:
    silent = SilentBroker()
    jobs = CeleryQueue(make_celery(silent.url))
    try:
        accepted = inbox.accept(scaled_hub.db, jobs, make_event("EvSilent"), b"{}")
        assert not silent.gave_up.is_set(), "the acknowledgement waited until the broker's connection dropped"
    finally:
        jobs.shutdown(wait=False)
    with scaled_hub.db.session() as s:  # stored: the sweeper hands it out once the broker answers again
        assert s.scalar(select(InboxEvent.status).where(InboxEvent.id == accepted.row_id)) == "pending"
