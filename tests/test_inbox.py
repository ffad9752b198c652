"""The durable inbox: stored once per delivery, processed, recovered after a crash. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from core import inbox, work
from core.db import Database, InboxEvent
from core.errors import NotFound, Retriable
from core.jobs import InlineQueue
from core.models import EventKind, Message, Person, Source, TicketEvent, TicketRef, utcnow


class RecordingQueue:
    """A job queue that only records what was handed to it (the crash case: nothing runs)."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, int]] = []

    def submit(self, queue: str, row_id: int) -> None:
        self.submitted.append((queue, row_id))

    def shutdown(self, wait: bool = True) -> None:
        pass


def make_event(delivery_id: str = "Ev1", text: str = "How do I reset my password?") -> TicketEvent:
    ref = TicketRef(Source.SLACK, "T1:C1:1700000000.000100")
    author = Person("U1", "Ada", "ada@example.com")
    return TicketEvent(Source.SLACK, delivery_id, EventKind.CREATED, ref, Message("1700000000.000100", author, text))


def rows(db: Database) -> list[InboxEvent]:
    with db.session() as s:
        return list(s.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def test_accept_stores_the_event_with_its_raw_body_and_schedules_it(database_url: str) -> None:
    db, jobs = Database(database_url), RecordingQueue()
    accepted = inbox.accept(db, jobs, make_event(), b'{"raw": true}')
    assert not accepted.duplicate
    [row] = rows(db)
    assert (row.source, row.delivery_id, row.kind, row.status) == ("slack", "Ev1", "created", "pending")
    assert row.raw_body == '{"raw": true}'
    assert row.event["message"]["text"] == "How do I reset my password?"
    assert jobs.submitted == [("inbox", row.id)]
    db.dispose()


def test_a_duplicate_delivery_is_a_counted_no_op(database_url: str) -> None:
    db, jobs = Database(database_url), RecordingQueue()
    first = inbox.accept(db, jobs, make_event(), b"{}")
    again = inbox.accept(db, jobs, make_event(), b"{}")
    assert again.duplicate and again.row_id == first.row_id
    [row] = rows(db)
    assert row.duplicates == 1
    assert jobs.submitted == [("inbox", first.row_id)]  # nothing new scheduled
    db.dispose()


def test_concurrent_duplicate_deliveries_make_one_row(database_url: str) -> None:
    db, jobs = Database(database_url), RecordingQueue()
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def deliver() -> None:
        barrier.wait()
        results.append(inbox.accept(db, jobs, make_event("EvSame"), b"{}"))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert sum(not r.duplicate for r in results) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InboxEvent)) == 1
        assert s.scalar(select(InboxEvent.duplicates)) == 3
    assert len(jobs.submitted) == 1
    db.dispose()


def test_a_crash_between_storing_and_processing_is_recovered_by_the_sweeper(database_url: str) -> None:
    db = Database(database_url)
    lost = RecordingQueue()  # the process "crashed": the hand-off never ran
    accepted = inbox.accept(db, lost, make_event(), b"{}")
    handled: list[str] = []
    queue = InlineQueue({"inbox": lambda row_id: inbox.process(db, row_id, lambda e, _id, **_: handled.append(e.delivery_id), 5)})
    for row_id in work.due_ids(db, InboxEvent):  # what Hub.sweep does after a restart
        queue.submit("inbox", row_id)
    queue.drain()
    assert handled == ["Ev1"]
    assert rows(db)[0].status == "done"
    assert work.due_ids(db, InboxEvent) == []
    queue.shutdown()
    db.dispose()


def test_a_worker_that_died_mid_job_leaves_a_lease_the_sweeper_takes_back(database_url: str) -> None:
    db = Database(database_url)
    accepted = inbox.accept(db, RecordingQueue(), make_event(), b"{}")
    assert work.claim(db, InboxEvent, accepted.row_id)  # a worker took it, then died
    assert work.due_ids(db, InboxEvent) == []  # still leased
    later = utcnow() + work.LEASE + timedelta(seconds=1)
    assert work.due_ids(db, InboxEvent, now=later) == [accepted.row_id]
    assert inbox.process(db, accepted.row_id, lambda e, _id, **_: None, 5, now=later) == "done"
    assert rows(db)[0].attempts == 2
    db.dispose()


def test_a_claimed_row_is_not_processed_twice(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    accepted = inbox.accept(db, RecordingQueue(), make_event(), b"{}")
    calls: list[int] = []
    assert inbox.process(db, accepted.row_id, lambda e, row_id, **_: calls.append(row_id), 5) == "done"
    assert inbox.process(db, accepted.row_id, lambda e, row_id, **_: calls.append(row_id), 5) is None
    assert calls == [accepted.row_id]
    db.dispose()


def test_a_vendor_outage_retries_with_backoff_until_the_horizon_then_fails_visibly(database_url: str) -> None:
    db = Database(database_url)
    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id
    received = rows(db)[0].received_at
    horizon = timedelta(hours=1)

    def broken(event: TicketEvent, _id: int, **_: bool) -> None:
        raise Retriable("vendor down")

    now = received
    assert inbox.process(db, row_id, broken, max_attempts=2, now=now, horizon=horizon) == "pending"
    row = rows(db)[0]
    assert row.next_attempt_at == now + timedelta(seconds=2)
    assert "vendor down" in (row.last_error or "")
    assert inbox.process(db, row_id, broken, max_attempts=2, now=now + timedelta(seconds=1), horizon=horizon) is None  # not due
    # max_attempts (2) does not end a retriable failure: only the horizon does.
    for _ in range(10):
        now = rows(db)[0].next_attempt_at
        assert inbox.process(db, row_id, broken, max_attempts=2, now=now, horizon=horizon) == "pending"
    assert inbox.process(db, row_id, broken, max_attempts=2, now=received + horizon, horizon=horizon) == "failed"
    failed = rows(db)[0]
    assert failed.attempts == 12 and "retry horizon" in (failed.last_error or "")
    db.dispose()


def test_a_vanished_ticket_is_skipped_and_recorded(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id

    def gone(event: TicketEvent, _id: int, **_: bool) -> None:
        raise NotFound("ticket 42 was deleted")

    assert inbox.process(db, row_id, gone, 5) == "skipped"
    assert "deleted" in (rows(db)[0].last_error or "")
    db.dispose()


def test_vendor_writes_do_not_queue_behind_inbox_work() -> None:
    release = threading.Event()
    ran: list[str] = []
    queue = InlineQueue(
        {"inbox": lambda row_id: release.wait(60) and ran.append(f"inbox {row_id}"),
         "outbox": lambda row_id: ran.append(f"outbox {row_id}")},
        pool_sizes={"inbox": 2, "outbox": 1},
    )
    for row_id in range(50):  # a backlog of inbox work, every inbox thread busy
        queue.submit("inbox", row_id)
    queue.submit("inbox", 3)  # already waiting: not queued twice
    queue.submit("outbox", 7)
    deadline = time.monotonic() + 30  # a wait, not a timing: the inbox jobs hold until released
    while "outbox 7" not in ran and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ran == ["outbox 7"]  # the answer went out while all 50 inbox jobs still waited
    assert queue.backlog()["inbox"] == 50  # all still waiting or running
    release.set()
    queue.drain()
    assert sorted(ran) == sorted(["outbox 7", *(f"inbox {n}" for n in range(50))])
    queue.shutdown()
