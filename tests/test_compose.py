"""compose: the extractive answer within the channel's limit, and the agents' draft. Pure."""

from __future__ import annotations

import pytest

from interceptor.compose import (FEEDBACK_LINE, compose_answer, compose_answers, compose_draft, shown_against, source_line,
                                 truncate)
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
    ("1. Open Settings.\n2. Click Billing.\n3. Click Cancel.", 36, "1. Open Settings.\n…"),  # the mark needs room
    ("1. Open Settings.\n2. Click Billing.\n3. Click Cancel.", 38, "1. Open Settings.\n2. Click Billing.\n…"),
    ("- Open Settings\n- Click Billing\n- Click Cancel", 33, "- Open Settings\n- Click Billing\n…"),
    ("Plan | Price\nBasic | $5\nPro | $10", 26, "Plan | Price\nBasic | $5"),
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
    assert "Confidence 0.370 (threshold 0.800)" in draft
    assert "sensitive topic (refund)" in draft and "[confidence_below_threshold]" in draft
    assert "1. Reset your password (score 7.50) - https://kb.example/reset" in draft
    assert "2. VPN basics (score 2.00)" in draft
    assert "Suggested reply" in draft and "Open Settings, then Security." in draft


@pytest.mark.parametrize("confidence, threshold, shown", [
    (0.37, 0.8, ("0.370", "0.800")),
    (0.997, 1.0, ("0.997", "1.000")),  # two places read "Confidence 1.00 (threshold 1.00)", and it was not answered
    (0.9956, 0.9954, ("0.996", "0.995")),
    (0.99532, 0.9954, ("0.9953", "0.9954")),  # under the threshold: never shown as reaching it
    (0.99541, 0.9954, ("0.995", "0.995")),  # reached: shown equal
])
def test_a_confidence_is_shown_beside_its_threshold_on_the_right_side_of_it(confidence: float, threshold: float,
                                                                            shown: tuple[str, str]) -> None:
    assert shown_against(confidence, threshold) == shown
    draft = compose_draft(Scored((TOP,), confidence), threshold, ("confidence_below_threshold",))
    assert f"Confidence {shown[0]} (threshold {shown[1]})." in draft


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


def test_the_source_line_shows_the_heading_path_with_the_quote() -> None:
    sso = Candidate(1, "kb-1", "Reset your password", "https://kb.example/reset", "Use Sign in with SSO.", 7.5,
                    heading_path=("Reset your password", "If you sign in with SSO"))
    assert source_line(sso) == "Source: Reset your password \u203a If you sign in with SSO - https://kb.example/reset"
    nested = Candidate(2, "kb-2", "VPN basics", None, "Install it.", 1.0, heading_path=("Setup", "On a Mac"))
    assert source_line(nested) == "Source: VPN basics \u203a Setup \u203a On a Mac"
    assert source_line(TOP) == "Source: Reset your password - https://kb.example/reset"


def test_the_feedback_line_uses_the_words_of_the_buttons_and_the_replies_the_pipeline_understands() -> None:
    from connectors.slack.blocks import NOT_SOLVED_LABEL, SOLVED_LABEL
    from interceptor.guard import classify_followup

    assert f'"{SOLVED_LABEL}"' in FEEDBACK_LINE and f'"{NOT_SOLVED_LABEL}"' in FEEDBACK_LINE
    assert classify_followup(SOLVED_LABEL) == "solved"
    assert classify_followup(NOT_SOLVED_LABEL) == "not_solved"


SECOND = Candidate(3, "kb-3", "Invite teammates", "https://kb.example/invite", "Go to Settings, then Team. Click Invite.", 5.0)


def test_an_answer_to_two_questions_quotes_each_passage_under_its_question_with_its_own_source() -> None:
    answer = compose_answers([("How do I reset my password?", TOP), ("And invite someone?", SECOND)], 3000)
    assert answer == (
        f'"How do I reset my password?"\n{PASSAGE}\nSource: Reset your password - https://kb.example/reset\n\n'
        '"And invite someone?"\nGo to Settings, then Team. Click Invite.\n'
        "Source: Invite teammates - https://kb.example/invite\n\n" + FEEDBACK_LINE
    )


def test_one_passage_that_answers_both_questions_is_quoted_once() -> None:
    assert compose_answers([("reset?", TOP), ("reset again?", TOP)], 3000) == compose_answer(TOP, 3000)
    assert compose_answers([("only one?", TOP)], 3000) == compose_answer(TOP, 3000)


@pytest.mark.parametrize("limit", [600, 400, 330])
def test_an_answer_to_two_questions_fits_the_limit_and_keeps_both_sources(limit: int) -> None:
    answer = compose_answers([("How do I reset my password?", TOP), ("And invite someone?", SECOND)], limit)
    assert len(answer) <= limit
    assert answer.count("Source:") == 2
    assert "https://kb.example/reset" in answer and "https://kb.example/invite" in answer
