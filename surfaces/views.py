"""What the web API and the ``hub ask`` command show of a decision, and the input rules they share
(no Flask or click here: both surfaces use it)."""

from __future__ import annotations

from typing import Any

from config import Settings
from core.models import Source
from interceptor.act import is_answer
from interceptor.types import Candidate, Decision

MAX_TEXT_CHARS = 8000
WEB_CHANNEL = "web"


def candidate_json(c: Candidate) -> dict[str, Any]:
    """Return the public view of a candidate article."""
    return {"article_id": c.article_id, "title": c.title, "url": c.url, "score": round(c.score, 4)}


def decision_json(d: Decision) -> dict[str, Any]:
    """Return the JSON view of a decision.

    Returns:
        verdict, confidence, threshold, reasons, the answer (``None`` unless answered), citations, candidates,
        ``dry_run``, ``kb_version``, and ``draft``: the reply drafted for agents when the request goes to a
        person (``None`` when the hub answers it).
    """
    return {
        "verdict": d.verdict.value,
        "confidence": round(d.confidence, 4),
        "threshold": round(d.threshold, 4),
        "reasons": list(d.reasons),
        "answer": d.answer,
        "draft": None if is_answer(d) else d.draft,
        "citations": [{"title": c.title, "url": c.url} for c in d.citations],
        "candidates": [candidate_json(c) for c in d.candidates],
        "dry_run": d.dry_run,
        "kb_version": d.kb_version,
    }


def known_channels(settings: Settings) -> list[str]:
    """The channels a decision may be asked for: the sources (``web``, ``slack``, ``zendesk``, ``jira``) and
    every channel with a policy of its own in ``HUB_CHANNEL_POLICIES`` (for example a Slack channel id)."""
    return sorted({s.value for s in Source} | set(settings.channel_policies))


def channel_problem(channel: object, settings: Settings) -> str | None:
    """Return why ``channel`` cannot be used, or ``None`` when it is a known channel."""
    known = known_channels(settings)
    if isinstance(channel, str) and channel in known:
        return None
    shown = repr(channel)[:80]
    return f"unknown channel {shown}: use one of {', '.join(known)} (or give the channel a policy in HUB_CHANNEL_POLICIES)"
