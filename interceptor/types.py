"""The values that flow through the interceptor: retrieval candidates, scores, policies, decisions.

``prefilter -> retrieve -> score -> decide -> compose -> act -> record``. ``retrieve``/``score`` turn a
request's text into a :class:`Scored`; ``decide`` and ``compose`` are pure functions of their arguments;
``act`` turns a :class:`Decision` into outbox actions; ``record`` stores a ``DecisionRow``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class Verdict(str, enum.Enum):
    """What the hub does with a request."""

    ANSWER = "answer"  # answer publicly in the request's own thread
    ESCALATE = "escalate"  # let it through to a person, with a pre-drafted internal note


@dataclass(frozen=True)
class Citation:
    """An article cited in an answer or a draft."""

    title: str
    url: str | None


@dataclass(frozen=True)
class Candidate:
    """One article retrieved for a request, with its best passage.

    ``score`` is the fused retrieval score used for ranking; ``lexical`` and ``dense`` are the component
    scores (``dense`` is ``None`` when dense retrieval is not installed or off). ``passage`` is exactly the
    text an answer quotes (the top candidate's is what the confidence is about); ``heading_path`` and
    ``section_id`` say which section of the article it is from (empty / ``None`` when unknown).
    """

    article_id: int
    external_id: str
    title: str
    url: str | None
    passage: str
    score: float
    lexical: float = 0.0
    dense: float | None = None
    heading_path: tuple[str, ...] = ()  # the passage's section headings, outermost first
    section_id: str | None = None

    @property
    def citation(self) -> Citation:
        return Citation(self.title, self.url)

    @property
    def where(self) -> str:
        """The title and the passage's heading path ("Reset your password › If you sign in with SSO")."""
        path = list(self.heading_path)
        if path and path[0].strip().lower() == self.title.strip().lower():
            path = path[1:]
        return " › ".join([self.title, *(h for h in path if h.strip())])


@dataclass(frozen=True)
class Request:
    """A request after the prefilter: the text as written, the text without greetings, sign-offs,
    signatures and quoted replies, and the question(s) it asks (each scored on its own)."""

    original: str
    text: str
    questions: tuple[str, ...]
    corrections: tuple[tuple[str, str], ...] = ()  # (as written, corrected) spelling fixes
    searched: tuple[str, ...] = ()  # the questions as retrieval sees them (spelling corrected)
    unknown: tuple[tuple[str, ...], ...] = ()  # per question, its terms the KB vocabulary lacks ("outlook")
    cut: bool = False  # longer than the prefilter reads: ``original`` is its start and end (a person answers)

    @property
    def queries(self) -> tuple[str, ...]:
        """What retrieval scores, one per question: the corrected questions, else the questions."""
        return self.searched or self.questions


@dataclass(frozen=True)
class Scored:
    """Retrieval and scoring of one request: ranked candidates and the calibrated confidence that the
    top candidate answers it (in [0, 1]), with the features the confidence came from."""

    candidates: tuple[Candidate, ...]
    confidence: float
    features: dict[str, float] = field(default_factory=dict)
    kb_version: str = ""
    model: str = ""
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class Scorer(Protocol):
    """Retrieve and score: the knowledge base's side of a decision."""

    def score(self, text: str, *, k: int = 5) -> Scored:
        """Return the top ``k`` candidates for ``text`` and the calibrated confidence."""
        ...


@dataclass(frozen=True)
class ThreadState:
    """What already happened in the request's thread, as far as a decision needs to know."""

    answered_before: bool = False  # the hub already answered publicly here
    fallback_before: bool = False  # the requester said an answer did not help, or we escalated


@dataclass(frozen=True)
class Policy:
    """How a channel decides: threshold, topic guard, shadow mode, and the answer length limit."""

    threshold: float
    sensitive_topics: tuple[str, ...] = ()
    guard_topics: bool = True
    dry_run: bool = False
    max_answer_chars: int = 3000


@dataclass(frozen=True)
class Decision:
    """The interceptor's decision on one request, with machine-readable reasons.

    ``answer`` is the public answer text (only for ANSWER); ``draft`` is the agent's pre-drafted reply
    with sources and confidence (always present, so shadow mode and escalations both have it). A request
    with several ``questions`` is answered only when each has its own passage; ``confidence`` is then the
    lowest of theirs.
    """

    verdict: Verdict
    confidence: float
    threshold: float
    reasons: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    answer: str | None
    draft: str
    citations: tuple[Citation, ...] = ()
    dry_run: bool = False
    kb_version: str = ""
    model: str = ""
    latency_ms: dict[str, float] = field(default_factory=dict)
    questions: tuple[str, ...] = ()  # the questions the request asks, as the prefilter split them
