"""Compose the public answer and the agents' draft. Pure functions of their arguments; plain text
(connectors render links in their own markup).
"""

from __future__ import annotations

import re

from typing import Sequence

from interceptor.types import Candidate, Scored

# The words of the Slack buttons (connectors/slack/blocks.py), and replies guard.classify_followup accepts.
SOLVED_WORDS = "This solved it"
NOT_SOLVED_WORDS = "I still need help"
FEEDBACK_LINE = f'Did this solve it? Reply "{SOLVED_WORDS}", or "{NOT_SOLVED_WORDS}" to reach a person.'
QUESTION_LABEL_CHARS = 120
DRAFT_CANDIDATES = 3
MIN_BODY_CHARS = 40
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\s*\n\s*")  # a sentence's end, or a line's (an item, a row)
_MARKER_ONLY = re.compile(r"(?:^|\n)\s*\d{1,9}[.)]$")  # "3." opening a numbered item is not a sentence
_LIST_ITEM = re.compile(r"\s*(?:[-*•]|\d{1,9}[.)])\s")

REASON_TEXT = {
    "confidence_below_threshold": "confidence below the channel's threshold",
    "target_not_backed": ("no confidence level has shown the target precision on this knowledge base yet: answers "
                          "start once labelled history backs it (`hub kb calibrate FILE`), or at a lower "
                          "HUB_TARGET_PRECISION"),
    "no_candidate": "no knowledge-base article matched",
    "no_passage": "the best article has no usable passage",
    "asked_for_human": "the requester asked for a person",
    "frustration": "the requester seems frustrated",
    "fallback_in_thread": "an earlier answer in this thread did not help",
    "answered_before": "the hub already answered in this thread",
    "dry_run": "shadow mode (dry run): the hub drafts but does not answer",
    "confident": "confident",
    "asks_for_an_alternative": "the request asks about an alternative to what the best article covers",
    "multiple_questions_partly_answerable": "the request asks several questions and not every one could be answered",
    "too_many_questions": "the request asks more questions than the hub answers at once (the draft covers the first ones)",
    "too_long": "the request is longer than the hub reads (20,000 characters): the draft is from its start and end",
}


def reason_text(reason: str) -> str:
    """Return a human-readable line for a machine-readable reason."""
    if reason.startswith("sensitive_topic:"):
        return f"sensitive topic ({reason.split(':', 1)[1].replace('_', ' ')}): never answered automatically"
    return REASON_TEXT.get(reason, reason.replace("_", " "))


def truncate(text: str, limit: int) -> str:
    """Return ``text`` cut to at most ``limit`` characters, at the last sentence or line end that fits (a
    list's items are lines; a numbered item's ``3.`` is not a sentence's end). A list cut before its last
    item ends with a line ``…``, so the reader knows there are more steps.

    When not even the first sentence fits, cut at a word boundary and end with an ellipsis.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    best = ""
    for match in _SENTENCE_END.finditer(text):
        head = text[: match.start()].rstrip()
        if len(head) > limit:
            break
        if _MARKER_ONLY.search(head):
            continue
        shown = f"{head}\n…" if "\n" in text[match.start():match.end()] and _LIST_ITEM.match(text[match.end():]) else head
        best = shown if len(shown) <= limit else best
    if best:
        return best
    cut = text[: max(limit - 1, 0)]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


def source_line(candidate: Candidate) -> str:
    """Return the citation line for ``candidate``: its title with the passage's heading path ("Reset your
    password › If you sign in with SSO") and, when it has one, its link."""
    return f"Source: {candidate.where} - {candidate.url}" if candidate.url else f"Source: {candidate.where}"


def compose_answer(candidate: Candidate, max_chars: int, *, body: str | None = None) -> str:
    """Compose the public answer: the best passage (or ``body``), the article link and a feedback line.

    Args:
        candidate: the cited article (the top candidate).
        max_chars: the channel's length limit; the whole answer fits within it.
        body: a generated body to use instead of the passage (the writer's output).

    Returns:
        The answer text, at most ``max_chars`` long (the body is cut at a sentence boundary).
    """
    footer = f"\n\n{source_line(candidate)}\n\n{FEEDBACK_LINE}"
    if max_chars - len(footer) < MIN_BODY_CHARS:  # a tight limit keeps the citation, drops the feedback line
        footer = f"\n\n{source_line(candidate)}"
    text = truncate(body if body is not None else candidate.passage, max_chars - len(footer))
    answer = f"{text}{footer}" if text else footer.strip()
    return answer[:max_chars]


def _label(question: str) -> str:
    return f'"{truncate(" ".join(question.split()), QUESTION_LABEL_CHARS)}"'


def compose_answers(parts: Sequence[tuple[str, Candidate]], max_chars: int) -> str:
    """Compose one answer to several questions: each question, its passage and its own source line, then
    one feedback line. A passage that answers two of the questions is quoted once, under both.

    Args:
        parts: ``(question as written, the candidate whose passage answers it)``, in the request's order.
        max_chars: the channel's length limit; the passages share what the labels and sources leave.

    Returns:
        The answer text, at most ``max_chars`` long (one question: exactly :func:`compose_answer`).
    """
    groups: dict[tuple[int, str], tuple[list[str], Candidate]] = {}
    for question, candidate in parts:
        groups.setdefault((candidate.article_id, candidate.passage), ([], candidate))[0].append(question)
    if len(groups) == 1:
        return compose_answer(next(iter(groups.values()))[1], max_chars)
    heads = [(" and ".join(_label(q) for q in questions), c) for questions, c in groups.values()]
    fixed = sum(len(label) + len(source_line(c)) + 4 for label, c in heads) + 2 * (len(heads) - 1)
    footer = f"\n\n{FEEDBACK_LINE}"
    if (max_chars - fixed - len(footer)) // len(heads) < MIN_BODY_CHARS:
        footer = ""
    budget = max((max_chars - fixed - len(footer)) // len(heads), 0)
    blocks = [f"{label}\n{truncate(c.passage, budget)}\n{source_line(c)}" for label, c in heads]
    return ("\n\n".join(blocks) + footer)[:max_chars]


def compose_draft(
    scored: Scored,
    threshold: float,
    reasons: tuple[str, ...],
    *,
    would_answer: str | None = None,
    max_passage_chars: int = 600,
) -> str:
    """Compose the agents' pre-drafted internal note.

    Args:
        scored: the retrieval and confidence of the request.
        threshold: the threshold the confidence was held against.
        reasons: the decision's reasons (why it was not answered).
        would_answer: the answer the hub would have sent (shadow mode), shown in full.
        max_passage_chars: the length limit of the suggested reply taken from the best passage.

    Returns:
        Plain text: why it was not answered, the confidence, a suggested reply, the top candidates with
        their scores and links.
    """
    lines = _draft_head(scored.confidence, threshold, reasons)
    if would_answer is not None:
        lines += ["", "The hub would have answered:", would_answer]
    elif scored.top is not None and scored.top.passage.strip():
        lines += ["", "Suggested reply (from the best article):", truncate(scored.top.passage, max_passage_chars),
                  source_line(scored.top)]
    if scored.candidates:
        lines += ["", "Top articles:"]
        for n, c in enumerate(scored.candidates[:DRAFT_CANDIDATES], start=1):
            link = f" - {c.url}" if c.url else ""
            lines.append(f"{n}. {c.title} (score {c.score:.2f}){link}")
    else:
        lines += ["", "No knowledge-base article matched this request."]
    return "\n".join(lines)


def shown_against(confidence: float, threshold: float) -> tuple[str, str]:
    """A confidence and the threshold it was held against, as shown side by side: three decimals, four when
    three would show a confidence under the threshold as reaching it (0.9953 against 0.9954). Two decimals
    showed 0.997 against a threshold of 1.0 as "Confidence 1.00 (threshold 1.00)", not answered."""
    for places in (3, 4):
        shown = f"{confidence:.{places}f}", f"{threshold:.{places}f}"
        if confidence >= threshold or float(shown[0]) < float(shown[1]):
            break
    return shown


def _draft_head(confidence: float, threshold: float, reasons: tuple[str, ...]) -> list[str]:
    lines = ["Help-desk hub draft (internal: not sent to the requester)."]
    lines.append("Confidence {} (threshold {}).".format(*shown_against(confidence, threshold)))
    blocking = [r for r in reasons if r != "confident"]
    if blocking:
        lines.append("Not answered automatically because:")
        lines.extend(f"- {reason_text(r)} [{r}]" for r in blocking)
    elif reasons:
        lines.append("Answered automatically: confident.")
    return lines


def compose_draft_questions(
    parts: Sequence[tuple[str, Scored]],
    threshold: float,
    reasons: tuple[str, ...],
    *,
    would_answer: str | None = None,
    max_passage_chars: int = 400,
) -> str:
    """Compose the agents' draft for a request that asks several questions.

    Args:
        parts: ``(question as written, its retrieval and confidence)``, in the request's order.
        threshold: the threshold each question's confidence was held against.
        reasons: the decision's reasons.
        would_answer: the answer the hub would have sent (shadow mode), shown in full.
        max_passage_chars: the length limit of each suggested reply.

    Returns:
        Plain text: why it was not answered, the lowest confidence, then per question its confidence, a
        suggested reply from its best passage (marked when it cleared the threshold) and its top articles.
    """
    lowest = min((s.confidence for _, s in parts), default=0.0)
    lines = _draft_head(lowest, threshold, reasons)
    if would_answer is not None:
        lines += ["", "The hub would have answered:", would_answer]
    lines += ["", f"The request asks {len(parts)} questions:"]
    for n, (question, scored) in enumerate(parts, start=1):
        clears = scored.confidence >= threshold and scored.top is not None and bool(scored.top.passage.strip())
        has_passage = scored.top is not None and bool(scored.top.passage.strip())
        confidence, limit = shown_against(scored.confidence, threshold)
        verdict = ("answerable from the KB" if clears else f"below the threshold ({limit})" if has_passage
                   else "no passage in the KB")
        lines += ["", f"{n}. {_label(question)}: confidence {confidence}, {verdict}."]
        if scored.top is not None and scored.top.passage.strip() and would_answer is None:
            lines += ["Suggested reply:" if clears else "Closest passage (check before using):",
                      truncate(scored.top.passage, max_passage_chars), source_line(scored.top)]
        others = [c for c in scored.candidates[1:DRAFT_CANDIDATES]]
        if others:
            lines.append("Other articles: " + "; ".join(f"{c.title} ({c.score:.2f})" for c in others))
    return "\n".join(lines)
