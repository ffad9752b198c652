"""Decide: answer a request from the knowledge base, or let it through to agents with a draft.

Pure: :func:`decide` touches nothing but its arguments. The reasons are machine-readable and ordered with the
one that settled the decision first (the pipeline names an escalation after ``reasons[0]``).
"""

from __future__ import annotations

from interceptor.compose import DRAFT_CANDIDATES, compose_answer, compose_draft
from interceptor.guard import asks_for_human, classify_followup, is_frustrated, sensitive_topics
from interceptor.types import Decision, Policy, Scored, ThreadState, Verdict

__all__ = ["decide", "classify_followup", "blocking_reasons"]


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
    reasons: list[str] = []
    if asks_for_human(text):
        reasons.append("asked_for_human")
    if is_frustrated(text):
        reasons.append("frustration")
    if thread.fallback_before:
        reasons.append("fallback_in_thread")
    if thread.answered_before:
        reasons.append("answered_before")
    if policy.guard_topics:
        reasons.extend(f"sensitive_topic:{name}" for name in sensitive_topics(text, policy.sensitive_topics))
    top = scored.top
    if top is None:
        reasons.append("no_candidate")
    else:
        if not top.passage.strip():
            reasons.append("no_passage")
        if scored.confidence < policy.threshold:
            reasons.append("confidence_below_threshold")
    return tuple(reasons)


def decide(text: str, scored: Scored, policy: Policy, thread: ThreadState = ThreadState()) -> Decision:
    """Decide what the hub does with one request.

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
    blocked = blocking_reasons(text, scored, policy, thread)
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
    if policy.dry_run:
        reasons = ("dry_run", "confident")
        return Decision(
            verdict=Verdict.ESCALATE,
            reasons=reasons,
            answer=None,
            draft=compose_draft(scored, policy.threshold, reasons, would_answer=answer),
            citations=(top.citation,),
            **common,  # type: ignore[arg-type]
        )
    return Decision(
        verdict=Verdict.ANSWER,
        reasons=("confident",),
        answer=answer,
        draft=compose_draft(scored, policy.threshold, ("confident",), would_answer=answer),
        citations=(top.citation,),
        **common,  # type: ignore[arg-type]
    )
