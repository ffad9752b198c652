"""A hand-off published after its broker queue was deleted (``rabbitmqctl delete_queue``, a non-durable queue lost)
reaches a worker without waiting for a sweep, whether none consumed the queue then or one was running, and every
row is processed once, the sweep's hand-off of what the deleted queue held included. On both brokers, on PostgreSQL.

NOTE(kombu): the publisher's connection had declared the queue, and kombu declares a queue once per connection: the
hand-offs that followed the delete went to an exchange bound to nothing, and RabbitMQ dropped them (and confirmed
them) until a sweep counted the queue and declared it again. They are now published ``mandatory``: RabbitMQ returns
the first (basic.return, 312 NO_ROUTE), which the hub publishes once more on a connection that declares the queue.
Redis never had the gap: a publish pushes onto a list, which creates it."""

from __future__ import annotations

import logging

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from core import inbox, queues
from core.celery_jobs import CeleryQueue, broker_queue, make_celery, register_worker_task
from core.db import Database, InboxEvent
from core.models import TicketEvent
from tests.brokers import BROKERS, delete_queue, delete_queues, eventually, inbox_status, queue_length, require, unique_prefix
from tests.conftest import _postgres_schema
from tests.test_inbox import make_event

AFTER = 3  # hand-offs published after the delete: the first comes back on RabbitMQ, the others find the queue


# The delete under the running worker cancels its consumer, which Celery takes for a lost connection and warns, with
# acks late, that a later Celery will cancel running tasks then (none runs here).
@pytest.mark.filterwarnings("ignore:(?s).*worker_cancel_long_running_tasks_on_connection_loss")
@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_hand_offs_published_after_their_queue_was_deleted_reach_a_worker_once(
        broker: str, caplog: pytest.LogCaptureFixture) -> None:
    url, prefix = BROKERS[broker], unique_prefix()
    require(url)
    caplog.set_level(logging.INFO, logger="core.celery_jobs")
    for database_url in _postgres_schema():
        db, jobs = Database(database_url), CeleryQueue(make_celery(url, prefix))
        name = broker_queue(jobs.app, "inbox")
        seen: list[str] = []

        def handle(event: TicketEvent, row_id: int, **_: bool) -> None:
            seen.append(event.delivery_id)

        register_worker_task(jobs.app, {"inbox": lambda row_id: inbox.process(db, row_id, handle, 5)})
        try:
            lost = inbox.accept(db, jobs, make_event("EvLost"), b"{}").row_id
            jobs.shutdown()  # published: the publisher's connection has declared the queue
            assert queue_length(url, name) == 1
            delete_queue(url, name)  # the operator's delete, while no worker consumes (workers down or restarting)
            after = [inbox.accept(db, jobs, make_event(f"EvAfter{n}"), b"{}").row_id for n in range(AFTER)]
            jobs.shutdown()  # published, or given up
            # In the broker at once: no sweeper runs in this test (the old code left the queue missing, 0 here).
            assert queue_length(url, name) == AFTER
            returned = [r for r in caplog.records if r.msg == "jobs.celery.submit-returned"]
            assert len(returned) == (1 if broker == "amqp" else 0)
            assert not [r for r in caplog.records if r.msg == "jobs.celery.submit-failed"]

            app = jobs.app
            with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[name]):
                assert eventually(lambda: all(inbox_status(db, row) == "done" for row in after), seconds=30)
                assert inbox_status(db, lost) == "pending"  # lost with the queue: the sweep's to hand out again
                assert queues.sweep(db, jobs) == 1  # the scheduler's next round: only the lost row is due
                assert eventually(lambda: inbox_status(db, lost) == "done", seconds=30)
                delete_queue(url, name)  # again, under the running worker (RabbitMQ cancels its consumer)
                running = inbox.accept(db, jobs, make_event("EvRunning"), b"{}").row_id  # published at once
                assert eventually(lambda: inbox_status(db, running) == "done", seconds=30)  # and no sweep
            with db.session() as s:  # each claimed once (a claim counts an attempt), each processed once
                assert {r.id: (r.status, r.attempts) for r in s.scalars(select(InboxEvent))} == {
                    row: ("done", 1) for row in [lost, *after, running]}
            assert sorted(seen) == sorted(["EvLost", *(f"EvAfter{n}" for n in range(AFTER)), "EvRunning"])
        finally:
            jobs.shutdown(wait=False)
            db.dispose()
            delete_queues(url, prefix)

