"""The life cycle shared by inbox events and outbox actions: claim, finish, retry with backoff, sweep.

A row is ``pending`` until a worker claims it (``running`` with a short lease that a heartbeat renews while
the worker is alive), then ``done``, ``skipped`` (the thing is gone), ``failed`` (gave up: visible, never
silently dropped, and re-queueable) or ``pending`` again with a later ``next_attempt_at``. A worker that dies
stops renewing its lease; the sweeper hands the row out again about one lease later (crash recovery).

Fencing: a lease can lapse under a worker that is still alive (the database was unreachable for longer than a
lease, so its heartbeat could not renew; the process was paused), and the sweeper then hands the row to
another worker. Every claim therefore numbers its holder: it increments the row's ``lease_token`` (never
lowered, unlike ``attempts``, which a 429 gives back and ``hub retry`` resets) and returns the new value.
Renewing (:func:`renew`: the heartbeat, and the outbox's look before a vendor write) and finishing
(:func:`finish`, :func:`release`) act only on a row still ``running`` under the caller's token; a holder whose
row was taken over changes nothing, and that is logged (``work.lease.lost``) and counted
(``hub_leases_lost_total{queue,at}``), never raised.

Retries: a ``Retriable`` failure (5xx, 429, timeout, connection error) is retried with capped backoff until
the retry horizon (``HUB_RETRY_HORIZON_SECONDS``, 24 h by default) has passed since the row was stored (or
re-queued). A vendor's ``Retry-After`` is the wait, even when it ends past the horizon (then that is the last
attempt): trying earlier than asked would only meet the same refusal. A 429 is the vendor pacing us: it gives
the attempt back, and without ``Retry-After`` it waits at least a minute (the attempt given back, the backoff
would otherwise stay at its first 2 s). A ``Fatal`` failure fails at once with its reason; any other exception
(a bug, a missing performer, a database hiccup) is retried up to the row's ``max_attempts``, counted in
``other_failures``: the vendor failures of an outage the row waited out do not use them up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Union

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from core.db import Database, InboxEvent, OutboxAction
from core.errors import Fatal, NotFound, Retriable
from core.models import storable, utcnow
from core.telemetry import count

log = logging.getLogger(__name__)

WorkModel = Union[type[InboxEvent], type[OutboxAction]]

LEASE = timedelta(seconds=60)
HORIZON = timedelta(hours=24)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 5 * 60.0
RETRY_AFTER_CAP_SECONDS = 6 * 3600.0
RATE_LIMIT_WAIT_SECONDS = 60.0
"""The least wait after a 429 that names no ``Retry-After`` (NOTE(jira): Jira's 429 "may be accompanied by"
one, https://developer.atlassian.com/cloud/jira/platform/rate-limiting/; the pycontribs client waits up to
60 s then)."""


def backoff_seconds(attempt: int, retry_after: float | None = None, *, rate_limited: bool = False) -> float:
    """Return how long to wait before attempt ``attempt + 1``.

    Args:
        attempt: the number of attempts made so far (1 after the first failure).
        retry_after: the vendor's ``Retry-After`` in seconds, which wins when given.
        rate_limited: the vendor answered 429 (without ``retry_after``: wait at least a minute).

    Returns:
        Seconds: ``retry_after`` (capped at 6 h), else 2, 4, 8, ... capped at 5 minutes, and at least
        :data:`RATE_LIMIT_WAIT_SECONDS` after a 429.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP_SECONDS)
    wait = min(BACKOFF_BASE_SECONDS * 2 ** min(max(attempt - 1, 0), 30), BACKOFF_CAP_SECONDS)
    return max(wait, RATE_LIMIT_WAIT_SECONDS) if rate_limited else wait


def claim(
    db: Database, model: WorkModel, row_id: int, now: datetime | None = None, lease: timedelta = LEASE
) -> int | None:
    """Atomically take row ``row_id`` for work if it is due (or its holder's lease ran out).

    Args:
        db: the database.
        model: ``InboxEvent`` or ``OutboxAction``.
        row_id: the row to take.
        now: the current time (tests pass one).
        lease: how long the row stays ours without a heartbeat (:mod:`core.heartbeat`).

    Returns:
        The claim's fencing token (1 or more; pass it to :func:`renew`, :func:`finish`, :func:`release`), or
        ``None`` when the row is not due, held, or finished.
    """
    now = now or utcnow()
    with db.session() as s:
        token = s.execute(
            update(model)
            .where(model.id == row_id, _due(model, now))
            .values(status="running", attempts=model.attempts + 1, lease_token=model.lease_token + 1, locked_until=now + lease)
            .returning(model.lease_token)
            .execution_options(synchronize_session=False)
        ).scalar()
        return int(token) if token is not None else None


def renew(
    db: Database,
    model: WorkModel,
    held: Iterable[tuple[int, int]],
    now: datetime | None = None,
    lease: timedelta = LEASE,
    *,
    at: str,
) -> set[tuple[int, int]]:
    """Extend to ``now + lease`` the lease of each row still ``running`` under the token its caller holds.

    A row whose lease lapsed but that nobody claimed since is still the caller's (its token is unchanged) and is
    renewed; a row claimed by another worker since is not, and is reported lost.

    Args:
        db: the database.
        model: ``InboxEvent`` or ``OutboxAction``.
        held: ``(row id, token)`` pairs.
        now: the current time (tests pass one).
        lease: the lease length.
        at: who asks, for the lost-lease count (``heartbeat``, ``write``).

    Returns:
        The pairs renewed; the others' leases are lost (logged and counted here).
    """
    pairs = set(held)
    if not pairs:
        return set()
    until = (now or utcnow()) + lease
    with db.session() as s:
        rows = s.execute(
            update(model)
            .where(or_(*(and_(model.id == row_id, model.lease_token == token) for row_id, token in pairs)), model.status == "running")
            .values(locked_until=until)
            .returning(model.id, model.lease_token)
            .execution_options(synchronize_session=False)
        )
        renewed = {(int(row_id), int(token)) for row_id, token in rows}
    for row_id, token in sorted(pairs - renewed):
        _lost(model, row_id, token, at)
    return renewed


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: the row's new status, the error text, when to try again, whether the attempt is
    given back (a 429 is the vendor pacing us, not a failure of the write), and whether it failed otherwise than
    at the vendor (``other``: counted against ``max_attempts``)."""

    status: str
    error: str | None = None
    retry_at: datetime | None = None
    refund: bool = False
    other: bool = False


def outcome_of(
    error: BaseException | None,
    attempts: int,
    max_attempts: int,
    now: datetime,
    *,
    since: datetime | None = None,
    horizon: timedelta = HORIZON,
    other_failures: int,
    started: datetime | None = None,
) -> Outcome:
    """Decide a row's next state from how an attempt ended.

    Args:
        error: what the attempt raised, or ``None`` on success.
        attempts: attempts counted so far, this one included.
        max_attempts: the cap for errors that are neither ``Retriable`` nor ``Fatal`` (bugs).
        other_failures: the row's earlier attempts that failed with such an error (vendor failures not counted).
        now: the current time.
        since: when the row was stored or re-queued (the horizon counts from there; ``now`` when unknown).
        horizon: how long ``Retriable`` failures are retried.
        started: when the attempt began (``now`` when not told): the horizon is judged then, so an attempt begun
            before it is never the last (the next one, due at once, is), as its handler was told
            (:func:`past_horizon`).

    Returns:
        ``done``; ``skipped`` for ``NotFound``; ``failed`` for ``Fatal``, for ``Retriable`` past the horizon,
        for other errors after ``max_attempts``; else ``pending`` with the time of the next attempt (no later
        than the horizon, unless the vendor's ``Retry-After`` asks for later).
    """
    if error is None:
        return Outcome("done")
    text = storable(f"{type(error).__name__}: {error}")[:2000]  # a vendor's words in it (an error code) may hold NUL
    if isinstance(error, NotFound):
        return Outcome("skipped", text)
    if isinstance(error, Fatal):
        return Outcome("failed", text)
    if isinstance(error, Retriable):
        deadline = (since or now) + horizon
        if past_horizon(since or now, started or now, horizon):
            return Outcome("failed", f"gave up after the retry horizon ({horizon.total_seconds():.0f} s): {text}"[:2000])
        retry_at = now + timedelta(seconds=backoff_seconds(attempts, error.retry_after, rate_limited=error.rate_limited))
        if error.retry_after is None:  # our own backoff ends at the horizon; the vendor's word is kept past it
            retry_at = min(retry_at, deadline)
        return Outcome("pending", text, retry_at, refund=error.rate_limited)
    failures = other_failures + 1
    if failures >= max_attempts:
        return Outcome("failed", text, other=True)
    return Outcome("pending", text, now + timedelta(seconds=backoff_seconds(failures)), other=True)


def past_horizon(since: datetime, at: datetime, horizon: timedelta = HORIZON) -> bool:
    """Whether an attempt made ``at`` on a row stored (or re-queued) ``since`` is past the retry horizon: a
    ``Retriable`` failure then is final (:func:`outcome_of`), and a handler told so may give up in its own way
    (:func:`core.inbox.process`)."""
    return at >= since + horizon


def finish(db: Database, model: WorkModel, row_id: int, token: int, outcome: Outcome, now: datetime | None = None) -> bool:
    """Store an attempt's outcome on the row and release its lease, if the caller still holds the row.

    Args:
        db: the database.
        model: ``InboxEvent`` or ``OutboxAction``.
        row_id: the row.
        token: the caller's claim (:func:`claim`).
        outcome: how the attempt ended (:func:`outcome_of`).
        now: the current time (tests pass one).

    Returns:
        ``True`` when stored; ``False`` when another worker claimed the row since (nothing changes: the lost
        lease is logged and counted).
    """
    now = now or utcnow()
    values: dict[str, object] = {"status": outcome.status, "last_error": outcome.error, "locked_until": None}
    if outcome.status == "pending":
        values["next_attempt_at"] = outcome.retry_at
    else:
        values["finished_at"] = now
    if outcome.refund:
        values["attempts"] = model.attempts - 1
    if outcome.other:
        values["other_failures"] = model.other_failures + 1
    with db.session() as s:
        return release(s, model, row_id, token, values)


def release(session: Session, model: WorkModel, row_id: int, token: int, values: dict[str, object], *, at: str = "finish") -> bool:
    """Set ``values`` on the row in the caller's transaction, if it is still ``running`` under ``token``; the
    row then stays locked (PostgreSQL: the row; SQLite: the database) until that transaction ends, so the
    caller's further writes in it cannot race a claim.

    Args:
        session: the caller's transaction.
        model: ``InboxEvent`` or ``OutboxAction``.
        row_id: the row.
        token: the caller's claim (:func:`claim`).
        values: the columns to set.
        at: what the caller was finishing, for the lost-lease count (``finish``; ``done``: a write made).

    Returns:
        Whether the caller held the row (when not, nothing was set, and the lost lease is logged and counted).
    """
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.lease_token == token, model.status == "running")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        return True
    _lost(model, row_id, token, at)
    return False


def due_ids(db: Database, model: WorkModel, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Return the ids of rows that are due: pending and past ``next_attempt_at``, or running with an
    expired lease (their worker died)."""
    now = now or utcnow()
    with db.session() as s:
        rows = s.execute(select(model.id).where(_due(model, now)).order_by(model.id).limit(limit))
        return [row_id for (row_id,) in rows]


def requeue(db: Database, model: WorkModel, ids: list[int] | None = None, now: datetime | None = None) -> list[int]:
    """Put ``failed`` rows back to ``pending`` (all of them, or those of ``ids``) with a fresh retry horizon.

    Returns:
        The ids of the rows re-queued (hand them to the job queue).
    """
    now = now or utcnow()
    with db.session() as s:
        query = select(model.id).where(model.status == "failed")
        if ids is not None:
            query = query.where(model.id.in_(ids))
        found = [row_id for (row_id,) in s.execute(query.order_by(model.id))]
        if found:
            s.execute(
                update(model)
                .where(model.id.in_(found), model.status == "failed")
                .values(status="pending", attempts=0, other_failures=0, next_attempt_at=now, requeued_at=now, finished_at=None)
                .execution_options(synchronize_session=False)
            )
    return found


def _due(model: WorkModel, now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(model.status == "pending", model.next_attempt_at <= now),
        and_(model.status == "running", model.locked_until < now),
    )


def _lost(model: WorkModel, row_id: int, token: int, at: str) -> None:
    """Log and count a holder that found its row claimed by another worker (its lease had lapsed)."""
    queue = "inbox" if model is InboxEvent else "outbox"
    count("leases_lost", queue=queue, at=at)
    log.warning("work.lease.lost", extra={"queue": queue, "row_id": row_id, "token": token, "at": at})
