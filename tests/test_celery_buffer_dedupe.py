"""The publisher's buffer over a broker outage: every sweep hands every due row out again while the broker does
not answer, and the publisher gets through one hand-off per broker wait, so the buffer filled with copies of the
same rows and a new request's hand-off was dropped from it; the broker, once back, received every copy. A
hand-off already waiting is now buffered once, and each row reaches the broker's ``<prefix>.inbox`` and is done
once."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from core import inbox, queues
from core.celery_jobs import CeleryQueue, broker_queue, make_celery, register_worker_task
from core.db import Database, InboxEvent
from core.models import TicketEvent
from tests.brokers import BROKERS, PausedBroker, SilentBroker, queue_length, unique_prefix
from tests.test_celery import broker, prefix  # noqa: F401 (fixtures: each broker; a queue prefix of the test's own)
from tests.test_celery_silent_broker import db  # noqa: F401 (fixture: a PostgreSQL database)
from tests.test_inbox import make_event

ROWS = 4  # due rows over the outage
ROUNDS = 3  # sweeps while the broker does not answer (each waits out one broker count: 5 s AMQP, 10 s Redis)


def statuses(db: Database, rows: list[int]) -> dict[int, str]:
    with db.session() as s:
        return {row_id: status for row_id, status in s.execute(select(InboxEvent.id, InboxEvent.status).where(InboxEvent.id.in_(rows)))}


def test_sweeps_during_an_outage_buffer_each_row_once_and_the_broker_gets_each_once_back(
    db: Database, broker: str, prefix: str
) -> None:
    paused = PausedBroker(BROKERS[broker])
    # Room for the due rows and one new request: enough only if the buffer holds no copies.
    jobs = CeleryQueue(make_celery(paused.url, prefix), buffer=ROWS + 1)
    worker_app = make_celery(BROKERS[broker], prefix)  # the workers reach the broker on their own connections
    seen: list[str] = []
    taken: list[int] = []

    def handle(event: TicketEvent, row_id: int, **_: bool) -> None:
        seen.append(event.delivery_id)

    def process(row_id: int) -> None:
        taken.append(row_id)  # every hand-off the broker delivered, copies too
        inbox.process(db, row_id, handle, 5)

    register_worker_task(worker_app, {"inbox": process})
    try:
        rows = [inbox.accept(db, jobs, make_event(f"EvOutage{n}"), b"{}").row_id for n in range(ROWS)]
        for _ in range(ROUNDS):
            assert queues.sweep(db, jobs) == ROWS  # the count cannot be had: every due row is handed to the queue
            assert jobs.waiting_handoffs() <= ROWS, "the buffer holds copies of the same rows"
        assert set(statuses(db, rows).values()) == {"pending"}  # nothing lost meanwhile

        late = inbox.accept(db, jobs, make_event("EvDuringOutage"), b"{}").row_id  # a new request, still buffered
        assert jobs.waiting_handoffs() <= ROWS + 1

        paused.resume()
        with start_worker(worker_app, pool="solo", perform_ping_check=False, shutdown_timeout=30,
                          queues=[broker_queue(worker_app, "inbox")]):
            # no sweep yet: the new request's hand-off waited in the buffer and reaches the broker by itself
            assert _eventually(lambda: statuses(db, [late]) == {late: "done"}, seconds=60), "the new request's hand-off was lost"
            # the rows whose publish failed during the outage are pending: the sweeps hand them out again
            assert _eventually(lambda: _swept_until_done(db, jobs, rows), seconds=60, every=2.0), statuses(db, rows)
    finally:
        jobs.shutdown(wait=False)
        paused.close()

    assert sorted(seen) == sorted([f"EvOutage{n}" for n in range(ROWS)] + ["EvDuringOutage"])  # each done once
    assert set(taken) == set(rows) | {late}
    assert len(taken) <= 2 * (ROWS + 1), f"the broker delivered {len(taken)} hand-offs for {ROWS + 1} rows"
    assert queue_length(BROKERS[broker], f"{prefix}.inbox") == 0


def test_a_duplicate_submit_is_no_overflow_and_a_real_overflow_still_warns(broker: str, caplog: pytest.LogCaptureFixture) -> None:
    silent = SilentBroker(broker, guard=60)  # the publisher is stuck in its first publish for the whole test
    jobs = CeleryQueue(make_celery(silent.url, unique_prefix()), buffer=ROWS)
    try:
        with caplog.at_level(logging.DEBUG, logger="core.celery_jobs"):
            threads = [threading.Thread(target=_submit_all, args=(jobs, range(1, ROWS + 1), 50)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert ROWS - 1 <= jobs.waiting_handoffs() <= ROWS  # one each (the publisher may hold one)
            for row_id in (ROWS + 1, ROWS + 2):  # the buffer holds at least ROWS - 1 rows: one of these overflows
                jobs.submit("inbox", row_id)
    finally:
        jobs.shutdown(wait=False)
        silent.close()
    full = [r for r in caplog.records if r.getMessage() == "jobs.celery.buffer-full"]
    assert full and {r.row_id for r in full} <= {ROWS + 1, ROWS + 2}  # type: ignore[attr-defined]
    duplicates = [r for r in caplog.records if r.getMessage() == "jobs.celery.submit-duplicate"]
    assert len(duplicates) == 4 * 50 * ROWS - ROWS and {r.levelno for r in duplicates} == {logging.DEBUG}


def _swept_until_done(db: Database, jobs: CeleryQueue, rows: list[int]) -> bool:
    """One round of the scheduler: a sweep, then whether every row is done."""
    queues.sweep(db, jobs)
    return set(statuses(db, rows).values()) == {"done"}


def _submit_all(jobs: CeleryQueue, row_ids: range, times: int) -> None:
    for _ in range(times):
        for row_id in row_ids:
            jobs.submit("inbox", row_id)


def _eventually(check: Callable[[], bool], seconds: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True
