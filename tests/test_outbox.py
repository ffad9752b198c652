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


class DownVendor:
    """A performer whose vendor answers 503 (or 429 when ``rate_limited``) every time."""

    def __init__(self, rate_limited: bool = False) -> None:
        self.rate_limited, self.calls = rate_limited, 0

    def __call__(self, payload: Mapping[str, Any]) -> Performed:
        self.calls += 1
        if self.rate_limited:
            raise Retriable("429 Too Many Requests", retry_after=60, rate_limited=True)
        raise Retriable("503 Service Unavailable")


def test_an_outage_never_fails_a_row_before_the_retry_horizon(database_url: str) -> None:
    db, jobs = Database(database_url), RecordingQueue()
    row_id = enqueue(db, max_attempts=3)
    assert row_id is not None
    vendor, created = DownVendor(), row(db, row_id).created_at
    performers = {("slack", "post_reply"): vendor}
    horizon = timedelta(hours=24)
    now, statuses = created, []
    while now < created + timedelta(hours=23, minutes=59):
        statuses.append(outbox.perform(db, jobs, row_id, performers, now=now, horizon=horizon))
        now = row(db, row_id).next_attempt_at
    # Far more attempts than max_attempts, every one pending, the waits capped at 5 minutes.
    assert vendor.calls > 250 and set(statuses) == {"pending"}
    waiting = row(db, row_id)
    assert waiting.status == "pending" and waiting.next_attempt_at <= created + horizon
    assert outbox.perform(db, jobs, row_id, performers, now=created + horizon, horizon=horizon) == "failed"
    failed = row(db, row_id)
    assert failed.status == "failed" and "retry horizon" in (failed.last_error or "") and "503" in (failed.last_error or "")
    db.dispose()


def test_a_rate_limit_does_not_use_up_an_attempt(database_url: str) -> None:
    db, jobs = Database(database_url), RecordingQueue()
    row_id = enqueue(db, max_attempts=2)
    assert row_id is not None
    vendor, now = DownVendor(rate_limited=True), utcnow()
    for _ in range(5):
        assert outbox.perform(db, jobs, row_id, {("slack", "post_reply"): vendor}, now=now) == "pending"
        assert row(db, row_id).next_attempt_at == now + timedelta(seconds=60)  # Retry-After honoured
        now += timedelta(seconds=60)
    assert (vendor.calls, row(db, row_id).attempts) == (5, 0)
    db.dispose()


def test_errors_that_are_not_vendor_failures_stop_after_max_attempts(sqlite_url: str) -> None:
    db, jobs = Database(sqlite_url), RecordingQueue()
    row_id = enqueue(db, max_attempts=3)
    assert row_id is not None

    def broken(payload: Mapping[str, Any]) -> Performed:
        raise KeyError("text")

    now, statuses = utcnow(), []
    for _ in range(4):
        statuses.append(outbox.perform(db, jobs, row_id, {("slack", "post_reply"): broken}, now=now))
        now += timedelta(hours=1)
    assert statuses == ["pending", "pending", "failed", None]
    failed = row(db, row_id)
    assert (failed.status, failed.attempts) == ("failed", 3) and "KeyError" in (failed.last_error or "")
    db.dispose()


def test_exponential_backoff_without_retry_after() -> None:
    from core.work import backoff_seconds

    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_seconds(30) == 5 * 60
    assert backoff_seconds(1, retry_after=7) == 7


def test_a_fatal_error_fails_at_once(sqlite_url: str) -> None:
    db, jobs = Database(sqlite_url), RecordingQueue()
    row_id = enqueue(db)
    assert row_id is not None

    def unauthorised(payload: Mapping[str, Any]) -> Performed:
        raise Fatal("invalid_auth")

    assert outbox.perform(db, jobs, row_id, {("slack", "post_reply"): unauthorised}) == "failed"
    failed = row(db, row_id)
    assert failed.attempts == 1 and failed.last_error == "Fatal: invalid_auth"
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
