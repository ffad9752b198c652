"""The reports the API serves: period stats, daily series and content gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.analytics.facts import Fate, RequestFacts, classify, is_shadow, recontact_index
from core.analytics.clusters import Embed
from core.analytics.gaps import GapRequest, group_gaps, is_gap
from core.analytics.load import Dataset, load
from core.analytics.period import Period
from core.analytics.summary import Costs, counts, rates, summarize


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


def content_gaps(
    session: Session,
    period: Period,
    *,
    channel: str | None,
    now: datetime,
    limit: int = 10,
    embed: Embed | None = None,
) -> dict[str, Any]:
    """Topics people asked about that no article could answer, most frequent first.

    A request is a gap when its own decision escalated because no article answered it (no candidate, no
    passage, confidence below the threshold) and for no policy reason (``gaps.is_gap``). Answered requests,
    shadow answers and policy hand-offs (sensitive topics, asks for a human, frustration) are not gaps.

    Args:
        session: an open session.
        period: which requests (by decision time).
        channel: keep only this channel, or ``None`` for all.
        now: the evaluation time (unused by the rule, kept for the report's ``computed_at``).
        limit: the most groups to return.
        embed: texts -> vectors, to group by meaning; ``None`` (or a failing model) groups lexically.

    Returns:
        ``{"period", "channel", "computed_at", "requests": <gap requests>, "method", "unclear", "groups"}``
        (see ``group_gaps``).
    """
    dataset = load(session, period, channel)
    gaps = [
        GapRequest(facts.ticket_ref, facts.channel, *dataset.texts.get(facts.ticket_ref, ("", "")), facts.confidence,
                   facts.decided_at, facts.decision_id)
        for facts in dataset.requests
        if not is_shadow(facts.verdict, facts.dry_run, facts.reasons)
        and is_gap(facts.verdict, facts.reasons, facts.confidence, facts.threshold)
    ]
    background = [f"{subject}\n{text}" for subject, text in dataset.texts.values()]
    report = group_gaps(gaps, background=background, limit=limit, embed=embed)
    return {"period": period.as_dict(), "channel": channel, "computed_at": now.isoformat(), "requests": len(gaps), **report}
