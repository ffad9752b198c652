"""The content-gap report: escalated requests no article answered, grouped by shared salient terms.

Greedy grouping by the most salient shared term: a term's weight is its IDF over *all* requests of the
period (so words every request uses, such as "error", weigh little); the term covering the most ungrouped gap
requests, times that weight, anchors the next group of every gap request containing it. Repeat while a term
is shared by two or more ungrouped requests; what is left stays a group of one. A group is labelled by its
anchor term and the two terms with the highest summed TF-IDF in it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

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
    """Lower-cased words of 3+ characters without stop words; a plural ``s`` after a consonant or ``e`` is
    folded (``passwords`` -> ``password``, ``invoices`` -> ``invoice``; ``macos``, ``access`` stay)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and word[-2] not in "siuo":
            word = word[:-1]
        out.append(word)
    return out


def _idf(corpus: Iterable[str]) -> tuple[dict[str, float], float]:
    bags = [set(terms(text)) for text in corpus]
    df = Counter(t for bag in bags for t in bag)
    n = len(bags)
    return {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()}, math.log(1 + n) + 1


def group_gaps(
    requests: list[GapRequest], *, background: Iterable[str] = (), limit: int = 10, examples: int = 3
) -> list[dict[str, Any]]:
    """Group gap requests by topic, biggest group first.

    Args:
        requests: the requests to group.
        background: the texts of every request of the period (for IDF); the gap texts are always added.
        limit: the most groups to return.
        examples: subjects shown per group, newest first.

    Returns:
        ``[{"label", "terms", "count", "examples", "ticket_refs", "channels", "avg_confidence", "last_seen"}]``.
    """
    docs = sorted(requests, key=lambda r: (r.decided_at, r.ticket_ref))
    texts = [f"{r.subject}\n{r.text}" for r in docs]
    idf, unseen = _idf([*background, *texts])
    bags = [Counter(terms(text)) for text in texts]
    ungrouped = set(range(len(docs)))
    groups: list[tuple[str | None, list[int]]] = []
    while True:
        cover: dict[str, list[int]] = {}
        for i in sorted(ungrouped):
            for t in bags[i]:
                cover.setdefault(t, []).append(i)
        shared = [(len(ids) * idf.get(t, unseen), t) for t, ids in cover.items() if len(ids) >= 2]
        if not shared:
            break
        _, anchor = min((-score, t) for score, t in shared)
        groups.append((anchor, cover[anchor]))
        ungrouped -= set(cover[anchor])
    groups.extend((None, [i]) for i in sorted(ungrouped))
    groups.sort(key=lambda g: (-len(g[1]), -max(docs[i].decided_at.timestamp() for i in g[1])))
    report = []
    for anchor_term, ids in groups[:limit]:
        anchor = anchor_term or ""
        weight: Counter[str] = Counter()
        for i in ids:
            weight.update({t: tf * idf.get(t, unseen) for t, tf in bags[i].items()})
        ranked = [t for t, _ in sorted(weight.items(), key=lambda kv: (-kv[1], kv[0])) if t != anchor]
        top: list[str] = ([anchor] if anchor else []) + ranked[: 3 if anchor else 4]
        members = [docs[i] for i in ids]
        report.append(
            {
                "label": " / ".join(top[:3]) or "(no text)",
                "terms": top,
                "count": len(members),
                "examples": list(dict.fromkeys(m.subject or m.text[:120] for m in reversed(members)))[:examples],
                "ticket_refs": [m.ticket_ref for m in members],
                "channels": sorted({m.channel for m in members}),
                "avg_confidence": round(sum(m.confidence for m in members) / len(members), 3),
                "last_seen": max(m.decided_at for m in members).isoformat(),
            }
        )
    return report
