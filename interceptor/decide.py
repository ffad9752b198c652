"""Decide: answer a request from the knowledge base, or let it through to agents with a draft.

Pure: :func:`decide` touches nothing but its arguments. The reasons are machine-readable and ordered with the
one that settled the decision first (the pipeline names an escalation after ``reasons[0]``).
"""

from __future__ import annotations

from typing import Sequence

from interceptor.compose import (DRAFT_CANDIDATES, compose_answer, compose_answers, compose_draft,
                                 compose_draft_questions)
from interceptor.guard import asks_for_human, classify_followup, is_frustrated, sensitive_topics
from interceptor.coverage import excluded_terms
from interceptor.retrieval.lexical import tokenize
from interceptor.types import Candidate, Decision, Policy, Request, Scored, ThreadState, Verdict

__all__ = ["decide", "decide_request", "one_topic", "classify_followup", "blocking_reasons", "PARTLY_ANSWERABLE"]

PARTLY_ANSWERABLE = "multiple_questions_partly_answerable"
TOO_MANY = "too_many_questions"
TOO_LONG = "too_long"  # longer than the prefilter reads (interceptor.prefilter.REQUEST_CHARS): a person reads it all
# More questions than this in one request go to a person (a draft for the first ones): each one is a
# retrieval, and an answer to dozens would be cut at the channel's length, dropping some.
MAX_QUESTIONS = 5
ALTERNATIVE = "asks_for_an_alternative"
_CONNECTIVES = frozenset(tokenize("instead rather besides other apart except alternative using without"))


def guard_reasons(texts: Sequence[str], policy: Policy, thread: ThreadState = ThreadState()) -> tuple[str, ...]:
    """Return the reasons not to answer that do not depend on retrieval, most decisive first.

    Args:
        texts: the request as written and as corrected (a guard that fires on any of them counts).
        policy: the channel's policy.
        thread: what already happened in the thread.

    Returns:
        Reasons among ``asked_for_human``, ``frustration``, ``fallback_in_thread``, ``answered_before``,
        ``sensitive_topic:<name>``.
    """
    reasons: list[str] = []
    if any(asks_for_human(t) for t in texts):
        reasons.append("asked_for_human")
    if any(is_frustrated(t) for t in texts):
        reasons.append("frustration")
    if thread.fallback_before:
        reasons.append("fallback_in_thread")
    if thread.answered_before:
        reasons.append("answered_before")
    if policy.guard_topics:
        found = {name for t in texts for name in sensitive_topics(t, policy.sensitive_topics)}
        reasons.extend(f"sensitive_topic:{name}" for name in policy.sensitive_topics if name in found)
    return tuple(reasons)


def retrieval_reasons(scored: Scored, policy: Policy) -> tuple[str, ...]:
    """Return why one question's retrieval cannot be answered: ``no_candidate``, ``no_passage``,
    ``confidence_below_threshold``, then ``target_not_backed`` when no confidence reaches the threshold at all
    (the calibration could not show the target precision on this KB: a fresh KB without history) (empty when
    its top passage clears the threshold)."""
    top = scored.top
    if top is None:
        return ("no_candidate",)
    reasons: tuple[str, ...] = ("no_passage",) if not top.passage.strip() else ()
    if scored.confidence < policy.threshold:
        reasons += ("confidence_below_threshold",) + (("target_not_backed",) if policy.threshold >= 1.0 else ())
    return reasons


def alternative_reasons(question: str, unknown: Sequence[str], scored: Scored) -> tuple[str, ...]:
    """Return ``asks_for_an_alternative`` when the top article is about what the request sets aside and the
    request wants something the KB never mentions ("Can I connect my Outlook calendar instead of Google?"
    and "Connect Google Calendar"): the article is a neighbour of the question, not its answer.

    Args:
        question: one question, as retrieval saw it.
        unknown: its index terms the KB vocabulary lacks.
        scored: its retrieval.
    """
    top = scored.top
    wanted = [t for t in unknown if t not in _CONNECTIVES]
    if top is None or not wanted:
        return ()
    set_aside = set(excluded_terms(question)) - set(wanted)
    about = set(tokenize(" ".join((top.title, *top.heading_path))))
    return (ALTERNATIVE,) if set_aside & about else ()


def blocking_reasons(text: str, scored: Scored, policy: Policy, thread: ThreadState = ThreadState()) -> tuple[str, ...]:
    """Return every reason not to answer, most decisive first (empty when the hub may answer).

    Args:
        text: the request's text.
        scored: its retrieval and calibrated confidence.
        policy: the channel's policy.
        thread: what already happened in the thread.

    Returns:
        Reasons among ``asked_for_human``, ``frustration``, ``fallback_in_thread``, ``answered_before``,
        ``sensitive_topic:<name>``, ``no_candidate``, ``no_passage``, ``confidence_below_threshold``.
    """
    return guard_reasons((text,), policy, thread) + retrieval_reasons(scored, policy)


def decide(text: str, scored: Scored, policy: Policy, thread: ThreadState = ThreadState()) -> Decision:
    """Decide what the hub does with one request scored as one question.

    ANSWER only when the confidence reaches the threshold, the top candidate gives a citation, and no guard
    objects (sensitive topic, a request for a person, frustration, an earlier fallback or answer in the
    thread). Shadow mode (``policy.dry_run``) turns an ANSWER into an ESCALATE whose draft holds the
    would-be answer.

    Args:
        text: the request's text.
        scored: its retrieval and calibrated confidence.
        policy: the channel's policy (threshold, topic guard, shadow mode, answer length limit).
        thread: what already happened in the request's thread.

    Returns:
        The decision: verdict, reasons, the public answer (ANSWER only) and the agents' draft (always).
    """
    return _single(blocking_reasons(text, scored, policy, thread), scored, policy)


def _single(blocked: tuple[str, ...], scored: Scored, policy: Policy) -> Decision:
    top = scored.top
    common = dict(
        confidence=scored.confidence,
        threshold=policy.threshold,
        candidates=scored.candidates,
        dry_run=policy.dry_run,
        kb_version=scored.kb_version,
        model=scored.model,
        latency_ms=dict(scored.latency_ms),
    )
    if blocked or top is None:
        return Decision(
            verdict=Verdict.ESCALATE,
            reasons=blocked or ("no_candidate",),
            answer=None,
            draft=compose_draft(scored, policy.threshold, blocked),
            citations=tuple(c.citation for c in scored.candidates[:DRAFT_CANDIDATES]),
            **common,  # type: ignore[arg-type]
        )
    answer = compose_answer(top, policy.max_answer_chars)
    reasons = ("dry_run", "confident") if policy.dry_run else ("confident",)
    return Decision(
        verdict=Verdict.ESCALATE if policy.dry_run else Verdict.ANSWER,
        reasons=reasons,
        answer=None if policy.dry_run else answer,
        draft=compose_draft(scored, policy.threshold, reasons, would_answer=answer),
        citations=(top.citation,),
        **common,  # type: ignore[arg-type]
    )

def one_topic(parts: Sequence[tuple[str, Scored]], policy: Policy) -> bool:
    """Whether several questions are one request about one article: not every question clears the
    threshold on its own, but all of them rank the same article first ("How can I change the PIN? Do I
    have to go to a bank?"). The engine then scores the request as a whole instead."""
    tops = {s.top.article_id if s.top else None for _, s in parts}
    return len(parts) > 1 and None not in tops and len(tops) == 1 and any(retrieval_reasons(s, policy) for _, s in parts)


def _alternative(request: Request, n: int, scored: Scored) -> tuple[str, ...]:
    if n >= len(request.unknown) or n >= len(request.queries):
        return ()
    return alternative_reasons(request.queries[n], request.unknown[n], scored)


def _merged_candidates(parts: Sequence[tuple[str, Scored]]) -> tuple[Candidate, ...]:
    """Every question's top candidate first, then the others; each article once."""
    seen: set[int] = set()
    out: list[Candidate] = []
    for candidate in [s.top for _, s in parts if s.top] + [c for _, s in parts for c in s.candidates]:
        if candidate is not None and candidate.article_id not in seen:
            seen.add(candidate.article_id)
            out.append(candidate)
    return tuple(out)


def decide_request(request: Request, parts: Sequence[tuple[str, Scored]], policy: Policy,
                   thread: ThreadState = ThreadState()) -> Decision:
    """Decide on a prefiltered request whose questions were scored one by one.

    A request with several questions is answered only when every question's own passage clears the
    threshold; the answer then quotes each passage with its own citation. When some but not all clear, it
    is let through with ``multiple_questions_partly_answerable`` first (a person answers all of it; the draft
    holds what could be answered): the hub never answers one question and drops the other.

    Args:
        request: the prefiltered request (its original text and its questions as corrected feed the guards).
        parts: ``(question as written, its retrieval and confidence)`` for each question, in order.
        policy: the channel's policy.
        thread: what already happened in the request's thread.

    Returns:
        The decision; ``confidence`` is the lowest of the questions' (one figure for the analytics).
    """
    guards = ((TOO_LONG,) if request.cut else ()) + guard_reasons((request.original, *request.queries), policy, thread)
    if len(parts) <= 1:
        scored = parts[0][1] if parts else Scored((), 0.0)
        return _single(guards + _alternative(request, 0, scored) + retrieval_reasons(scored, policy), scored, policy)
    if len(request.questions) > len(parts):  # only the first MAX_QUESTIONS were scored
        guards = (TOO_MANY, *guards)
    per_part = [_alternative(request, n, s) + retrieval_reasons(s, policy) for n, (_, s) in enumerate(parts)]
    failing = [r for reasons in per_part for r in reasons]
    if failing and any(not reasons for reasons in per_part):  # some questions clear, some do not
        failing = [PARTLY_ANSWERABLE, *failing]
    blocked = guards + tuple(dict.fromkeys(failing))
    latency: dict[str, float] = {}
    for _, s in parts:
        for key, ms in s.latency_ms.items():
            latency[key] = latency.get(key, 0.0) + ms
    candidates = _merged_candidates(parts)
    common = dict(
        confidence=min(s.confidence for _, s in parts),
        threshold=policy.threshold,
        candidates=candidates,
        dry_run=policy.dry_run,
        kb_version=parts[0][1].kb_version,
        model=parts[0][1].model,
        latency_ms=latency,
    )
    if blocked:
        return Decision(verdict=Verdict.ESCALATE, reasons=blocked, answer=None,
                        draft=compose_draft_questions(parts, policy.threshold, blocked),
                        citations=tuple(c.citation for c in candidates[:DRAFT_CANDIDATES]),
                        **common)  # type: ignore[arg-type]
    answered = [(q, s.top) for q, s in parts if s.top is not None]
    answer = compose_answers(answered, policy.max_answer_chars)
    citations = tuple(dict.fromkeys(c.citation for _, c in answered))
    reasons = ("dry_run", "confident") if policy.dry_run else ("confident",)
    return Decision(verdict=Verdict.ESCALATE if policy.dry_run else Verdict.ANSWER, reasons=reasons,
                    answer=None if policy.dry_run else answer,
                    draft=compose_draft_questions(parts, policy.threshold, reasons, would_answer=answer),
                    citations=citations, **common)  # type: ignore[arg-type]
