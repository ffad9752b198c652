"""Queries: the decision and outcome rows of a period, turned into ``RequestFacts``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.facts import RECONTACT_WINDOW, OutcomeFact, RequestFacts
from core.analytics.period import Period
from core.db import DecisionRow, OutboxAction, OutcomeRow, PersonRow, TicketRow
from core.outbox import hand_over_key

CHUNK = 500


@dataclass(frozen=True)
class Dataset:
    """The requests of a period with their facts, the re-contact candidates and the request texts."""

    requests: tuple[RequestFacts, ...]
    later_requests: tuple[tuple[str | None, datetime, str], ...]  # (person, decided_at, ticket_ref)
    texts: dict[str, tuple[str, str]]  # ticket_ref -> (subject, text)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values), key=str)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def person_keys(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Map person ids to a cross-channel key: ``email:<lower(email)>`` when known, else ``person:<id>``."""
    keys: dict[int, str] = {}
    for chunk in _chunks(i for i in ids if i is not None):
        for pid, email in session.execute(select(PersonRow.id, PersonRow.email).where(PersonRow.id.in_(chunk))):
            keys[pid] = f"email:{email.strip().lower()}" if email and email.strip() else f"person:{pid}"
    return keys


def tickets_of_record(session: Session, refs: Iterable[str]) -> set[str]:
    """Those of ``refs`` that are tickets the hub created for an escalated request (not new requests)."""
    found: set[str] = set()
    for chunk in _chunks(refs):
        found.update(session.scalars(select(TicketRow.escalated_to).where(TicketRow.escalated_to.in_(chunk))))
    return found


def failed_hand_overs(session: Session, refs: Iterable[str]) -> dict[str, datetime]:
    """Those of ``refs`` (chat threads) whose hand-over to people failed and is failed still (its outbox row,
    :func:`core.outbox.hand_over_key`: a ticket of record never created, a triage post never made), with when it
    failed. A row re-queued by ``hub retry`` is not failed any more; one done since has reached people."""
    keys = {hand_over_key(ref): ref for ref in refs}
    found: dict[str, datetime] = {}
    for chunk in _chunks(keys):
        rows = session.execute(select(OutboxAction.idempotency_key, OutboxAction.finished_at, OutboxAction.created_at)
                               .where(OutboxAction.idempotency_key.in_(chunk), OutboxAction.status == "failed"))
        found.update({keys[key]: finished or created for key, finished, created in rows})
    return found


def _outcomes(session: Session, by_ref: dict[str, str], by_decision: dict[int, str]) -> dict[str, list[OutcomeFact]]:
    """Outcomes of the requests, found by ticket ref (incl. the ticket of record) or by decision id."""
    rows: dict[int, tuple[str, OutcomeFact]] = {}
    columns = (OutcomeRow.id, OutcomeRow.ticket_ref, OutcomeRow.decision_id, OutcomeRow.kind, OutcomeRow.created_at, OutcomeRow.value)
    for chunk in _chunks(by_ref):
        for oid, ref, _, kind, at, value in session.execute(select(*columns).where(OutcomeRow.ticket_ref.in_(chunk))):
            rows[oid] = (by_ref[ref], OutcomeFact(kind, at, value))
    for chunk in _chunks(by_decision):
        for oid, _, did, kind, at, value in session.execute(select(*columns).where(OutcomeRow.decision_id.in_(chunk))):
            if did is not None:
                rows.setdefault(oid, (by_decision[did], OutcomeFact(kind, at, value)))
    grouped: dict[str, list[OutcomeFact]] = {}
    for ref, fact in rows.values():
        grouped.setdefault(ref, []).append(fact)
    return grouped


def load(session: Session, period: Period, channel: str | None = None) -> Dataset:
    """Read every request decided in ``period`` (optionally one channel) and what followed it.

    Re-contact candidates are read across every channel, up to 48 h past the period's end. A ticket the hub
    created as the ticket of record of an escalated request (``tickets.escalated_to``) is neither a request
    nor a re-contact, even if a decision was recorded for it.

    Args:
        session: an open session.
        period: the requests' decision times.
        channel: ``decisions.channel`` to keep (a Slack channel id, ``zendesk``, ``jira``, ...), or all.

    Returns:
        The dataset ``core.analytics.compute`` turns into figures.
    """
    query = (
        select(DecisionRow, TicketRow)
        .outerjoin(TicketRow, TicketRow.id == DecisionRow.ticket_id)
        .where(DecisionRow.trigger == "request", DecisionRow.created_at >= period.start, DecisionRow.created_at < period.end)
        .order_by(DecisionRow.created_at, DecisionRow.id)
    )
    if channel:
        query = query.where(DecisionRow.channel == channel)
    pairs: Sequence[Any] = session.execute(query).all()
    of_record = tickets_of_record(session, (d.ticket_ref for d, _ in pairs))
    pairs = [(d, t) for d, t in pairs if d.ticket_ref not in of_record]
    refs = {d.ticket_ref: d.ticket_ref for d, _ in pairs}
    by_ref = dict(refs)
    by_ref.update({t.escalated_to: d.ticket_ref for d, t in pairs if t is not None and t.escalated_to})
    follow_ups: dict[str, list[tuple[datetime, str]]] = {}
    by_decision = {d.id: d.ticket_ref for d, _ in pairs}
    for chunk in _chunks(refs):
        for did, ref, at, verdict in session.execute(
            select(DecisionRow.id, DecisionRow.ticket_ref, DecisionRow.created_at, DecisionRow.verdict).where(
                DecisionRow.ticket_ref.in_(chunk), DecisionRow.trigger != "request"
            )
        ):
            follow_ups.setdefault(ref, []).append((at, verdict))
            by_decision[did] = ref
    outcomes = _outcomes(session, by_ref, by_decision)
    failed = failed_hand_overs(session, refs)
    keys = person_keys(session, (d.requester_id or (t.requester_id if t else None) for d, t in pairs))
    requests = tuple(
        RequestFacts(
            decision_id=d.id,
            ticket_ref=d.ticket_ref,
            source=d.source,
            channel=d.channel or d.source,
            person=keys.get(d.requester_id or (t.requester_id if t else None) or -1),
            verdict=d.verdict,
            dry_run=bool(d.dry_run),
            confidence=float(d.confidence or 0.0),
            threshold=float(d.threshold if d.threshold is not None else 1.0),
            decided_at=d.created_at,
            ticket_created_at=t.created_at if t is not None else None,
            follow_ups=tuple(sorted(follow_ups.get(d.ticket_ref, []))),
            outcomes=tuple(outcomes.get(d.ticket_ref, [])),
            reasons=tuple(str(r) for r in (d.reasons or [])),
            handover_failed_at=failed.get(d.ticket_ref),
        )
        for d, t in pairs
    )
    later = session.execute(
        select(DecisionRow.ticket_ref, DecisionRow.created_at, DecisionRow.requester_id, TicketRow.requester_id)
        .outerjoin(TicketRow, TicketRow.id == DecisionRow.ticket_id)
        .where(
            DecisionRow.trigger == "request",
            DecisionRow.created_at > period.start,
            DecisionRow.created_at <= period.end + RECONTACT_WINDOW,
        )
    ).all()
    of_record = tickets_of_record(session, (ref for ref, _, _, _ in later))
    later = [row for row in later if row[0] not in of_record]
    later_keys = person_keys(session, (own or via for _, _, own, via in later))
    return Dataset(
        requests=requests,
        later_requests=tuple((later_keys.get(own or via or -1), at, ref) for ref, at, own, via in later),
        texts={d.ticket_ref: ((t.subject or "") if t else "", (t.text or "") if t else "") for d, t in pairs},
    )
