"""Two holders of one row: a worker whose lease lapsed while it still worked (the database was unreachable
longer than a lease, so the heartbeat could not renew; the process was paused) and the worker the sweeper
handed the row to meanwhile. Only the holder of the newest claim changes the row, renews its lease or makes its
vendor write. SQLite and PostgreSQL.

The second worker runs inside the first one's attempt: inside the event handler (a test's own callable), or,
for vendor writes, in a SQLAlchemy ``after_commit`` hook of the transaction in which the first worker read the
row it had claimed, i.e. after its claim and before its write. Its clock (``now``) is one lease ahead, so the
first worker's lease has lapsed for it. Slack is the local stub server; nothing of the hub is patched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import Hub, build_hub
from config import load_settings
from core import inbox, outbox, work
from core.db import Database, InboxEvent, OutboxAction
from core.errors import Fatal, Retriable
from core.heartbeat import Heartbeat
from core.models import utcnow
from tests.slack_stub import SlackStub, slack_settings
from tests.test_inbox import RecordingQueue, make_event

THREAD = "slack:T1:C1:1700000000.000100"


def later() -> datetime:
    """A clock one lease (and a second) ahead: every lease taken now has lapsed on it."""
    return utcnow() + work.LEASE + timedelta(seconds=1)


def inbox_row(db: Database, row_id: int) -> InboxEvent:
    with db.session() as s:
        return s.get_one(InboxEvent, row_id)


def outbox_row(db: Database, row_id: int) -> OutboxAction:
    with db.session() as s:
        return s.get_one(OutboxAction, row_id)


def lost(queue: str, at: str) -> float:
    return REGISTRY.get_sample_value("hub_leases_lost_total", {"queue": queue, "at": at}) or 0.0


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


# -- inbox: finish and heartbeat ------------------------------------------------------------------------


def test_a_stale_finish_does_not_mark_done_what_the_new_holder_retries(db: Database) -> None:
    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id
    second: list[str | None] = []

    def vendor_down(event: Any, _id: int, **_: bool) -> None:
        raise Retriable("503 Service Unavailable")

    def first(event: Any, _id: int, **_: bool) -> None:  # its lease lapses while it works; the sweeper hands the row out
        second.append(inbox.process(db, row_id, vendor_down, 5, now=later()))

    before = lost("inbox", "finish")
    assert inbox.process(db, row_id, first, 5) is None  # the first worker no longer holds the row: nothing stored
    assert second == ["pending"]
    row = inbox_row(db, row_id)
    assert (row.status, row.attempts) == ("pending", 2)  # the retry the second worker scheduled stands
    assert row.last_error is not None and "503" in row.last_error and row.finished_at is None
    assert lost("inbox", "finish") == before + 1


def test_a_stale_finish_does_not_put_back_to_pending_what_the_new_holder_finished(db: Database) -> None:
    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id
    handled: list[str] = []

    def first(event: Any, _id: int, **_: bool) -> None:
        assert inbox.process(db, row_id, lambda e, _i, **_: handled.append("second"), 5, now=later()) == "done"
        raise Retriable("timed out")  # the first worker's own attempt then fails

    assert inbox.process(db, row_id, first, 5) is None
    row = inbox_row(db, row_id)
    assert (row.status, row.last_error) == ("done", None)  # not handed out a third time
    assert handled == ["second"] and work.due_ids(db, InboxEvent, now=later() + timedelta(hours=1)) == []


def test_a_stale_heartbeat_does_not_renew_the_new_holders_lease(db: Database) -> None:
    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id
    first_heartbeat = Heartbeat(db, work.LEASE)
    seen: list[tuple[datetime | None, int, datetime | None]] = []

    def second(event: Any, _id: int, **_: bool) -> None:
        taken = inbox_row(db, row_id).locked_until
        renewed = first_heartbeat.beat()  # the first worker's heartbeat thread wakes up
        seen.append((taken, renewed, inbox_row(db, row_id).locked_until))

    def first(event: Any, _id: int, **_: bool) -> None:
        inbox.process(db, row_id, second, 5, now=later())

    before = lost("inbox", "heartbeat")
    inbox.process(db, row_id, first, 5, heartbeat=first_heartbeat)
    [(taken, renewed, after)] = seen
    assert renewed == 0 and after == taken  # the second worker's lease is its own
    assert lost("inbox", "heartbeat") == before + 1
    first_heartbeat.stop()


def test_a_token_is_not_repeated_after_a_row_is_re_queued(db: Database) -> None:
    """``attempts`` starts again from 0 when an admin re-queues a failed row: it cannot be the claim's token."""
    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id
    third: list[int | None] = []

    def fails(event: Any, _id: int, **_: bool) -> None:
        raise Fatal("403 Forbidden")

    def first(event: Any, _id: int, **_: bool) -> None:  # first claim: attempt 1
        assert inbox.process(db, row_id, fails, 5, now=later()) == "failed"  # attempt 2, failed
        assert work.requeue(db, InboxEvent, [row_id]) == [row_id]  # attempts back to 0
        third.append(work.claim(db, InboxEvent, row_id, now=later()))  # attempt 1 again: a third worker holds it

    assert inbox.process(db, row_id, first, 5) is None
    row = inbox_row(db, row_id)
    assert third[0] and (row.status, row.attempts) == ("running", 1)  # the third worker's claim stands
    assert row.locked_until is not None and row.locked_until > utcnow() + work.LEASE


def test_the_holder_renews_and_finishes_its_own_row(db: Database) -> None:
    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id
    heartbeat = Heartbeat(db, work.LEASE)
    renewed: list[int] = []

    def handler(event: Any, _id: int, **_: bool) -> None:
        renewed.append(heartbeat.beat())

    assert inbox.process(db, row_id, handler, 5, heartbeat=heartbeat) == "done"
    assert renewed == [1]
    row = inbox_row(db, row_id)
    assert (row.status, row.attempts, row.locked_until) == ("done", 1, None)
    heartbeat.stop()


# -- outbox: the vendor write ---------------------------------------------------------------------------


class AfterRowRead:
    """Runs ``then`` once, right after a worker committed the transaction in which it read the outbox row it had
    claimed (the claim itself is a bare UPDATE: no row in the session), i.e. after its claim, before its write."""

    def __init__(self, db: Database, then: Callable[[], object]) -> None:
        self.then, self.fired = then, False
        event.listen(db.sessions, "after_commit", self)

    def __call__(self, session: Session) -> None:
        if self.fired:
            return
        if any(isinstance(o, OutboxAction) and o.status == "running" for o in list(session.identity_map.values())):
            self.fired = True
            self.then()


@pytest.fixture
def slack_hub(database_url: str) -> Iterator[tuple[Hub, SlackStub]]:
    stub = SlackStub().start()
    stub.seed_thread("C1", {"type": "message", "user": "U1", "text": "How do I reset my password?", "ts": "1700000000.000100"})
    hub = build_hub(load_settings(slack_settings(database_url, stub)))
    yield hub, stub
    hub.close()
    stub.stop()


def enqueue_answer(hub: Hub) -> int:
    with hub.db.session() as s:
        row_id = outbox.enqueue(s, outbox.NewAction(f"answer:{THREAD}", "slack", "post_reply",
                                                    {"ref": THREAD, "text": "Use the reset link.", "kind": "answer"}, THREAD))
    assert row_id is not None
    return row_id


def test_a_stale_holder_does_not_post_what_the_new_holder_posted(slack_hub: tuple[Hub, SlackStub]) -> None:
    hub, stub = slack_hub
    row_id = enqueue_answer(hub)
    second: list[str | None] = []
    AfterRowRead(hub.db, lambda: second.append(outbox.perform(hub.db, RecordingQueue(), row_id, hub.performers, now=later())))
    before = lost("outbox", "write")
    assert outbox.perform(hub.db, RecordingQueue(), row_id, hub.performers) is None
    assert second == ["done"]
    assert len(stub.calls_to("chat.postMessage")) == 1  # the second worker's post, and no other
    posted = stub.threads[("C1", "1700000000.000100")][1:]
    row = outbox_row(hub.db, row_id)
    assert (row.status, row.attempts, row.result) == ("done", 2, {"external_id": posted[0]["ts"], "url": None})
    assert len(posted) == 1 and lost("outbox", "write") == before + 1


def test_a_holder_whose_row_was_taken_does_not_post_while_the_new_holder_works(slack_hub: tuple[Hub, SlackStub]) -> None:
    hub, stub = slack_hub
    row_id = enqueue_answer(hub)
    taken: list[int | None] = []
    AfterRowRead(hub.db, lambda: taken.append(work.claim(hub.db, OutboxAction, row_id, now=later())))
    assert outbox.perform(hub.db, RecordingQueue(), row_id, hub.performers) is None
    assert taken[0] and stub.calls_to("chat.postMessage") == []
    row = outbox_row(hub.db, row_id)
    assert (row.status, row.attempts, row.result) == ("running", 2, None)  # the second worker's, untouched
    assert row.locked_until is not None and row.locked_until > utcnow() + work.LEASE


def test_a_holder_posts_once_and_finishes_its_row(slack_hub: tuple[Hub, SlackStub]) -> None:
    hub, stub = slack_hub
    row_id = enqueue_answer(hub)
    heartbeat = Heartbeat(hub.db, work.LEASE)
    assert outbox.perform(hub.db, RecordingQueue(), row_id, hub.performers, heartbeat=heartbeat) == "done"
    assert len(stub.calls_to("chat.postMessage")) == 1 and stub.calls_to("conversations.replies") == []
    row = outbox_row(hub.db, row_id)
    assert (row.status, row.attempts, row.locked_until) == ("done", 1, None)
    heartbeat.stop()
