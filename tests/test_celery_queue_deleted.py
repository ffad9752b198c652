"""A running `hub worker` whose RabbitMQ queue an operator deletes (``rabbitmqctl delete_queue``, an AMQP
``queue.delete``): RabbitMQ cancels its consumer (basic.cancel). The hand-offs the queue held are lost with it; their
rows stay ``pending`` and the sweeper hands them out again, and the worker takes them and every new hand-off, each row
once.

NOTE(celery): py-amqp raises ``ConsumerCancelled`` for a cancel with no callback, a recoverable connection error:
Celery's consumer takes it for a lost connection, reconnects and declares its queues again (about a second, its
``mingle`` step). The web side's publishes do not declare the queue again (kombu declares once per connection): one
published before the worker's or a sweep's declare (``CeleryQueue.waiting``) goes nowhere, and its row waits for the
sweeper like the ones the queue held."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable

from kombu import Connection
from sqlalchemy import select, text

from core import inbox, queues
from core.celery_jobs import CeleryQueue, broker_queue, make_celery
from core.db import Database, InboxEvent
from core.models import EventKind, Message, Person, Source, TicketEvent, TicketRef
from tests.brokers import AMQP_URL, delete_queues, queue_length, require, unique_prefix
from tests.conftest import _postgres_schema
from tests.test_inbox import RecordingQueue
from tests.test_metrics_shared import BIN, WAIT_SECONDS, hub_env, started

RECOVER_SECONDS = 60  # a generous bound on the worker taking work again after its queue was deleted


def event(n: int) -> TicketEvent:
    """A request of a ticket of its own (one request decision each), delivery ``EvDeleted<n>``."""
    ts = f"17000000{n:02d}.000100"
    ref = TicketRef(Source.SLACK, f"T1:C1:{ts}")
    return TicketEvent(Source.SLACK, f"EvDeleted{n}", EventKind.CREATED, ref,
                       Message(ts, Person("U1", "Ada", "ada@example.com"), "How do I reset my password?"))


def test_a_worker_whose_queue_was_deleted_takes_the_lost_and_the_new_hand_offs_once(tmp_path: Path) -> None:
    require(AMQP_URL)
    prefix, log = unique_prefix(), tmp_path / "worker.log"
    for database_url in _postgres_schema():
        env = hub_env(tmp_path, HUB_DATABASE_URL=database_url, HUB_QUEUE="celery", HUB_BROKER_URL=AMQP_URL,
                      HUB_BROKER_QUEUE_PREFIX=prefix)
        del env["PROMETHEUS_MULTIPROC_DIR"]  # counts are not what this test is about
        db, jobs = Database(database_url), CeleryQueue(make_celery(AMQP_URL, prefix))
        name = broker_queue(jobs.app, "inbox")
        try:
            with started([[str(BIN / "hub"), "worker", "--concurrency", "1", "--queues", "inbox"]], env, log) as procs:
                first = inbox.accept(db, jobs, event(0), b"{}").row_id
                _wait(lambda: _status(db, first) == "done", WAIT_SECONDS, procs[0], log)  # it consumes
                stored = RecordingQueue()  # stored first, handed to the broker below
                before = [inbox.accept(db, stored, event(n), b"{}").row_id for n in (1, 2, 3)]
                with db.engine.connect() as blocker:
                    # The worker's one thread waits on the first of these rows (its claim waits for this row lock;
                    # prefetch 1): the others' hand-offs wait in the queue when it is deleted, and are lost.
                    blocker.execute(text("SELECT id FROM inbox_events WHERE id = :id FOR UPDATE"), {"id": before[0]})
                    for _, row in stored.submitted:
                        jobs.submit("inbox", row)
                    _wait(lambda: queue_length(AMQP_URL, name) == 2, 30, procs[0], log)
                    with Connection(AMQP_URL, connect_timeout=5) as conn:
                        conn.default_channel.queue_delete(name)  # the operator's delete: the consumer is cancelled
                    blocker.rollback()
                after = [inbox.accept(db, jobs, event(n), b"{}").row_id for n in (4, 5)]
                rows = [first, *before, *after]

                def all_done() -> bool:
                    queues.sweep(db, jobs)  # the scheduler's sweep: what the queue lost is pending and due
                    return all(_status(db, row) == "done" for row in rows)

                _wait(all_done, RECOVER_SECONDS, procs[0], log, every=2.0)
            with db.session() as s:
                # done, each claimed once (a claim counts an attempt; a second hand-off of a done row is refused)
                assert {r.id: (r.status, r.attempts) for r in s.scalars(select(InboxEvent))} == {r: ("done", 1) for r in rows}
        finally:
            jobs.shutdown(wait=False)
            db.dispose()
            delete_queues(AMQP_URL, prefix)


def _status(db: Database, row_id: int) -> str | None:
    with db.session() as s:
        return s.scalar(select(InboxEvent.status).where(InboxEvent.id == row_id))


def _wait(check: Callable[[], bool], seconds: float, worker: subprocess.Popen[bytes], log: Path, every: float = 0.2) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert worker.poll() is None, log.read_text()[-3000:]
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"not within {seconds} s: {log.read_text()[-5000:]}")
