"""The reports the API serves: period stats, daily series, content gaps and recent decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.facts import Fate, RequestFacts, classify, recontact_index
from core.analytics.gaps import GapRequest, group_gaps
from core.analytics.load import Dataset, load
from core.analytics.period import Period
from core.analytics.summary import Costs, counts, rates, summarize
from core.db import DecisionRow, TicketRow


def fates(dataset: Dataset, now: datetime) -> list[tuple[RequestFacts, Fate]]:
    """Classify every request of ``dataset`` as of ``now``."""
    index = recontact_index(list(dataset.later_requests))
    return [(facts, classify(facts, index, now)) for facts in dataset.requests]


def stats(session: Session, period: Period, *, channel: str | None, costs: Costs, now: datetime) -> dict[str, Any]:
    """Every figure of docs/metrics.md for the period, overall and per channel.

    Args:
        session: an open session.
        period: which requests (by decision time).
        channel: keep only this channel, or ``None`` for all.
        costs: the configured unit costs.
        now: the evaluation time.

    Returns:
        The JSON document of ``GET /api/v1/stats``.
    """
    classified = fates(load(session, period, channel), now)
    by_channel: dict[str, list[Fate]] = {}
    for facts, fate in classified:
        by_channel.setdefault(facts.channel, []).append(fate)
    doc: dict[str, Any] = {"period": period.as_dict(), "channel": channel, "computed_at": now.isoformat()}
    doc.update(summarize([fate for _, fate in classified], costs))
    doc["channels"] = [
        {"channel": name, **{k: v for k, v in counts(group).items() if not k.startswith("split_")}, **rates(counts(group))}
        for name, group in sorted(by_channel.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    return doc


def series(session: Session, period: Period, *, channel: str | None, now: datetime) -> dict[str, Any]:
    """The period's counts and rates per UTC day (a request belongs to the day of its decision).

    Returns:
        ``{"period", "channel", "computed_at", "days": [{"date", <counts>, <rates>}]}``; every day of the
        period is present, days without requests have zero counts and ``null`` rates.
    """
    per_day: dict[str, list[Fate]] = {day.isoformat(): [] for day in period.days()}
    for facts, fate in fates(load(session, period, channel), now):
        per_day.setdefault(facts.decided_at.date().isoformat(), []).append(fate)
    days = []
    for day, group in per_day.items():
        c = counts(group)
        days.append({"date": day, **c, **rates(c)})
    return {"period": period.as_dict(), "channel": channel, "computed_at": now.isoformat(), "days": days}


def content_gaps(session: Session, period: Period, *, channel: str | None, now: datetime, limit: int = 10) -> dict[str, Any]:
    """Topics people asked about that no article answered, most frequent first.

    A request is a gap when it went to a person (``escalated``) or stayed ``unresolved`` and either its
    confidence was below its threshold or the requester said the answer did not help. Escalations of
    confident requests (sensitive topics, asks for a human) are not gaps: an article existed.

    Returns:
        ``{"period", "channel", "requests": <gap requests>, "groups": [...]}`` (see ``group_gaps``).
    """
    dataset = load(session, period, channel)
    gaps = [
        GapRequest(facts.ticket_ref, facts.channel, *dataset.texts.get(facts.ticket_ref, ("", "")), facts.confidence, facts.decided_at)
        for facts, fate in fates(dataset, now)
        if fate.bucket in ("escalated", "unresolved")
        and (facts.confidence < facts.threshold or fate.feedback == "not_solved" or fate.bucket == "unresolved")
    ]
    background = [f"{subject}\n{text}" for subject, text in dataset.texts.values()]
    groups = group_gaps(gaps, background=background, limit=limit)
    return {"period": period.as_dict(), "channel": channel, "requests": len(gaps), "groups": groups}


def recent_decisions(session: Session, *, channel: str | None, limit: int = 25) -> list[dict[str, Any]]:
    """The newest decisions (requests and follow-ups), with confidence, reasons and the ticket's subject."""
    query = (
        select(DecisionRow, TicketRow.subject)
        .outerjoin(TicketRow, TicketRow.id == DecisionRow.ticket_id)
        .order_by(DecisionRow.created_at.desc(), DecisionRow.id.desc())
        .limit(limit)
    )
    if channel:
        query = query.where(DecisionRow.channel == channel)
    return [
        {
            "id": d.id,
            "ticket_ref": d.ticket_ref,
            "source": d.source,
            "channel": d.channel or d.source,
            "trigger": d.trigger,
            "verdict": d.verdict,
            "dry_run": bool(d.dry_run),
            "confidence": round(float(d.confidence or 0.0), 4),
            "threshold": round(float(d.threshold if d.threshold is not None else 1.0), 4),
            "reasons": [str(r) for r in (d.reasons or [])],
            "top_article": next((c.get("title") for c in (d.candidates or []) if isinstance(c, dict)), None),
            "subject": subject or "",
            "created_at": d.created_at.isoformat(),
        }
        for d, subject in session.execute(query)
    ]
