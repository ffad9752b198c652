"""The content-gap report: escalated requests no article answered, grouped by shared salient terms.

TF-IDF vectors of the request texts (subject weighted twice), then greedy grouping: each request, oldest
first, joins the most similar existing group when the cosine to the group's centroid reaches ``SIMILARITY``,
else starts a group. A group is labelled by its centroid's top terms.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SIMILARITY = 0.25
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being but by can cannot could did do
    does doing don for from get gets getting got had has have having hello help hey hi how however i if im in into
    is it its ive just know like me my need needs no not now of on or our out please problem same see so some still
    thank thanks that the their them then there these they this to trying try up us use using want was way we
    were what when where which while who why will with work working would you your""".split()
)
_WORD = re.compile(r"[a-z][a-z0-9]+")


@dataclass(frozen=True)
class GapRequest:
    """One request that went to a person because no article answered it."""

    ticket_ref: str
    channel: str
    subject: str
    text: str
    confidence: float
    decided_at: datetime


def terms(text: str) -> list[str]:
    """Lower-cased words of 3+ characters without stop words, plural ``s`` folded (``passwords`` -> ``password``)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {t: v / norm for t, v in vector.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def group_gaps(requests: list[GapRequest], *, limit: int = 10, examples: int = 3) -> list[dict[str, Any]]:
    """Group gap requests by topic, biggest group first.

    Args:
        requests: the requests to group (any order; they are taken oldest first).
        limit: the most groups to return.
        examples: subjects shown per group.

    Returns:
        ``[{"label", "terms", "count", "examples", "ticket_refs", "channels", "avg_confidence", "last_seen"}]``.
    """
    docs = sorted(requests, key=lambda r: (r.decided_at, r.ticket_ref))
    bags = [Counter(terms(f"{r.subject} {r.subject} {r.text}")) for r in docs]
    df = Counter(t for bag in bags for t in bag)
    n = len(docs)
    vectors = [_unit({t: tf * (math.log((1 + n) / (1 + df[t])) + 1) for t, tf in bag.items()}) for bag in bags]
    groups: list[dict[str, Any]] = []
    for doc, vector in zip(docs, vectors):
        if not vector:
            continue
        best = max(groups, key=lambda g: _cosine(vector, g["centroid"]), default=None)
        if best is None or _cosine(vector, best["centroid"]) < SIMILARITY:
            best = {"members": [], "sum": Counter()}
            groups.append(best)
        best["members"].append(doc)
        best["sum"].update(vector)
        best["centroid"] = _unit(dict(best["sum"]))
    groups.sort(key=lambda g: (-len(g["members"]), -max(m.decided_at.timestamp() for m in g["members"])))
    report = []
    for g in groups[:limit]:
        top = [t for t, _ in sorted(g["centroid"].items(), key=lambda kv: (-kv[1], kv[0]))[:4]]
        members = g["members"]
        report.append(
            {
                "label": " / ".join(top[:3]),
                "terms": top,
                "count": len(members),
                "examples": [m.subject or m.text[:120] for m in reversed(members[-examples:])],
                "ticket_refs": [m.ticket_ref for m in members],
                "channels": sorted({m.channel for m in members}),
                "avg_confidence": round(sum(m.confidence for m in members) / len(members), 3),
                "last_seen": max(m.decided_at for m in members).isoformat(),
            }
        )
    return report
