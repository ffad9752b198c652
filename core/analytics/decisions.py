"""Decisions as the dashboard lists them, and one decision in full (request, answer or draft, candidates, fate)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.analytics.facts import classify, is_shadow, recontact_index
from core.analytics.gaps import is_gap
from core.analytics.load import load
from core.analytics.period import Period
from core.db import DecisionRow, OutboxAction, OutcomeRow, TicketRow

MAX_ID = 2**31 - 1
_WRITES = {"post_reply": "answer", "add_internal_note": "draft", "create_ticket": "escalation"}


def _summary(d: DecisionRow, subject: str | None) -> dict[str, Any]:
    return {
        "id": d.id,
        "ticket_ref": d.ticket_ref,
        "source": d.source,
        "channel": d.channel or d.source,
        "trigger": d.trigger,
        "verdict": d.verdict,
        "dry_run": bool(d.dry_run),
        "shadow": is_shadow(d.verdict, bool(d.dry_run), [str(r) for r in (d.reasons or [])]),
        "confidence": round(float(d.confidence or 0.0), 4),
        "threshold": round(float(d.threshold if d.threshold is not None else 1.0), 4),
        "reasons": [str(r) for r in (d.reasons or [])],
        "top_article": next((c.get("title") for c in (d.candidates or []) if isinstance(c, dict)), None),
        "subject": subject or "",
        "created_at": d.created_at.isoformat(),
    }


def recent_decisions(session: Session, period: Period, *, channel: str | None, limit: int = 25) -> list[dict[str, Any]]:
    """The newest decisions of the period (requests and follow-ups), with confidence, reasons and subject.

    Args:
        session: an open session.
        period: keep decisions made in it (``decisions.created_at``), like every other figure.
        channel: keep only this channel (``decisions.channel``), or ``None`` for all.
        limit: the most rows to return.

    Returns:
        Rows newest first: ``id``, ``ticket_ref``, ``channel``, ``trigger``, ``verdict``, ``dry_run``,
        ``shadow`` (shadow mode held back an answer: ``facts.is_shadow``), ``confidence``, ``threshold``, ``reasons``, ``top_article``, ``subject``, ``created_at``.
    """
    query = (
        select(DecisionRow, TicketRow.subject)
        .outerjoin(TicketRow, TicketRow.id == DecisionRow.ticket_id)
        .where(DecisionRow.created_at >= period.start, DecisionRow.created_at < period.end)
        .order_by(DecisionRow.created_at.desc(), DecisionRow.id.desc())
        .limit(limit)
    )
    if channel:
        query = query.where(DecisionRow.channel == channel)
    return [_summary(d, subject) for d, subject in session.execute(query)]


def _fate(session: Session, d: DecisionRow, now: datetime) -> str | None:
    """The bucket of docs/metrics.md the request ended in as of ``now`` (``None`` for a follow-up)."""
    if d.trigger != "request":
        return None
    period = Period(start=d.created_at, end=d.created_at + timedelta(microseconds=1))
    dataset = load(session, period, d.channel)
    index = recontact_index(list(dataset.later_requests))
    return next((classify(f, index, now).bucket for f in dataset.requests if f.decision_id == d.id), None)


def _writes(session: Session, d: DecisionRow) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OutboxAction).where(OutboxAction.ticket_ref == d.ticket_ref).order_by(OutboxAction.created_at, OutboxAction.id)
    )
    out = []
    for row in rows:
        payload = row.payload or {}
        if payload.get("decision_id") not in (None, d.id):
            continue
        out.append(
            {
                "kind": str(payload.get("kind") or _WRITES.get(row.action, row.action)),
                "action": row.action,
                "connector": row.connector,
                "status": row.status,
                "withheld": (row.result or {}).get("withheld"),  # done without a write: already_solved, already_replied
                "text": str(payload.get("draft") if row.action == "create_ticket" else payload.get("text") or ""),
                "citations": [c for c in payload.get("citations") or [] if isinstance(c, dict)],
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(),
            }
        )
    return out


def decision_detail(session: Session, decision_id: int, *, now: datetime) -> dict[str, Any] | None:
    """One decision with its request, what the hub wrote (the answer or the agents' draft), and what followed.

    Args:
        session: an open session.
        decision_id: ``decisions.id``.
        now: the evaluation time of the request's bucket.

    Returns:
        ``None`` when there is no such decision; else the row of ``recent_decisions`` plus ``request``
        (subject, text, url, status, created_at, escalated_to, escalated_url), ``candidates``,
        ``latency_ms``, ``kb_version``, ``model``, ``writes`` (outbox rows of this decision: kind answer,
        draft, escalation or notice, with text, citations, status and ``withheld``), ``outcomes`` (kind, time, value,
        detail), ``bucket`` (docs/metrics.md; ``None`` for a follow-up), ``content_gap`` (whether the
        content-gap report counts it) and ``others`` (the other decisions on the ticket).
    """
    if not 0 < decision_id <= MAX_ID:
        return None  # PostgreSQL's integer would overflow: no such decision, not a database error
    d = session.get(DecisionRow, decision_id)
    if d is None:
        return None
    ticket = session.get(TicketRow, d.ticket_id) if d.ticket_id is not None else None
    doc = _summary(d, ticket.subject if ticket else "")
    doc["request"] = {
        "subject": ticket.subject if ticket else "",
        "text": ticket.text if ticket else "",
        "url": ticket.url if ticket else None,
        "status": ticket.status if ticket else None,
        "created_at": ticket.created_at.isoformat() if ticket else None,
        "escalated_to": ticket.escalated_to if ticket else None,
        "escalated_url": ticket.escalated_url if ticket else None,
    }
    doc["candidates"] = [c for c in (d.candidates or []) if isinstance(c, dict)]
    doc.update(latency_ms=dict(d.latency_ms or {}), kb_version=d.kb_version, model=d.model)
    doc["writes"] = _writes(session, d)
    refs = [d.ticket_ref] + ([ticket.escalated_to] if ticket is not None and ticket.escalated_to else [])
    outcomes = session.scalars(
        select(OutcomeRow)
        .where(or_(OutcomeRow.decision_id == d.id, OutcomeRow.ticket_ref.in_(refs)))
        .order_by(OutcomeRow.created_at, OutcomeRow.id)
    )
    doc["outcomes"] = [
        {"kind": o.kind, "at": o.created_at.isoformat(), "value": o.value, "detail": dict(o.detail or {})} for o in outcomes
    ]
    doc["bucket"] = _fate(session, d, now)
    doc["content_gap"] = d.trigger == "request" and not doc["shadow"] and is_gap(
        d.verdict, doc["reasons"], doc["confidence"], doc["threshold"])
    doc["others"] = [
        {"id": o.id, "trigger": o.trigger, "verdict": o.verdict, "created_at": o.created_at.isoformat()}
        for o in session.scalars(
            select(DecisionRow).where(DecisionRow.ticket_ref == d.ticket_ref, DecisionRow.id != d.id).order_by(DecisionRow.id)
        )
    ]
    return doc
