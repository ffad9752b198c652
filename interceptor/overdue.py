"""Answers that could not be posted in time go the human way, so that no requester is left in silence.

A public answer waits in the outbox while its vendor is down or rate-limiting. Once it is older than the
answer deadline (``HUB_ANSWER_DEADLINE_SECONDS``) and still not posted (``pending`` between retries, or
``failed``), :func:`escalate_unposted_answers` takes it out of the outbox (status ``superseded``, so it can never
post late), records an ``escalated`` outcome (reason ``answer_not_posted``: the analytics count it as escalated,
never as answered), and enqueues the hand-over a decision to escalate would have: an internal draft on a help
desk ticket, or a ticket of record (or triage note) plus a notice for a chat thread. Those writes retry through
the outage like any other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import Database, OutboxAction, PersonRow
from core.jobs import JobQueue
from core.models import Person, Ticket, TicketRef, utcnow
from core.outbox import enqueue, schedule
from core.telemetry import count
from interceptor import record
from interceptor.act import Route, escalation_actions

log = logging.getLogger(__name__)

REASON = "answer_not_posted"
DRAFT = "The hub's answer could not be posted within {minutes} minutes (the {vendor} API was failing), so this request " \
        "was handed to a person. The answer it would have posted:\n\n{answer}"


def escalate_unposted_answers(
    db: Database,
    jobs: JobQueue,
    route: Callable[[TicketRef], Route],
    deadline: timedelta,
    *,
    max_attempts: int = 8,
    now: datetime | None = None,
) -> int:
    """Hand every public answer still unposted after ``deadline`` to a person.

    Args:
        db: the database.
        jobs: the queue the hand-over's writes are handed to.
        route: where a ticket's writes go (the pipeline's routing).
        deadline: how long an answer may wait for its vendor.
        max_attempts: the hand-over writes' cap for non-vendor errors.
        now: the current time (tests pass one).

    Returns:
        How many answers were handed over.
    """
    now = now or utcnow()
    with db.session() as s:
        overdue = list(
            s.execute(
                select(OutboxAction.id)
                .where(
                    OutboxAction.action == "post_reply",
                    OutboxAction.idempotency_key.like("answer:%"),
                    OutboxAction.status.in_(("pending", "failed")),
                    OutboxAction.created_at <= now - deadline,
                )
                .order_by(OutboxAction.id)
                .limit(200)
            ).scalars()
        )
    handed = 0
    for row_id in overdue:
        with db.session() as s:
            ids = _hand_over(s, row_id, route, deadline, max_attempts, now)
        if ids is not None:
            handed += 1
            schedule(jobs, ids)
    return handed


def _hand_over(
    s: Session, row_id: int, route: Callable[[TicketRef], Route], deadline: timedelta, max_attempts: int, now: datetime
) -> list[int | None] | None:
    # Take the answer out of the outbox first; a worker holding it right now (running) keeps it this round.
    taken = s.execute(
        update(OutboxAction)
        .where(OutboxAction.id == row_id, OutboxAction.status.in_(("pending", "failed")))
        .values(status="superseded", finished_at=now, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        return None
    row = s.get_one(OutboxAction, row_id)
    row.last_error = f"answer not posted within {deadline.total_seconds():.0f} s; handed to a person ({row.last_error or ''})"[:2000]
    payload = row.payload or {}
    ref = TicketRef.parse(payload["ref"])
    count("answers_unposted", connector=row.connector)
    log.warning("interceptor.answer.not-posted", extra={"ref": str(ref), "outbox_id": row_id})
    if record.has_outcome(s, ref, "escalated"):
        return []
    ticket = _stored_ticket(s, ref)
    decision_id = payload.get("decision_id")
    if not record.record_outcome(s, ref, "escalated", decision_id=decision_id, reason=REASON) or ticket is None:
        return []  # escalated meanwhile by another path (the claim is the database's), or nothing to hand over
    draft = DRAFT.format(minutes=round(deadline.total_seconds() / 60), vendor=row.connector, answer=payload.get("text", ""))
    actions = escalation_actions(ticket, draft, int(decision_id or 0), route(ref), reopen=False)
    return [enqueue(s, a, max_attempts=max_attempts, inbox_event_id=row.inbox_event_id) for a in actions]


def _stored_ticket(s: Session, ref: TicketRef) -> Ticket | None:
    """The ticket as the hub stored it (the vendor may be the thing that is down)."""
    row = record.find_ticket(s, ref)
    if row is None:
        return None
    person = s.get(PersonRow, row.requester_id) if row.requester_id is not None else None
    requester = Person(person.external_id, person.name, person.email) if person is not None else Person("", "")
    return Ticket(ref, row.subject, row.text, requester, url=row.url, created_at=row.created_at, updated_at=row.updated_at)
