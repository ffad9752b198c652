"""Honest deflection analytics, computed from decision and outcome rows (definitions: docs/metrics.md)."""

from core.analytics.facts import BUCKETS, RECONTACT_WINDOW, Fate, OutcomeFact, RequestFacts, classify
from core.analytics.period import Period, PeriodError, parse_period
from core.analytics.report import content_gaps, recent_decisions, series, stats
from core.analytics.summary import Costs, summarize

__all__ = [
    "BUCKETS",
    "RECONTACT_WINDOW",
    "Costs",
    "Fate",
    "OutcomeFact",
    "Period",
    "PeriodError",
    "RequestFacts",
    "classify",
    "content_gaps",
    "parse_period",
    "recent_decisions",
    "series",
    "stats",
    "summarize",
]
