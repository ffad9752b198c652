"""The content-gap report: requests no article could answer, grouped by meaning, each named by its medoid.

A gap is an escalation the knowledge base could not answer: the request's own decision escalated because no
candidate, no passage, or too little confidence, and for no policy reason (a sensitive topic, "I want a human",
frustration, an earlier fallback in the thread). Answered requests are never gaps, whatever followed them.
Requests with no salient word ("hello", "thanks") are counted apart and never named as a topic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

import numpy as np

from core.analytics.clusters import (
    EMBEDDING_THRESHOLD,
    LEXICAL_THRESHOLD,
    Embed,
    cluster,
    embed_vectors,
    idf_weights,
    lexical_vectors,
    medoid,
    terms,
)
from core.models import subject_and_text

UNANSWERABLE = frozenset({"no_candidate", "no_passage", "confidence_below_threshold"})
POLICY = frozenset({"asked_for_human", "frustration", "fallback_in_thread", "answered_before", "dry_run", "too_long"})
MAX_GROUPED = 1000  # the newest gap requests that are clustered (the rest only counted): bounds the O(n^2) work

__all__ = ["GapRequest", "group_gaps", "is_gap", "terms"]


@dataclass(frozen=True)
class GapRequest:
    """One request that went to a person because no article answered it."""

    ticket_ref: str
    channel: str
    subject: str
    text: str
    confidence: float
    decided_at: datetime
    decision_id: int | None = None


def is_gap(verdict: str, reasons: Sequence[str], confidence: float, threshold: float) -> bool:
    """Whether a request's own decision makes it a content gap.

    Args:
        verdict: the request decision's verdict (``answer`` or ``escalate``).
        reasons: its reasons (``interceptor.decide.blocking_reasons`` names them).
        confidence: its calibrated confidence.
        threshold: the channel's threshold it was held to.

    Returns:
        True for an escalation without any policy reason whose reasons say no article answered (or, for rows
        that recorded no reason, whose confidence was below the threshold).
    """
    if verdict == "answer":
        return False
    if any(r in POLICY or r.startswith("sensitive_topic") for r in reasons):
        return False
    return any(r in UNANSWERABLE for r in reasons) or confidence < threshold


def _text(r: GapRequest) -> str:
    return subject_and_text(r.subject, r.text)


def group_gaps(
    requests: list[GapRequest],
    *,
    background: Iterable[str] = (),
    embed: Embed | None = None,
    limit: int = 10,
    examples: int = 3,
) -> dict[str, Any]:
    """Group gap requests by meaning, biggest group first, each named by its most typical request.

    Args:
        requests: the gap requests of the period.
        background: the texts of every request of the period (IDF of the lexical path and of the terms).
        embed: texts -> vectors (the sentence model), or ``None`` for the lexical path; a failing ``embed``
            falls back to the lexical path.
        limit: the most groups to return.
        examples: requests shown per group, the medoid first, then newest first.

    Returns:
        ``{"method": "embeddings"|"lexical", "unclear": <requests without a salient word>, "groups":
        [{"label", "medoid_ref", "medoid_decision_id", "terms", "count", "examples", "ticket_refs", "decision_ids", "channels",
        "avg_confidence", "last_seen"}]}``.
    """
    ordered = sorted(requests, key=lambda r: (r.decided_at, r.ticket_ref))
    docs = [r for r in ordered if terms(_text(r))][-MAX_GROUPED:]
    unclear = sum(1 for r in ordered if not terms(_text(r)))
    texts = [_text(r) for r in docs]
    idf, unseen = idf_weights([*background, *texts])
    vectors = embed_vectors(embed, texts) if embed is not None and texts else None
    # with nothing to group, the method is the one that would group them (not "lexical" beside a loaded model)
    method = "embeddings" if vectors is not None or (embed is not None and not texts) else "lexical"
    if vectors is None:
        vectors = lexical_vectors(texts, idf, unseen)
    groups = cluster(vectors, EMBEDDING_THRESHOLD if method == "embeddings" else LEXICAL_THRESHOLD)
    groups.sort(key=lambda g: (-len(g), -max(docs[i].decided_at.timestamp() for i in g)))
    report = [_describe(docs, vectors, ids, idf, unseen, examples) for ids in groups[:limit]]
    return {"method": method, "unclear": unclear, "groups": report}


def _describe(
    docs: list[GapRequest], vectors: np.ndarray, ids: list[int], idf: dict[str, float], unseen: float, examples: int
) -> dict[str, Any]:
    centre = docs[medoid(vectors, ids)]
    members = [docs[i] for i in ids]
    weight: Counter[str] = Counter()
    for m in members:
        weight.update({t: idf.get(t, unseen) for t in set(terms(_text(m)))})
    shown = [centre, *(m for m in reversed(members) if m is not centre)]
    return {
        "label": (centre.subject or centre.text)[:120],
        "medoid_ref": centre.ticket_ref,
        "medoid_decision_id": centre.decision_id,
        "terms": [t for t, _ in sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))[:4]],
        "count": len(members),
        "examples": list(dict.fromkeys((m.subject or m.text)[:120] for m in shown))[:examples],
        "ticket_refs": [m.ticket_ref for m in members],
        "decision_ids": [m.decision_id for m in members if m.decision_id is not None],
        "channels": sorted({m.channel for m in members}),
        "avg_confidence": round(sum(m.confidence for m in members) / len(members), 3),
        "last_seen": max(m.decided_at for m in members).isoformat(),
    }
