"""Honest deflection analytics, computed from decision and outcome rows (definitions: docs/metrics.md)."""

from core.analytics.facts import BUCKETS, RECONTACT_WINDOW, Fate, OutcomeFact, RequestFacts, classify
from core.analytics.period import Period, PeriodError, parse_period
from core.analytics.clusters import Embed
from core.analytics.decisions import decision_detail, recent_decisions
from core.analytics.report import content_gaps, series, stats
from core.analytics.summary import Costs, summarize

__all__ = [
    "BUCKETS",
    "RECONTACT_WINDOW",
    "Costs",
    "Embed",
    "Fate",
    "OutcomeFact",
    "Period",
    "PeriodError",
    "RequestFacts",
    "classify",
    "content_gaps",
    "decision_detail",
    "parse_period",
    "recent_decisions",
    "series",
    "stats",
    "summarize",
]
