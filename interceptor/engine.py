"""The engine: retrieve and score, decide, and (optionally) write, for one request's text.

``Interceptor`` holds a scorer (``interceptor.retrieval.scorer.build_scorer``), the settings it builds each channel's
:class:`~interceptor.types.Policy` from, and the optional LLM writer. ``build_interceptor`` wires the real
ones; tests pass a fake scorer to the constructor.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Protocol

from config.settings import Settings
from core.db import Database
from core.telemetry import count
from interceptor.decide import decide
from interceptor.types import Candidate, Decision, Policy, Scored, ThreadState, Verdict
from interceptor.writer import LLMWriter, rewrite_answer

log = logging.getLogger(__name__)

SUGGEST_K = 5
_EVENT = {  # the log event key for a decision, by its first reason
    "confident": "answered",
    "confidence_below_threshold": "below-threshold",
    "no_candidate": "no-candidate",
    "dry_run": "dry-run",
}


class ThresholdScorer(Protocol):
    """A :class:`~interceptor.types.Scorer` that also maps a target precision to a threshold."""

    def score(self, text: str, *, k: int = 5) -> Scored: ...

    def threshold_for(self, target_precision: float) -> float: ...


class Interceptor:
    """Decides on requests' texts for any channel.

    Args:
        settings: the hub's settings (target precision, shadow mode, sensitive topics, channel policies).
        scorer: retrieval and calibrated confidence; ``threshold_for`` maps a target precision to a
            confidence threshold.
        writer: the optional generative writer (``None``: extractive answers only).
    """

    def __init__(self, settings: Settings, scorer: ThresholdScorer, *, writer: LLMWriter | None = None) -> None:
        self.settings = settings
        self.scorer = scorer
        self.writer = writer

    def policy(self, channel: str | None = None, *, guard_topics: bool = True) -> Policy:
        """Return the policy for ``channel``: its explicit threshold, else the scorer's threshold for its
        target precision (else the hub's); shadow mode from the channel, else the hub's setting.
        """
        channel_policy = self.settings.policy(channel)
        threshold = channel_policy.threshold
        if threshold is None:
            target = channel_policy.target_precision or self.settings.target_precision
            threshold = float(self.scorer.threshold_for(target))
        dry_run = self.settings.dry_run if channel_policy.dry_run is None else channel_policy.dry_run
        return Policy(
            threshold=threshold,
            sensitive_topics=tuple(self.settings.sensitive_topics),
            guard_topics=guard_topics,
            dry_run=dry_run,
        )

    def decide(
        self,
        text: str,
        *,
        channel: str | None = None,
        thread: ThreadState = ThreadState(),
        guard_topics: bool = True,
    ) -> Decision:
        """Score ``text`` against the KB and decide for ``channel``.

        Args:
            text: the request's text.
            channel: a Slack channel id or a source name (``zendesk``, ``jira``, ``web``); picks the policy.
            thread: what already happened in the request's thread.
            guard_topics: ``False`` switches the sensitive-topic guard off (evaluation only).

        Returns:
            The decision; an ANSWER's text is the writer's when one is configured and it cited the article.
        """
        policy = self.policy(channel, guard_topics=guard_topics)
        scored = self.scorer.score(text, k=SUGGEST_K)
        started = time.perf_counter()
        decision = decide(text, scored, policy, thread)
        decision.latency_ms["decide"] = (time.perf_counter() - started) * 1000
        if self.writer is not None and decision.verdict is Verdict.ANSWER:
            started = time.perf_counter()
            decision = rewrite_answer(decision, text, self.writer, policy.max_answer_chars)
            decision.latency_ms["write"] = (time.perf_counter() - started) * 1000
        first = decision.reasons[0] if decision.reasons else "none"
        event = _EVENT.get(first, first.split(":")[0].replace("_", "-"))
        log.info(f"interceptor.decide.{event}", extra={
            "channel": channel, "verdict": decision.verdict.value, "reasons": list(decision.reasons),
            "confidence": round(decision.confidence, 4), "threshold": round(decision.threshold, 4),
        })
        count("interceptor_decide", verdict=decision.verdict.value, reason=first)
        return decision

    def suggest(self, text: str, k: int = SUGGEST_K) -> list[Candidate]:
        """Return the top ``k`` articles for ``text`` (lexical-only when the scorer offers it: fast).

        Args:
            text: a partial or full request (as typed into a ticket form).
            k: how many articles.

        Returns:
            Candidates, best first (empty for an empty KB or text).
        """
        if not text.strip():
            return []
        lexical = getattr(self.scorer, "suggest", None)
        if callable(lexical):
            return list(lexical(text, k=k))
        return list(self.scorer.score(text, k=k).candidates)


def build_interceptor(settings: Settings, db: Database) -> Interceptor:
    """Build the interceptor: the KB scorer (loads the KB index) and the writer when ``settings.llm`` is set."""
    from interceptor.retrieval.scorer import build_scorer

    writer = LLMWriter(settings.llm) if settings.llm is not None else None
    return Interceptor(settings, build_scorer(settings, db), writer=writer)


class LazyInterceptor:
    """Builds the interceptor on first use, once, and hands out the same one afterwards (thread-safe).

    Args:
        build: builds the interceptor (``lambda: build_interceptor(settings, db)``).
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._built: Any = None
        self._lock = threading.Lock()

    def built(self) -> Interceptor | None:
        """Return the interceptor if it was built already (never builds it)."""
        return self._built  # type: ignore[no-any-return]

    def __call__(self) -> Interceptor:
        """Return the interceptor, building it the first time."""
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
        return self._built
