"""The scaled-out mode: rows handed to a real Celery worker over Redis, processed by the same handlers,
on PostgreSQL. A lost hand-off is recovered by the sweeper, as in the embedded mode."""

from __future__ import annotations

import os
import threading
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
    assert broker_length(scaled_hub, "inbox") == 3


def test_a_sweep_hands_out_again_what_the_broker_lost(scaled_hub: Hub) -> None:
    for n in range(3):
        inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event(f"EvGone{n}"), b"{}")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(broker_queue(scaled_hub.jobs.app, "inbox"))  # type: ignore[attr-defined]  # a restart without persistence
    finally:
        client.close()
    assert scaled_hub.sweep() == 3 and broker_length(scaled_hub, "inbox") == 3
