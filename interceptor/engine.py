"""The engine: retrieve and score, decide, and (optionally) write, for one request's text.

``Interceptor`` holds a scorer (``interceptor.retrieval.scorer.build_scorer``), the settings it builds each channel's
:class:`~interceptor.types.Policy` from, and the optional LLM writer. ``build_interceptor`` wires the real
ones; tests pass a fake scorer to the constructor.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import weakref
from typing import Any, Callable, Protocol

from config.settings import Settings
from core.db import Database
from core.errors import ConfigError
from core.telemetry import count
from interceptor.decide import MAX_QUESTIONS, decide_request, one_topic
from interceptor.prefilter import clean, read_part
from interceptor.spelling import Speller, english_words
from interceptor.types import Candidate, Decision, Policy, Request, Scored, Scorer, ThreadState, Verdict
from interceptor.writer import LLMWriter, rewrite_answer

log = logging.getLogger(__name__)

SUGGEST_K = 5
_EVENT = {  # the log event key for a decision, by its first reason
    "confident": "answered",
    "confidence_below_threshold": "below-threshold",
    "no_candidate": "no-candidate",
    "dry_run": "dry-run",
}


_SPELLERS: "weakref.WeakKeyDictionary[Any, Speller]" = weakref.WeakKeyDictionary()
_SPELLERS_LOCK = threading.Lock()


def speller_for(scorer: object) -> Speller | None:
    """Return the speller for the KB ``scorer`` serves now (built once per index, from its BM25
    vocabulary), or ``None`` when the scorer exposes no lexical index (a fake in tests)."""
    lexical = getattr(getattr(scorer, "index", None), "lexical", None)
    vocabulary = getattr(lexical, "vocabulary", None)
    if lexical is None or not callable(vocabulary):
        return None
    with _SPELLERS_LOCK:
        speller = _SPELLERS.get(lexical)
        if speller is None:
            speller = _SPELLERS[lexical] = Speller(vocabulary(), english_words())
    return speller


def prefilter(text: str, speller: Speller | None = None) -> Request:
    """The prefilter stage: :func:`interceptor.prefilter.clean` of the part of ``text`` read
    (:func:`interceptor.prefilter.read_part`; the request is ``cut`` when that is not all of it), then spelling
    corrected per question."""
    read = read_part(text)
    request = clean(read) if read is text else dataclasses.replace(clean(read), cut=True)
    if speller is None:
        return request
    fixed = [speller.correct(q) for q in request.questions]
    return dataclasses.replace(request, searched=tuple(q for q, _ in fixed),
                               corrections=tuple(pair for _, pairs in fixed for pair in pairs),
                               unknown=tuple(speller.unknown_terms(q) for q, _ in fixed))


def decide_text(text: str, scorer: Scorer, policy: Policy, thread: ThreadState = ThreadState(), *,
                speller: Speller | None = None, k: int = 5) -> Decision:
    """Run prefilter, retrieve and score (each question on its own), and decide, for one request.

    Only the first :data:`~interceptor.decide.MAX_QUESTIONS` questions are scored; a request with more goes to
    a person (``too_many_questions``). Questions that all rank the same article first but do not all clear the
    threshold alone are one request about one topic: the request is then scored as a whole
    (:func:`interceptor.decide.one_topic`).

    Args:
        text: the request as written.
        scorer: retrieval and calibrated confidence.
        policy: the channel's policy.
        thread: what already happened in the request's thread.
        speller: corrects misspelled words against the KB vocabulary (``None``: no correction).
        k: candidates per question.

    Returns:
        The decision, with ``prefilter``, ``score`` and ``decide`` latencies (ms).
    """
    started = time.perf_counter()
    request = prefilter(text, speller)
    prefilter_ms = (time.perf_counter() - started) * 1000
    asked = list(zip(request.questions, request.queries))
    parts = [(q, scorer.score(searched, k=k)) for q, searched in asked[:MAX_QUESTIONS]]
    # one request about one article, asked in several sentences: score it whole
    if len(asked) <= MAX_QUESTIONS and one_topic(parts, policy):
        whole = " ".join(request.queries)
        request = dataclasses.replace(request, questions=(request.text,), searched=(whole,),
                                      unknown=(speller.unknown_terms(whole),) if speller is not None else ())
        parts = [(request.text, scorer.score(whole, k=k))]
    started = time.perf_counter()
    decision = decide_request(request, parts, policy, thread)
    decision.latency_ms["decide"] = (time.perf_counter() - started) * 1000
    decision.latency_ms["prefilter"] = prefilter_ms
    return dataclasses.replace(decision, questions=request.questions)


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
        decision = decide_text(text, self.scorer, policy, thread, speller=speller_for(self.scorer), k=SUGGEST_K)
        if self.writer is not None and decision.verdict is Verdict.ANSWER and len(decision.questions) <= 1:
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
    """Build the interceptor: the KB scorer (loads the KB index), the speller (loads its word list, so the
    first request does not wait for it) and the writer when ``settings.llm`` is set."""
    from interceptor.retrieval.scorer import build_scorer

    writer = LLMWriter(settings.llm) if settings.llm is not None else None
    interceptor = Interceptor(settings, build_scorer(settings, db), writer=writer)
    speller_for(interceptor.scorer)
    return interceptor


class LazyInterceptor:
    """Builds the interceptor on first use, once, and hands out the same one afterwards (thread-safe).

    Args:
        build: builds the interceptor (``lambda: build_interceptor(settings, db)``).
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._built: Any = None
        self._failure: ConfigError | None = None
        self._lock = threading.Lock()

    def built(self) -> Interceptor | None:
        """Return the interceptor if it was built already (never builds it)."""
        return self._built  # type: ignore[no-any-return]

    def failure(self) -> ConfigError | None:
        """Return the configuration error the last attempt to build failed with (``None`` once built or before
        any attempt), for ``/healthz``."""
        return self._failure

    def __call__(self) -> Interceptor:
        """Return the interceptor, building it the first time (again on the next call when that failed).

        Raises:
            ConfigError: the interceptor cannot be built as configured (an embedding model that cannot load).
        """
        if self._built is None:
            with self._lock:
                if self._built is None:
                    try:
                        self._built = self._build()
                    except ConfigError as e:
                        self._failure = e
                        raise
                    self._failure = None
        return self._built
