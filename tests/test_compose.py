"""compose: the extractive answer within the channel's limit, and the agents' draft. Pure."""

from __future__ import annotations

import pytest

from interceptor.compose import FEEDBACK_LINE, compose_answer, compose_draft, truncate
from interceptor.types import Candidate, Scored

PASSAGE = ("Open Settings, then Security. Choose Reset password. Follow the link in the email within 30 minutes. "
           "If it expired, request a new one.")
TOP = Candidate(1, "kb-1", "Reset your password", "https://kb.example/reset", PASSAGE, 7.5)
NO_URL = Candidate(2, "kb-2", "VPN basics", None, "Install the client. Sign in with SSO.", 2.0)


@pytest.mark.parametrize("text,limit,expected", [
    ("One. Two. Three.", 100, "One. Two. Three."),
    ("One. Two. Three.", 10, "One. Two."),
    ("One. Two. Three.", 9, "One. Two."),
    ("One. Two. Three.", 8, "One."),
    ("Is it on? Yes! Then go.", 14, "Is it on? Yes!"),
    ("A very long first sentence without a stop", 20, "A very long first…"),
    ("Paragraph one\n\nParagraph two is here", 20, "Paragraph one"),
    ("  padded.  ", 100, "padded."),
    ("anything", 0, ""),
])
def test_truncate_cuts_at_sentence_boundaries(text: str, limit: int, expected: str) -> None:
    out = truncate(text, limit)
    assert out == expected
    assert len(out) <= max(limit, 0)


def test_answer_has_passage_link_and_feedback_line() -> None:
    answer = compose_answer(TOP, 3000)
    assert answer.startswith(PASSAGE)
    assert "Source: Reset your password - https://kb.example/reset" in answer
    assert answer.endswith(FEEDBACK_LINE)


@pytest.mark.parametrize("limit", [400, 300, 260, 240, 200])
def test_answer_fits_the_channel_limit_and_cuts_at_a_sentence(limit: int) -> None:
    answer = compose_answer(TOP, limit)
    assert len(answer) <= limit
    body = answer.split("\n\nSource:")[0]
    assert body == "" or body.endswith((".", "!", "?", "…"))
    assert "https://kb.example/reset" in answer  # the citation survives any cut


def test_answer_without_url_cites_the_title() -> None:
    answer = compose_answer(NO_URL, 3000)
    assert "Source: VPN basics" in answer and "None" not in answer


def test_answer_with_a_generated_body() -> None:
    answer = compose_answer(TOP, 3000, body="Use Settings > Security > Reset password.")
    assert answer.startswith("Use Settings > Security > Reset password.")
    assert "https://kb.example/reset" in answer


def test_draft_lists_reasons_confidence_candidates_and_links() -> None:
    scored = Scored((TOP, NO_URL), 0.37)
    draft = compose_draft(scored, 0.8, ("sensitive_topic:refund", "confidence_below_threshold"))
    assert "internal" in draft
    assert "Confidence 0.37 (threshold 0.80)" in draft
    assert "sensitive topic (refund)" in draft and "[confidence_below_threshold]" in draft
    assert "1. Reset your password (score 7.50) - https://kb.example/reset" in draft
    assert "2. VPN basics (score 2.00)" in draft
    assert "Suggested reply" in draft and "Open Settings, then Security." in draft


def test_draft_without_candidates_says_so() -> None:
    draft = compose_draft(Scored((), 0.0), 0.8, ("no_candidate",))
    assert "No knowledge-base article matched" in draft
    assert "Suggested reply" not in draft


def test_draft_keeps_the_would_be_answer_in_shadow_mode() -> None:
    draft = compose_draft(Scored((TOP,), 0.95), 0.8, ("dry_run", "confident"), would_answer="THE ANSWER")
    assert "would have answered:\nTHE ANSWER" in draft
    assert "[dry_run]" in draft and "[confident]" not in draft


def test_a_tight_limit_keeps_the_citation_and_drops_the_feedback_line() -> None:
    answer = compose_answer(TOP, 120)
    assert len(answer) <= 120
    assert answer.startswith("Open Settings, then Security.")
    assert answer.endswith("Source: Reset your password - https://kb.example/reset")
