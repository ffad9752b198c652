"""From fates to figures: counts, rates, CSAT, first response times and cost (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from core.analytics.facts import BUCKETS, Fate


@dataclass(frozen=True)
class Costs:
    """What one agent-handled ticket and one automated answer cost, in ``currency`` (ISO 4217, the admin's)."""

    agent_ticket: float
    automated_answer: float
    currency: str = "USD"


def rate(numerator: int, denominator: int) -> float | None:
    """Return ``numerator / denominator`` rounded to 4 places, or ``None`` when nothing was counted."""
    return round(numerator / denominator, 4) if denominator else None


def _quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile by the nearest-rank method (no interpolation), or ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timing(values: Iterable[float | None]) -> dict[str, Any]:
    """Count, median, 90th percentile and mean of the known durations, in seconds."""
    known = [v for v in values if v is not None]
    return {
        "count": len(known),
        "median_seconds": _quantile(known, 0.5),
        "p90_seconds": _quantile(known, 0.9),
        "mean_seconds": round(sum(known) / len(known), 3) if known else None,  # to the ms: 0.1 s made 11 ms "0.0"
    }


def counts(fates: list[Fate]) -> dict[str, int]:
    """The additive counts of a set of requests (sums over days equal the period's)."""
    split = {bucket: sum(1 for f in fates if f.bucket == bucket) for bucket in BUCKETS}
    answered = sum(1 for f in fates if f.answered)
    return {
        "requests": len(fates),
        "answered": answered,
        "escalated": split["escalated"],
        "escalated_direct": split["escalated"] - sum(1 for f in fates if f.escalated_after_answer),
        "escalated_after_answer": sum(1 for f in fates if f.escalated_after_answer),
        "shadow": split["shadow"],
        "human_handled": split["escalated"] + split["shadow"],
        "deflected": split["verified"] + split["assumed"],
        "confirmed_solved": sum(1 for f in fates if f.confirmed_solved),
        "recontacted": sum(1 for f in fates if f.recontacted),
        "pending": split["pending"],
        "unposted": split["unposted"],
        "already_solved": split["already_solved"],
        "already_replied": split["already_replied"],
        "already_noted": split["already_noted"],
        "handover_failed": split["handover_failed"],
        **{f"split_{bucket}": n for bucket, n in split.items()},
    }


def rates(c: dict[str, int]) -> dict[str, float | None]:
    """The rates of docs/metrics.md from ``counts`` (``None`` where the denominator is zero)."""
    return {
        "deflection_rate": rate(c["deflected"], c["requests"]),
        "verified_resolution_rate": rate(c["confirmed_solved"], c["answered"]),
        "assumed_resolution_rate": rate(c["split_assumed"], c["answered"]),
        "recontact_rate": rate(c["recontacted"], c["answered"]),
        "escalation_ratio": rate(c["escalated"], c["requests"]),
        "answer_rate": rate(c["answered"], c["requests"]),
    }


def summarize(fates: list[Fate], costs: Costs) -> dict[str, Any]:
    """Every figure of docs/metrics.md for one set of requests.

    Args:
        fates: the classified requests of the period (and channel).
        costs: the configured unit costs.

    Returns:
        ``counts``, ``split``, ``rates``, ``csat``, ``first_response`` and ``cost``, JSON-ready.
    """
    c = counts(fates)
    solved = sum(1 for f in fates if f.feedback == "solved")
    not_solved = sum(1 for f in fates if f.feedback == "not_solved")
    ratings = [v for f in fates for v in f.csat]
    automated = costs.automated_answer * c["answered"]
    agents = costs.agent_ticket * c["human_handled"]
    resolutions = c["deflected"] + c["human_handled"]
    return {
        "counts": {k: v for k, v in c.items() if not k.startswith("split_")},
        "split": {bucket: c[f"split_{bucket}"] for bucket in BUCKETS},
        "rates": rates(c),
        "csat": {
            "feedback_solved": solved,
            "feedback_not_solved": not_solved,
            "feedback_response_rate": rate(solved + not_solved, c["answered"]),
            "helpful_rate": rate(solved, solved + not_solved),
            "ratings": len(ratings),
            "average": round(sum(ratings) / len(ratings), 4) if ratings else None,
        },
        "first_response": {
            "hub": timing(f.hub_first_response_s for f in fates),
            "agents": timing(f.agent_first_response_s for f in fates),
        },
        "cost": {
            "currency": costs.currency,
            "agent_ticket_cost": costs.agent_ticket,
            "automated_answer_cost": costs.automated_answer,
            "automated_total": round(automated, 2),
            "agent_total": round(agents, 2),
            "total": round(automated + agents, 2),
            "per_automated_resolution": round(automated / c["deflected"], 4) if c["deflected"] else None,
            "per_verified_resolution": round(automated / c["confirmed_solved"], 4) if c["confirmed_solved"] else None,
            "blended_per_resolution": round((automated + agents) / resolutions, 4) if resolutions else None,
            "net_savings": round(costs.agent_ticket * c["deflected"] - automated, 2),
        },
    }
