"""A running `hub worker` (four threads, as deployed) whose RabbitMQ queue an operator deletes (``rabbitmqctl
delete_queue``, an AMQP ``queue.delete``) while its threads are busy: RabbitMQ cancels its consumer (basic.cancel),
Celery takes that for a lost connection and consumes again on a new one, declaring the queue anew. The same worker
then takes every later hand-off, and the sweeper's for those the queue held, each row once, without losing its new
connection again.

NOTE(celery): after a reconnect with tasks running, Celery lowered the prefetch count and raised it again as each of
those tasks was acknowledged, with a ``basic.qos`` call made from the pool thread that ran the task, on the connection
the event loop reads (celery/worker/consumer/consumer.py, ``_restore_prefetch_count_after_connection_restart``): two
threads read one AMQP connection, and the worker hung in ``basic.qos`` until the socket's read timeout (10 s) or the
broker dropped it (minutes), or read a garbled frame, and lost its connection a second time."""

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
from tests.brokers import AMQP_URL, delete_queues, inbox_status, queue_length, require, unique_prefix
from tests.conftest import _postgres_schema
from tests.test_inbox import RecordingQueue
from tests.test_metrics_shared import BIN, WAIT_SECONDS, hub_env, started

THREADS = 4  # `hub worker`'s default --concurrency
LOST = "Connection to broker lost"  # Celery's warning each time the worker's consumer gives its connection up


def event(n: int) -> TicketEvent:
    """A request of a ticket of its own (one request decision each), delivery ``EvDeleted<n>``."""
    ts = f"17000000{n:02d}.000100"
    ref = TicketRef(Source.SLACK, f"T1:C1:{ts}")
    return TicketEvent(Source.SLACK, f"EvDeleted{n}", EventKind.CREATED, ref,
                       Message(ts, Person("U1", "Ada", "ada@example.com"), "How do I reset my password?"))


def test_a_busy_worker_whose_queue_was_deleted_takes_the_later_hand_offs_once(tmp_path: Path) -> None:
    require(AMQP_URL)
    prefix, log = unique_prefix(), tmp_path / "worker.log"
    for database_url in _postgres_schema():
        env = hub_env(tmp_path, HUB_DATABASE_URL=database_url, HUB_QUEUE="celery", HUB_BROKER_URL=AMQP_URL,
                      HUB_BROKER_QUEUE_PREFIX=prefix)
        del env["PROMETHEUS_MULTIPROC_DIR"]  # counts are not what this test is about
        db, jobs = Database(database_url), CeleryQueue(make_celery(AMQP_URL, prefix))
        name = broker_queue(jobs.app, "inbox")
        try:
            command = [str(BIN / "hub"), "worker", "--concurrency", str(THREADS), "--queues", "inbox"]
            with started([command], env, log) as procs:
                worker = procs[0]
                first = inbox.accept(db, jobs, event(0), b"{}").row_id
                _wait(lambda: inbox_status(db, first) == "done", worker, log)  # it consumes
                stored = RecordingQueue()  # stored first, handed to the broker below
                busy = [inbox.accept(db, stored, event(n), b"{}").row_id for n in range(1, THREADS + 2)]
                with db.engine.connect() as blocker:
                    # Each of the worker's threads waits on one of these rows (its claim waits for the row lock;
                    # prefetch 1 a thread); the last row's hand-off waits in the queue, and is lost with it.
                    blocker.execute(text("SELECT id FROM inbox_events WHERE id = ANY(:ids) FOR UPDATE"), {"ids": busy})
                    for _, row in stored.submitted:
                        jobs.submit("inbox", row)
                    _wait(lambda: queue_length(AMQP_URL, name) == 1, worker, log)
                    with Connection(AMQP_URL, connect_timeout=5) as conn:
                        conn.default_channel.queue_delete(name)  # the operator's delete: the consumer is cancelled
                    blocker.rollback()  # the busy threads finish, and their tasks are acknowledged
                _wait(lambda: all(inbox_status(db, row) == "done" for row in busy[:THREADS]), worker, log)
                _wait(lambda: _consumers(name) > 0, worker, log)  # the worker consumes again
                later = [inbox.accept(db, jobs, event(n), b"{}").row_id for n in range(THREADS + 2, THREADS + 5)]
                _wait(lambda: all(inbox_status(db, row) == "done" for row in later), worker, log)

                def all_done() -> bool:
                    queues.sweep(db, jobs)  # the scheduler's sweep: the hand-off the queue held is lost, its row due
                    return inbox_status(db, busy[-1]) == "done"

                _wait(all_done, worker, log, every=2.0)
            with db.session() as s:
                # done, each claimed once (a claim counts an attempt; a second hand-off of a done row is refused)
                assert {r.id: (r.status, r.attempts) for r in s.scalars(select(InboxEvent))} == {
                    row: ("done", 1) for row in [first, *busy, *later]}
            assert log.read_text().count(LOST) == 1, log.read_text()[-5000:]  # the cancel's, and no other
        finally:
            jobs.shutdown(wait=False)
            db.dispose()
            delete_queues(AMQP_URL, prefix)



def _consumers(name: str) -> int:
    """How many consumers broker queue ``name`` has (0 while it does not exist)."""
    with Connection(AMQP_URL, connect_timeout=5) as conn:
        try:
            return int(conn.default_channel.queue_declare(name, passive=True).consumer_count)
        except conn.channel_errors:
            return 0


def _wait(check: Callable[[], bool], worker: subprocess.Popen[bytes], log: Path, every: float = 0.2) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert worker.poll() is None, log.read_text()[-3000:]
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"not within {WAIT_SECONDS} s: {log.read_text()[-5000:]}")
