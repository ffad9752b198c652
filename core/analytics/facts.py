"""Per-request facts and their classification (pure: no I/O). The definitions are in docs/metrics.md.

Every request (a decision with ``trigger == "request"``) ends in exactly one bucket, the first that applies:

``handover_failed`` shadow or escalated (below), but the hand-over's write (a chat thread's ticket of record, or its
                triage post) failed, past the retry horizon or for good: no person has it, the admin must
                re-queue it (``hub retry``). Not human-handled, not escalated; once re-queued it is again what it was;
``shadow``      shadow mode: the hub would have answered (``is_shadow``), left a draft, agents handled it;
``escalated``   went to a person: an ESCALATE verdict (request or follow-up) or an ``escalated`` outcome;
``already_solved`` ANSWER verdict whose answer was never posted: people solved or closed the ticket while the
                answer waited in the outbox (an ``already_solved`` outcome). Not answered, not deflected;
``already_replied`` the same, because an agent replied in public while it waited (an ``already_replied`` outcome);
``already_noted`` the same, because an agent wrote an internal note while it waited (an ``already_noted`` outcome);
``unposted``    ANSWER verdict whose answer has not reached the thread (yet): not answered. Past the answer
                deadline it goes to a person (an ``escalated`` outcome) and is ``escalated`` instead (answered
                too when the vendor later turns out to have the answer: ``answer_posted`` as well);
A request is *answered* only when its answer was posted (an ``answer_posted`` outcome), never on the verdict
alone.

``recontacted`` answered, and the same person made a new request within 48 h of the answer;
``unresolved``  answered, the requester's latest word is ``not_solved`` or ``reopened``, no person took it;
``verified``    answered, the requester's latest word is ``solved``;
``assumed``     answered, no word, no re-contact, and the 48-hour window has closed;
``pending``     answered, no word, no re-contact yet, the window is still open.

Deflected = ``verified`` + ``assumed``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.models import ALREADY_NOTED, ALREADY_REPLIED, ALREADY_SOLVED, TAKEN_BY_PEOPLE

RECONTACT_WINDOW = timedelta(hours=48)
HANDOVER_FAILED = "handover_failed"
BUCKETS = ("verified", "assumed", "recontacted", "unresolved", "pending", "escalated", "shadow", "unposted",
           ALREADY_SOLVED, ALREADY_REPLIED, ALREADY_NOTED, HANDOVER_FAILED)
FEEDBACK_KINDS = ("solved", "not_solved", "reopened")


@dataclass(frozen=True)
class OutcomeFact:
    """One outcome row belonging to a request."""

    kind: str
    at: datetime
    value: float | None = None


@dataclass(frozen=True)
class RequestFacts:
    """A request decision with everything that followed it on its ticket."""

    decision_id: int
    ticket_ref: str
    source: str
    channel: str
    person: str | None  # "email:x@y" or "person:<id>": joins one requester across channels
    verdict: str
    dry_run: bool
    confidence: float
    threshold: float
    decided_at: datetime
    ticket_created_at: datetime | None
    follow_ups: tuple[tuple[datetime, str], ...] = ()  # (time, verdict) of later decisions on the ticket
    outcomes: tuple[OutcomeFact, ...] = ()
    reasons: tuple[str, ...] = ()  # the request decision's reasons, most decisive first
    handover_failed_at: datetime | None = None  # when its hand-over's outbox row failed (and is failed still)


@dataclass(frozen=True)
class Fate:
    """How one request ended, as of the evaluation time."""

    bucket: str
    answered: bool
    escalated_after_answer: bool
    confirmed_solved: bool
    recontacted: bool
    feedback: str | None  # latest of solved / not_solved on the bot path
    csat: tuple[float, ...]
    hub_first_response_s: float | None
    agent_first_response_s: float | None

    @property
    def deflected(self) -> bool:
        return self.bucket in ("verified", "assumed")

    @property
    def human_handled(self) -> bool:
        return self.bucket in ("escalated", "shadow")


def is_shadow(verdict: str, dry_run: bool, reasons: tuple[str, ...] | list[str]) -> bool:
    """Whether a decision is a shadow answer: shadow mode turned what would have been an ANSWER into a draft.

    The interceptor records it as verdict ``escalate`` with the reason ``dry_run`` (``interceptor.decide``);
    rows written as verdict ``answer`` with ``dry_run`` mean the same. A dry-run decision without that reason
    would have escalated anyway: it is an ordinary escalation.
    """
    return dry_run and (verdict == "answer" or "dry_run" in reasons)


def recontact_index(requests: list[tuple[str | None, datetime, str]]) -> dict[str, list[tuple[datetime, str]]]:
    """Index new requests by person: ``person -> sorted [(decided_at, ticket_ref)]`` (no-person rows dropped)."""
    index: dict[str, list[tuple[datetime, str]]] = {}
    for person, at, ref in requests:
        if person:
            index.setdefault(person, []).append((at, ref))
    for rows in index.values():
        rows.sort()
    return index


def _came_back(facts: RequestFacts, index: dict[str, list[tuple[datetime, str]]], now: datetime) -> bool:
    rows = index.get(facts.person or "", [])
    start = facts.decided_at
    i = bisect.bisect_right(rows, (start, "\uffff"))
    for at, ref in rows[i:]:
        if at > start + RECONTACT_WINDOW or at > now:
            return False
        if ref != facts.ticket_ref:
            return True
    return False


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None or later < earlier:
        return None
    return (later - earlier).total_seconds()


def classify(facts: RequestFacts, index: dict[str, list[tuple[datetime, str]]], now: datetime) -> Fate:
    """Put one request in its bucket, using only what was known at ``now``.

    Args:
        facts: the request and what followed it.
        index: new requests by person (``recontact_index``), across every channel.
        now: the evaluation time; later outcomes and requests are ignored.

    Returns:
        The request's fate.
    """
    outcomes = sorted((o for o in facts.outcomes if o.at <= now), key=lambda o: o.at)
    first = {kind: next((o.at for o in outcomes if o.kind == kind), None) for kind in ("answer_posted", "escalated")}
    shadow = is_shadow(facts.verdict, facts.dry_run, facts.reasons)
    answered = facts.verdict == "answer" and not facts.dry_run and first["answer_posted"] is not None
    escalations = [at for at, verdict in facts.follow_ups if verdict != "answer" and at <= now]
    if facts.verdict != "answer":
        escalations.append(facts.decided_at)
    if first["escalated"] is not None:
        escalations.append(first["escalated"])
    handed_over = min(escalations) if escalations else (facts.decided_at if shadow else None)
    handover_failed = handed_over is not None and facts.handover_failed_at is not None and facts.handover_failed_at <= now
    feedback_rows = [o.kind for o in outcomes if o.kind in FEEDBACK_KINDS]
    last_word = feedback_rows[-1] if feedback_rows else None
    recontacted = answered and _came_back(facts, index, now)
    if handover_failed:
        bucket = HANDOVER_FAILED
    elif shadow:
        bucket = "shadow"
    elif escalations:
        bucket = "escalated"
    elif not answered:
        bucket = next((o.kind for o in outcomes if o.kind in TAKEN_BY_PEOPLE), "unposted")
    elif recontacted:
        bucket = "recontacted"
    elif last_word in ("not_solved", "reopened"):
        bucket = "unresolved"
    elif last_word == "solved":
        bucket = "verified"
    elif now - facts.decided_at >= RECONTACT_WINDOW:
        bucket = "assumed"
    else:
        bucket = "pending"
    agent_reply = next((o.at for o in outcomes if o.kind == "agent_reply" and handed_over and o.at >= handed_over), None)
    answer_at = first["answer_posted"] or facts.decided_at
    return Fate(
        bucket=bucket,
        answered=answered,
        escalated_after_answer=answered and bucket == "escalated",
        confirmed_solved=answered and last_word == "solved" and not escalations,
        recontacted=recontacted,
        feedback=next((k for k in reversed(feedback_rows) if k in ("solved", "not_solved")), None) if answered else None,
        csat=tuple(o.value for o in outcomes if o.kind == "csat" and o.value is not None) if answered and not escalations else (),
        hub_first_response_s=_seconds(answer_at, facts.ticket_created_at) if answered else None,
        agent_first_response_s=_seconds(agent_reply, handed_over),
    )
