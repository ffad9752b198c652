"""The ``record`` stage: tickets, people, decisions and outcomes as rows (the source of every metric)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import ONE_ESCALATION, DecisionRow, OutboxAction, OutcomeRow, PersonRow, TicketRow, insert_ignoring
from core.models import TAKEN_BY_PEOPLE, Person, Source, Ticket, TicketRef, utcnow
from core.outbox import enqueue, follow_up_key, follow_up_write
from interceptor.act import is_answer
from interceptor.types import Decision


def upsert_person(session: Session, source: Source, person: Person) -> PersonRow:
    """Insert or refresh the person seen in ``source`` (the email joins them across channels).

    The row is inserted with ``ON CONFLICT DO NOTHING`` first, so concurrent requests of one new person (one
    Slack user asking in several threads at once) do not collide on ``uq_people_source_external``.
    """
    key = (PersonRow.source == source.value, PersonRow.external_id == person.external_id)
    row = session.scalars(select(PersonRow).where(*key)).one_or_none()
    if row is None:
        now = utcnow()
        session.execute(
            insert_ignoring(session, PersonRow, ["source", "external_id"]).values(
                source=source.value, external_id=person.external_id, name="", is_agent=False, created_at=now, updated_at=now
            )
        )
        row = session.scalars(select(PersonRow).where(*key)).one()
    row.name = person.name or row.name or ""
    row.email = person.email or row.email
    row.is_agent = person.is_agent
    row.updated_at = utcnow()
    session.flush()
    return row


def find_ticket(session: Session, ref: TicketRef) -> TicketRow | None:
    """Return the stored ticket for ``ref``, if the hub has seen it."""
    return session.scalars(
        select(TicketRow).where(TicketRow.source == ref.source.value, TicketRow.external_id == ref.external_id)
    ).one_or_none()


def requester_id_of(session: Session, ref: TicketRef) -> str | None:
    """Return the vendor's id of the stored ticket's requester (a Slack thread's: its root message's author),
    or ``None`` when the hub has not stored the ticket or its requester."""
    row = find_ticket(session, ref)
    if row is None or row.requester_id is None:
        return None
    person = session.get(PersonRow, row.requester_id)
    return person.external_id if person is not None and person.external_id else None


def escalated_from(session: Session, ref: TicketRef) -> TicketRef | None:
    """Return the chat thread whose escalation opened ticket ``ref`` in the help desk of record, if any."""
    row = session.scalars(select(TicketRow).where(TicketRow.escalated_to == str(ref)).limit(1)).one_or_none()
    return TicketRef(Source(row.source), row.external_id) if row is not None else None


def upsert_ticket(session: Session, ticket: Ticket) -> TicketRow:
    """Insert or refresh a ticket and its requester."""
    requester = upsert_person(session, ticket.ref.source, ticket.requester)
    row = find_ticket(session, ticket.ref)
    if row is None:
        row = TicketRow(
            source=ticket.ref.source.value,
            external_id=ticket.ref.external_id,
            channel=ticket.ref.channel,
            first_seen_at=utcnow(),
            created_at=ticket.created_at,
        )
        session.add(row)
    row.subject, row.text, row.requester_id = ticket.subject, ticket.text, requester.id
    row.status = ticket.status.value
    row.priority = ticket.priority.value if ticket.priority else None
    row.tags, row.url, row.updated_at = list(ticket.tags), ticket.url, ticket.updated_at
    session.flush()
    return row


def record_decision(
    session: Session, ticket: TicketRow, decision: Decision, *, trigger: str, inbox_event_id: int | None
) -> DecisionRow:
    """Store one decision with its reasons, candidates and latencies."""
    row = DecisionRow(
        ticket_id=ticket.id,
        ticket_ref=f"{ticket.source}:{ticket.external_id}",
        source=ticket.source,
        channel=ticket.channel,
        requester_id=ticket.requester_id,
        inbox_event_id=inbox_event_id,
        trigger=trigger,
        verdict=decision.verdict.value,
        confidence=decision.confidence,
        threshold=decision.threshold,
        reasons=list(decision.reasons),
        candidates=[
            {"article_id": c.article_id, "external_id": c.external_id, "title": c.title, "url": c.url, "score": c.score}
            for c in decision.candidates
        ],
        latency_ms=dict(decision.latency_ms),
        kb_version=decision.kb_version,
        model=decision.model,
        dry_run=decision.dry_run,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def has_outcome(session: Session, ref: TicketRef, kind: str) -> bool:
    """Return whether an outcome of ``kind`` is already recorded for the ticket."""
    return session.scalar(
        select(OutcomeRow.id).where(OutcomeRow.ticket_ref == str(ref), OutcomeRow.kind == kind).limit(1)
    ) is not None


def record_outcome(
    session: Session, ref: TicketRef, kind: str, *, decision_id: int | None = None, value: float | None = None, **detail: object
) -> bool:
    """Record an outcome once per ticket and kind (``agent_reply`` and ``csat`` may repeat).

    ``escalated`` is claimed by the database (``uq_outcomes_one_escalation``: ``INSERT … ON CONFLICT DO
    NOTHING``): of two transactions escalating one request at the same moment, exactly one gets ``True``
    (PostgreSQL makes the second wait for the first's commit; SQLite has one writer at a time). A caller that
    gets ``False`` lost the request to another escalation and must write nothing of its own escalation.

    Returns:
        Whether a row was added.
    """
    if kind not in ("agent_reply", "csat", "escalated") and has_outcome(session, ref, kind):
        return False
    if decision_id is None:
        decision_id = session.scalar(
            select(DecisionRow.id).where(DecisionRow.ticket_ref == str(ref)).order_by(DecisionRow.id.desc()).limit(1)
        )
    values = {"decision_id": decision_id, "ticket_ref": str(ref), "kind": kind, "value": value, "detail": dict(detail),
              "created_at": utcnow()}
    if kind == "escalated":
        session.flush()  # the decision it names is in the database first
        claim = insert_ignoring(session, OutcomeRow, ["ticket_ref"], where=ONE_ESCALATION).values(**values).returning(OutcomeRow.id)
        return session.execute(claim).scalar() is not None
    session.add(OutcomeRow(**values))
    return True


def lock_request(session: Session, ref: TicketRef) -> DecisionRow | None:
    """Hold the request of ``ref`` for the rest of the transaction, then return its first decision.

    A check-then-write ("is there a verdict yet?", then write one) is only once when the check waits for the
    write of a concurrent transaction. The lock is an UPDATE of the request's decision that changes nothing,
    as the transaction's first statement: PostgreSQL locks the row until the commit (a second transaction waits
    there, then reads what the first committed); SQLite takes its one write lock, which the second waits for.

    Returns:
        The request's first decision, or ``None`` when there is no such request (nothing is held then).
    """
    session.execute(
        update(DecisionRow)
        .where(DecisionRow.ticket_ref == str(ref), DecisionRow.trigger == "request")
        .values(trigger="request")
        .execution_options(synchronize_session=False)
    )
    return first_decision(session, ref)


def first_decision(session: Session, ref: TicketRef) -> DecisionRow | None:
    """Return the decision made when the request arrived."""
    return session.scalars(
        select(DecisionRow).where(DecisionRow.ticket_ref == str(ref), DecisionRow.trigger == "request")
    ).first()


def was_answered(session: Session, ref: TicketRef) -> bool:
    """Return whether the hub answered the request publicly (not a shadow-mode draft, nor an answer withheld
    because people solved the ticket, replied to it or took it on in a note while it waited)."""
    first = first_decision(session, ref)
    answered = first is not None and first.verdict == "answer" and not first.dry_run
    return answered and not any(has_outcome(session, ref, taken) for taken in TAKEN_BY_PEOPLE)


def on_action_done(session: Session, action: OutboxAction) -> None:
    """Outbox bookkeeping: an answer that reached its thread is ``answer_posted`` (the hub's first
    response), one not posted because people took the ticket while it waited is ``already_solved``,
    ``already_replied`` or ``already_noted`` (never answered); a ticket of record created for an escalated thread is linked from the
    thread's ticket; a thread write a closed ticket refused carries the notes it held to the follow-up (:func:`carry_held`)."""
    payload = action.payload or {}
    decision = session.get(DecisionRow, payload["decision_id"]) if payload.get("decision_id") else None
    if action.action == "post_reply" and payload.get("kind") == "answer" and decision is not None:
        result = action.result or {}
        ref = TicketRef.parse(payload["ref"])
        if result.get("withheld") in TAKEN_BY_PEOPLE:
            record_outcome(session, ref, result["withheld"], decision_id=decision.id, status=result.get("status"))
        else:
            record_outcome(session, ref, "answer_posted", decision_id=decision.id)
    elif action.action in ("create_ticket", "create_follow_up") and action.result:  # a follow-up replaces a closed one
        origin = TicketRef.parse(payload["origin"]["ref"])
        row = find_ticket(session, origin)
        if row is not None:
            row.escalated_to, row.escalated_url = action.result.get("ref"), action.result.get("url")
    if (action.result or {}).get("closed") and payload.get("mirror_of"):
        carry_held(session, action)


def carry_held(session: Session, action: OutboxAction) -> None:
    """A thread write its closed ticket of record refused (``connectors.follow_up.on_closed``): the notes and edits it
    held (``{"held"}``) are written on the follow-up (:func:`core.outbox.follow_up_write`) once a follow-up is asked
    for: this write asked for it (``{"follow_up"}``), or its create row exists. Each held write is asked for once
    (its key), whichever of the two rows is done first.

    Of two such rows done at the same moment, one held and one asking for the follow-up, each must see the other: both
    first hold the thread's ticket row (an UPDATE that changes nothing, as :func:`lock_request`), so the second waits
    for the first's commit and then reads it (PostgreSQL; SQLite has one writer at a time)."""
    result, payload = action.result or {}, action.payload or {}
    closed, thread = str(result["closed"]), TicketRef.parse(str(payload["mirror_of"]))
    session.execute(
        update(TicketRow)
        .where(TicketRow.source == thread.source.value, TicketRow.external_id == thread.external_id)
        .values(source=thread.source.value)
        .execution_options(synchronize_session=False)
    )
    key = follow_up_key(closed)
    if not result.get("follow_up") and session.scalar(select(OutboxAction.id).where(OutboxAction.idempotency_key == key)) is None:
        return  # held until a word of the requester's asks for a follow-up
    refused = select(OutboxAction).where(OutboxAction.ticket_ref == closed, OutboxAction.status == "done")
    for row in session.scalars(refused).all():
        if (row.result or {}).get("held") == key:
            enqueue(session, follow_up_write(closed, row.idempotency_key, row.payload["text"], author_id=row.payload.get("author_id"),
                                             internal=row.action == "add_internal_note"), max_attempts=action.max_attempts)


def record_request(
    session: Session, ticket: Ticket, decision: Decision, *, inbox_event_id: int | None, error: str | None = None
) -> DecisionRow:
    """Record a new request's ticket and decision; an ESCALATE also records the ``escalated`` outcome (with the
    ``error`` that kept the hub from reading the request's thread, when one did)."""
    row = upsert_ticket(session, ticket)
    decided = record_decision(session, row, decision, trigger="request", inbox_event_id=inbox_event_id)
    if not is_answer(decision):
        detail: dict[str, Any] = {"error": error} if error is not None else {}
        record_outcome(session, ticket.ref, "escalated", decision_id=decided.id, reason=main_reason(decision), **detail)
    return decided


def main_reason(decision: Decision) -> str:
    """Return the reason an escalation is filed under (the decision's first)."""
    return decision.reasons[0] if decision.reasons else "not_confident"
