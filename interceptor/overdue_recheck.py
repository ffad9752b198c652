"""Answers handed to a person at their deadline that the vendor may have posted after all are asked about again.

The answer deadline (:mod:`interceptor.overdue`) asks the vendor before it hands over an answer whose earlier
attempt may have reached it. When that look-up fails too (the vendor is still down), the answer is handed over
anyway, and its row stays findable: ``superseded`` without ``finished_at`` (every other ``superseded`` row is
finished), ``next_attempt_at`` the time of the next look-up. :func:`recheck_handed_over`, run by each round of
the deadline sweep, asks the vendor again (:func:`connectors.base.already_performed`), backing off:

- every minute (the sweep's first round a minute after the last look-up) until the retry horizon
  (``HUB_RETRY_HORIZON_SECONDS``) has passed since the answer was enqueued;
- hourly after that, for :data:`ASK_HOURLY_FOR` (7 days) more;
- then never: the row is finished, its ``last_error`` says the vendor could not be asked.

When the vendor has the answer, the row ends as a successful write ends (``done``, the ``answer_posted``
outcome of :func:`interceptor.record.on_action_done`): the requester got the hub's answer, so the request counts
as answered, and the escalation already made stays (a person was asked to help): answered and escalated after
the answer (docs/metrics.md). When the vendor does not have it, the row is finished and the escalation stands.
Nothing is posted or drafted again either way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import select, update

from connectors.base import Connector, already_performed
from core.db import Database, OutboxAction
from core.jobs import JobQueue
from core.models import TicketRef
from core.outbox import Performed, complete, schedule
from core.telemetry import count
from interceptor import record

log = logging.getLogger(__name__)

ASK_HOURLY_FOR = timedelta(days=7)
"""How long, past the retry horizon, the vendor is still asked (hourly) about an answer handed over unknown."""
MINUTELY, HOURLY = timedelta(minutes=1), timedelta(hours=1)


def handed_over_unknown(now: datetime) -> dict[str, object]:
    """The values that take an answer out of the outbox while the vendor may have it: ``superseded``, not
    finished, to be asked about again a minute from ``now``."""
    return {"status": "superseded", "finished_at": None, "next_attempt_at": now + MINUTELY, "locked_until": None}


def recheck_handed_over(
    db: Database,
    jobs: JobQueue,
    connectors: Mapping[str, Connector],
    horizon: timedelta,
    lease: timedelta,
    now: datetime,
) -> int:
    """Ask the vendor again about every answer handed over while it may have been posted, and due for a look-up.

    Args:
        db: the database.
        jobs: the queue (for the follow-ups of a write found made; an answer has none).
        connectors: the connectors by name.
        horizon: the retry horizon: asked every minute until it has passed since the answer was enqueued.
        lease: how long a row is held while its vendor is asked (two sweeps never ask about one row at once).
        now: the current time.

    Returns:
        How many answers the vendor turned out to have (now counted as answered).
    """
    unknown = (OutboxAction.status == "superseded", OutboxAction.finished_at.is_(None), OutboxAction.next_attempt_at <= now)
    with db.session() as s:
        due = list(s.scalars(select(OutboxAction.id).where(*unknown).order_by(OutboxAction.next_attempt_at, OutboxAction.id).limit(200)))
    return sum(_recheck(db, jobs, row_id, connectors, horizon, lease, now) for row_id in due)


def _recheck(
    db: Database, jobs: JobQueue, row_id: int, connectors: Mapping[str, Connector], horizon: timedelta, lease: timedelta, now: datetime
) -> bool:
    unknown = (OutboxAction.id == row_id, OutboxAction.status == "superseded", OutboxAction.finished_at.is_(None))
    with db.session() as s:
        row = s.get(OutboxAction, row_id)
        if row is None or row.status != "superseded" or row.finished_at is not None:
            return False
        name, key, ref, created = row.connector, row.idempotency_key, TicketRef.parse(row.payload["ref"]), row.created_at
        held = now + lease  # the hold's token, as at the deadline (interceptor.overdue)
        taken = s.execute(
            update(OutboxAction).where(*unknown, OutboxAction.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=held).execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
            return False  # another sweep asks about it right now
    found, failure = _ask(connectors.get(name), name, ref, key)
    with db.session() as s:
        row = s.get_one(OutboxAction, row_id)
        if row.status != "superseded" or row.finished_at is not None or row.next_attempt_at != held:
            return False
        follow_ids: list[int | None] = []
        if found is not None:
            follow_ids = complete(s, row, found, now, record.on_action_done)
        elif failure is None:
            row.finished_at, row.locked_until = now, None
            row.last_error = f"{row.last_error or ''}; asked again: {name} does not have it"[:2000]
        elif now >= created + horizon + ASK_HOURLY_FOR:
            row.finished_at, row.locked_until = now, None
            row.last_error = f"{row.last_error or ''}; gave up asking {name} whether it was posted ({failure})"[:2000]
        else:
            row.next_attempt_at = now + (MINUTELY if now < created + horizon else HOURLY)
    outcome = "posted" if found is not None else "not_posted" if failure is None else "unknown"
    count("answers_rechecked", connector=name, outcome=outcome)
    log.info("interceptor.answer.rechecked", extra={"ref": str(ref), "outbox_id": row_id, "outcome": outcome})
    schedule(jobs, follow_ids)
    return found is not None


def _ask(connector: Connector | None, name: str, ref: TicketRef, key: str) -> tuple[Performed | None, str | None]:
    """Whether the vendor has the answer: (what it has, ``None``), (``None``, ``None``) when it has not, or
    (``None``, why asking failed)."""
    if connector is None:
        return None, f"no {name} connector"
    try:
        return already_performed(connector, ref, key), None
    except Exception as e:  # noqa: BLE001 - a periodic job: one look-up's failure, whatever it is, is asked again later
        return None, f"{type(e).__name__}: {e}"[:500]
