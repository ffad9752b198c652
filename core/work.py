"""The life cycle shared by inbox events and outbox actions: claim, finish, retry with backoff, sweep.

A row is ``pending`` until a worker claims it (``running`` with a lease), then ``done``, ``skipped``
(the thing is gone), ``failed`` (gave up: visible, never silently dropped) or ``pending`` again with a
later ``next_attempt_at``. A worker that dies leaves a ``running`` row whose lease expires; the sweeper hands
it out again (crash recovery).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Union

from sqlalchemy import and_, or_, select, update

from core.db import Database, InboxEvent, OutboxAction
from core.errors import Fatal, NotFound, Retriable
from core.models import utcnow

log = logging.getLogger(__name__)

WorkModel = Union[type[InboxEvent], type[OutboxAction]]

LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 15 * 60.0
RETRY_AFTER_CAP_SECONDS = 6 * 3600.0


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Return how long to wait before attempt ``attempt + 1``.

    Args:
        attempt: the number of attempts made so far (1 after the first failure).
        retry_after: the vendor's ``Retry-After`` in seconds, which wins when given.

    Returns:
        Seconds: ``retry_after`` (capped at 6 h) or 2, 4, 8, ... capped at 15 minutes.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP_SECONDS)
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), BACKOFF_CAP_SECONDS)


def claim(db: Database, model: WorkModel, row_id: int, now: datetime | None = None) -> bool:
    """Atomically take row ``row_id`` for work if it is due (or its holder's lease ran out).

    Returns:
        True when this caller now holds the row; False when it is not due, held, or finished.
    """
    now = now or utcnow()
    with db.session() as s:
        result = s.execute(
            update(model)
            .where(model.id == row_id, _due(model, now))
            .values(status="running", attempts=model.attempts + 1, locked_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's CursorResult


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: the row's new status, the error text, and when to try again."""

    status: str
    error: str | None = None
    retry_at: datetime | None = None


def outcome_of(error: BaseException | None, attempts: int, max_attempts: int, now: datetime) -> Outcome:
    """Decide a row's next state from how an attempt ended.

    ``NotFound`` skips, ``Fatal`` fails at once, anything else retries with backoff (honouring a
    ``Retriable``'s ``retry_after``) until ``max_attempts`` attempts were made, then fails.
    """
    if error is None:
        return Outcome("done")
    text = f"{type(error).__name__}: {error}"[:2000]
    if isinstance(error, NotFound):
        return Outcome("skipped", text)
    if isinstance(error, Fatal) or attempts >= max_attempts:
        return Outcome("failed", text)
    retry_after = error.retry_after if isinstance(error, Retriable) else None
    return Outcome("pending", text, now + timedelta(seconds=backoff_seconds(attempts, retry_after)))


def finish(db: Database, model: WorkModel, row_id: int, outcome: Outcome, now: datetime | None = None) -> None:
    """Store an attempt's outcome on the row and release its lease."""
    now = now or utcnow()
    values: dict[str, object] = {"status": outcome.status, "last_error": outcome.error, "locked_until": None}
    if outcome.status == "pending":
        values["next_attempt_at"] = outcome.retry_at
    else:
        values["finished_at"] = now
    with db.session() as s:
        s.execute(update(model).where(model.id == row_id).values(**values).execution_options(synchronize_session=False))


def due_ids(db: Database, model: WorkModel, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Return the ids of rows that are due: pending and past ``next_attempt_at``, or running with an
    expired lease (their worker died)."""
    now = now or utcnow()
    with db.session() as s:
        rows = s.execute(select(model.id).where(_due(model, now)).order_by(model.id).limit(limit))
        return [row_id for (row_id,) in rows]


def _due(model: WorkModel, now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(model.status == "pending", model.next_attempt_at <= now),
        and_(model.status == "running", model.locked_until < now),
    )
