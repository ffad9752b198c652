"""Answers that could not be posted in time go the human way, so that no requester is left in silence.

A public answer waits in the outbox while its vendor is down or rate-limiting. Once it is older than the
answer deadline (``HUB_ANSWER_DEADLINE_SECONDS``) and still not posted (``pending`` between retries, or
``failed``), :func:`escalate_unposted_answers` takes it out of the outbox (status ``superseded``, so it can never
post late), records an ``escalated`` outcome (reason ``answer_not_posted``: the analytics count it as escalated,
never as answered), and enqueues the hand-over a decision to escalate would have: an internal draft on a help
desk ticket, or a ticket of record (or triage note) plus a notice for a chat thread. Those writes retry through
the outage like any other.

An answer whose earlier attempt may have reached the vendor (an attempt was counted, or it ever failed: a post
whose response was lost is a failure to the hub) may be posted already. Before handing it over, the sweep asks
the vendor the way a retry does (:func:`connectors.base.already_performed`); while it asks, no worker may take
the row. When the vendor has the answer, the row ends as a successful write ends (``done``, ``answer_posted``:
answered, not escalated). An answer on a help desk ticket is also asked about the way a retry asks
(:func:`connectors.base.taken_meanwhile`): when people solved or closed the ticket, or an agent replied in public
or wrote an internal note, while the answer waited, nothing is handed over (a draft on a solved ticket, or for an
agent already on it, is work for nobody, and a closed Zendesk ticket refuses it): the row ends ``done`` without a
write and the request records ``already_solved``, ``already_replied`` or ``already_noted`` (not answered, not
escalated). When a look-up itself fails (the vendor is still down), the
answer is handed over anyway: a person writing to a requester who may also have the answer is better than a
requester left in silence. When it was the look-up for the answer that failed, the row stays findable
(``superseded``, not finished) and later rounds ask again (:mod:`interceptor.overdue_recheck`): found, the
request is answered as well as escalated. An answer never attempted on a chat thread is handed over without
asking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.base import Connector, HelpDesk, already_performed, taken_meanwhile
from core import work
from core.db import Database, OutboxAction, PersonRow
from core.jobs import JobQueue
from core.models import Person, Ticket, TicketRef, utcnow
from core.outbox import Performed, complete, enqueue, may_have_written, schedule
from core.telemetry import count
from interceptor import record
from interceptor.act import Route, escalation_actions
from interceptor.overdue_recheck import handed_over_unknown, recheck_handed_over

log = logging.getLogger(__name__)

REASON = "answer_not_posted"
DRAFT = "The hub's answer could not be posted within {minutes} minutes (the {vendor} API was failing), so this request " \
        "was handed to a person. The answer it would have posted:\n\n{answer}"
UNPOSTED = ("pending", "failed")


@dataclass(frozen=True)
class Asked:
    """What asking the vendor about an overdue answer found, when it is still to be handed over."""

    held: datetime | None  # the hold's token (None: nothing was asked)
    looked: str = ""  # what asking found, for the row's last_error
    unknown: bool = False  # whether the answer may be posted: the look-up for it failed (asked again later)


def escalate_unposted_answers(
    db: Database,
    jobs: JobQueue,
    route: Callable[[TicketRef], Route],
    deadline: timedelta,
    *,
    connectors: Mapping[str, Connector],
    max_attempts: int = 8,
    lease: timedelta = work.LEASE,
    horizon: timedelta = work.HORIZON,
    now: datetime | None = None,
) -> int:
    """Hand every public answer still unposted after ``deadline`` to a person, unless the vendor has it or
    people took the ticket meanwhile (solved or closed it, or replied in public: a help desk's ticket).

    Args:
        db: the database.
        jobs: the queue the hand-over's writes are handed to.
        route: where a ticket's writes go (the pipeline's routing).
        deadline: how long an answer may wait for its vendor.
        connectors: the connectors by name, asked whether an answer that may have reached them is there, and
            whether people took the ticket.
        max_attempts: the hand-over writes' cap for non-vendor errors.
        lease: how long a row is kept from the workers while its vendor is asked.
        horizon: the retry horizon: an answer handed over while the vendor could not say whether it has it is
            asked about every minute until then, hourly after (:mod:`interceptor.overdue_recheck`).
        now: the current time (tests pass one).

    Returns:
        How many answers were handed over (not those the vendor turned out to have, nor those people took).
    """
    now = now or utcnow()
    recheck_handed_over(db, jobs, connectors, horizon, lease, now)
    with db.session() as s:
        overdue = list(
            s.execute(
                select(OutboxAction.id)
                .where(
                    OutboxAction.action == "post_reply",
                    OutboxAction.idempotency_key.like("answer:%"),
                    OutboxAction.status.in_(UNPOSTED),
                    OutboxAction.created_at <= now - deadline,
                )
                .order_by(OutboxAction.id)
                .limit(200)
            ).scalars()
        )
    handed = 0
    for row_id in overdue:
        asked = _ask_vendor(db, jobs, row_id, connectors, now, lease)
        if asked is None:
            continue  # the vendor has the answer (the row is done), or someone else settles the row this round
        with db.session() as s:
            ids = _hand_over(s, row_id, asked, route, deadline, max_attempts, now)
        if ids is not None:
            handed += 1
            schedule(jobs, ids)
    return handed


def _ask_vendor(
    db: Database, jobs: JobQueue, row_id: int, connectors: Mapping[str, Connector], now: datetime, lease: timedelta
) -> Asked | None:
    """Ask the vendor for an answer an earlier attempt may have posted, and (a help desk) whether people took the
    ticket meanwhile; when either is so, end the row as a write that needs no more ends (:func:`core.outbox.complete`
    with the outbox's own bookkeeping: ``answer_posted``, or ``already_solved`` / ``already_replied`` / ``already_noted``).

    The row is held while the vendor is asked: its next attempt is put after the look-up (no worker claims it),
    and that time is the hold's token: the row is settled afterwards only if nobody changed it meanwhile.

    Returns:
        ``None`` when the row is not to be handed over (the vendor has the answer, people took the ticket, or a
        worker or an admin changed the row); else the hold's token and what asking found.
    """
    with db.session() as s:
        row = s.get(OutboxAction, row_id)
        if row is None or row.status not in UNPOSTED:
            return None
        name, key, ref = row.connector, row.idempotency_key, TicketRef.parse(row.payload["ref"])
        connector = connectors.get(name)
        written = may_have_written(row.attempts, row.last_error)
        if not written and not isinstance(connector, HelpDesk):
            return Asked(None)  # never reached the vendor, and a chat thread has no one who takes it: nothing to ask
        held = max(row.next_attempt_at, now + lease)
        taken = s.execute(
            update(OutboxAction)
            # A worker's claim meanwhile moves lease_token on (attempts may come back: a 429 gives its attempt
            # back); an admin's re-queue resets attempts.
            .where(
                OutboxAction.id == row_id,
                OutboxAction.status.in_(UNPOSTED),
                OutboxAction.lease_token == row.lease_token,
                OutboxAction.attempts == row.attempts,
            )
            .values(next_attempt_at=held)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
            return None  # a worker took it meanwhile
    found, looked, unknown = _look(connector, name, ref, key, written)
    if found is None:
        log.info("interceptor.answer.not-found", extra={"ref": str(ref), "outbox_id": row_id, "looked": looked[:200]})
        return Asked(held, looked, unknown)
    with db.session() as s:
        row = s.get_one(OutboxAction, row_id)
        if row.status not in UNPOSTED or row.next_attempt_at != held:
            return None  # someone else settled it meanwhile (a worker, an admin's re-queue)
        follow_ids = complete(s, row, found, now, record.on_action_done)
    count("outbox_actions", connector=name, outcome=found.outcome)
    if found.outcome == "done":
        log.info("interceptor.answer.found-posted", extra={"ref": str(ref), "outbox_id": row_id})
    schedule(jobs, follow_ids)
    return None


def _look(connector: Connector | None, name: str, ref: TicketRef, key: str, written: bool) -> tuple[Performed | None, str, bool]:
    """What the vendor says of an overdue answer: posted by an earlier attempt (asked only when one may have
    reached it), or the ticket taken by people meanwhile; and, when neither, what asking found, for the row, and
    whether the answer may be posted (the look-up for it failed)."""
    if connector is None:
        return None, f"no {name} connector to ask whether it was posted", False
    found: Performed | None = None
    try:
        found = already_performed(connector, ref, key) if written else None
    except Exception as e:  # noqa: BLE001 - a periodic job: one look-up's failure, whatever it is, hands that answer over
        return None, f"asking {name} whether it was posted failed: {type(e).__name__}: {e}", True
    try:
        return found or taken_meanwhile(connector, ref), f"{name} does not have it" if written else "", False
    except Exception as e:  # noqa: BLE001 - as above
        return None, f"asking {name} whether people took the ticket meanwhile failed: {type(e).__name__}: {e}", False


def _hand_over(
    s: Session,
    row_id: int,
    asked: Asked,
    route: Callable[[TicketRef], Route],
    deadline: timedelta,
    max_attempts: int,
    now: datetime,
) -> list[int | None] | None:
    # Take the answer out of the outbox first; a worker holding it right now (running) keeps it this round, and
    # so does a row changed by anyone since the look-up held it. One the vendor may have posted stays findable,
    # to be asked about again a minute later (interceptor.overdue_recheck).
    condition = [OutboxAction.id == row_id, OutboxAction.status.in_(UNPOSTED)]
    if asked.held is not None:
        condition.append(OutboxAction.next_attempt_at == asked.held)
    values = handed_over_unknown(now) if asked.unknown else {"status": "superseded", "finished_at": now, "locked_until": None}
    taken = s.execute(update(OutboxAction).where(*condition).values(**values).execution_options(synchronize_session=False))
    if taken.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        return None
    row = s.get_one(OutboxAction, row_id)
    why = "; ".join(p for p in (asked.looked, row.last_error or "") if p)
    row.last_error = f"answer not posted within {deadline.total_seconds():.0f} s; handed to a person ({why})"[:2000]
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
