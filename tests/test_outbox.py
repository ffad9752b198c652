"""The outbox: one row per idempotency key, retries honouring Retry-After, a visible failed state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from sqlalchemy import select

from core import outbox
from core.db import Database, OutboxAction
from core.errors import Fatal, Retriable
from core.models import utcnow
from core.outbox import NewAction, Performed
from tests.test_inbox import RecordingQueue


def enqueue(db: Database, key: str = "answer:slack:T1:C1:1.0", max_attempts: int = 3) -> int | None:
    with db.session() as s:
        return outbox.enqueue(s, NewAction(key, "slack", "post_reply", {"text": "hi"}, "slack:T1:C1:1.0"), max_attempts=max_attempts)


def row(db: Database, row_id: int) -> OutboxAction:
    with db.session() as s:
        return s.get_one(OutboxAction, row_id)


class FlakyVendor:
    """A performer that answers 429 with Retry-After a number of times, then succeeds."""

    def __init__(self, failures: int, retry_after: float | None = 30.0) -> None:
        self.failures, self.retry_after, self.calls = failures, retry_after, 0

    def __call__(self, payload: Mapping[str, Any]) -> Performed:
        self.calls += 1
        if self.calls <= self.failures:
            raise Retriable("429 Too Many Requests", retry_after=self.retry_after)
        return Performed({"ts": "1.5"})


def test_the_same_idempotency_key_is_enqueued_once(database_url: str) -> None:
    db = Database(database_url)
    first, second = enqueue(db), enqueue(db)
    assert first is not None and second is None
    with db.session() as s:
        assert len(s.scalars(select(OutboxAction)).all()) == 1
    db.dispose()


def test_retry_honours_retry_after_then_succeeds(database_url: str) -> None:
    db, jobs = Database(database_url), RecordingQueue()
    row_id = enqueue(db)
    assert row_id is not None
    vendor = FlakyVendor(failures=1, retry_after=30)
    now = utcnow()
    assert outbox.perform(db, jobs, row_id, {("slack", "post_reply"): vendor}, now=now) == "pending"
    assert row(db, row_id).next_attempt_at == now + timedelta(seconds=30)
    # Not due before Retry-After has passed.
    assert outbox.perform(db, jobs, row_id, {("slack", "post_reply"): vendor}, now=now + timedelta(seconds=29)) is None
    assert vendor.calls == 1
    assert outbox.perform(db, jobs, row_id, {("slack", "post_reply"): vendor}, now=now + timedelta(seconds=30)) == "done"
    done = row(db, row_id)
    assert (done.status, done.attempts, done.result) == ("done", 2, {"ts": "1.5"})
    assert outbox.result_of(db, "answer:slack:T1:C1:1.0") == {"ts": "1.5"}
    db.dispose()


def test_retries_stop_after_max_attempts_in_a_visible_failed_state(sqlite_url: str) -> None:
    db, jobs = Database(sqlite_url), RecordingQueue()
    row_id = enqueue(db, max_attempts=3)
    assert row_id is not None
    vendor = FlakyVendor(failures=99, retry_after=None)
    now = utcnow()
    statuses = []
    for _ in range(5):
        statuses.append(outbox.perform(db, jobs, row_id, {("slack", "post_reply"): vendor}, now=now))
        now += timedelta(hours=1)
    assert statuses == ["pending", "pending", "failed", None, None]
    failed = row(db, row_id)
    assert (failed.status, failed.attempts, vendor.calls) == ("failed", 3, 3)
    assert "429" in (failed.last_error or "")
    db.dispose()


def test_exponential_backoff_without_retry_after() -> None:
    from core.work import backoff_seconds

    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_seconds(30) == 15 * 60
    assert backoff_seconds(1, retry_after=7) == 7


def test_a_fatal_error_fails_at_once(sqlite_url: str) -> None:
    db, jobs = Database(sqlite_url), RecordingQueue()
    row_id = enqueue(db)
    assert row_id is not None

    def unauthorised(payload: Mapping[str, Any]) -> Performed:
        raise Fatal("invalid_auth")

    assert outbox.perform(db, jobs, row_id, {("slack", "post_reply"): unauthorised}) == "failed"
    assert row(db, row_id).attempts == 1
    db.dispose()


def test_follow_up_actions_are_enqueued_and_scheduled_with_the_result(sqlite_url: str) -> None:
    db, jobs = Database(sqlite_url), RecordingQueue()
    row_id = enqueue(db)
    assert row_id is not None
    follow = NewAction("draft:zendesk:7", "zendesk", "add_internal_note", {"ref": "zendesk:7", "text": "draft"})

    def create(payload: Mapping[str, Any]) -> Performed:
        return Performed({"ref": "zendesk:7"}, (follow, follow))  # a repeated key is added once

    assert outbox.perform(db, jobs, row_id, {("slack", "post_reply"): create}) == "done"
    with db.session() as s:
        follow_row = s.scalars(select(OutboxAction).where(OutboxAction.idempotency_key == "draft:zendesk:7")).one()
    assert jobs.submitted == [("outbox", follow_row.id)]
    db.dispose()


def test_an_action_with_no_performer_fails_with_a_clear_error(sqlite_url: str) -> None:
    db, jobs = Database(sqlite_url), RecordingQueue()
    row_id = enqueue(db, max_attempts=1)
    assert row_id is not None
    assert outbox.perform(db, jobs, row_id, {}) == "failed"
    assert "no performer for slack.post_reply" in (row(db, row_id).last_error or "")
    db.dispose()
