"""decide(): table tests of verdicts and reasons, pure (no database, no network)."""

from __future__ import annotations

import pytest

from interceptor.decide import decide, decide_request, one_topic
from interceptor.types import Candidate, Policy, Request, Scored, ThreadState, Verdict

TOPICS = ("refund", "account_access", "legal", "security_incident")
RESET = Candidate(1, "kb-1", "Reset your password", "https://kb.example/reset",
                  "Open Settings, then Security. Choose Reset password and follow the email link.", 7.5)
VPN = Candidate(2, "kb-2", "Connect to the VPN", "https://kb.example/vpn", "Install the client. Sign in.", 3.1)


def scored(confidence: float, *candidates: Candidate) -> Scored:
    return Scored(candidates=candidates or (RESET, VPN), confidence=confidence, kb_version="v1", model="bm25")


POLICY = Policy(threshold=0.8, sensitive_topics=TOPICS)
Q = "How do I reset my password?"

ROWS = [
    # (text, confidence, policy, thread, verdict, reasons)
    (Q, 0.9, POLICY, ThreadState(), Verdict.ANSWER, ("confident",)),
    (Q, 0.8, POLICY, ThreadState(), Verdict.ANSWER, ("confident",)),
    (Q, 0.79, POLICY, ThreadState(), Verdict.ESCALATE, ("confidence_below_threshold",)),
    # A calibration that could not show the target precision at any confidence says so (a fresh KB).
    (Q, 0.99, Policy(1.0, TOPICS), ThreadState(), Verdict.ESCALATE, ("confidence_below_threshold", "target_not_backed")),
    (Q, 0.9, POLICY, ThreadState(fallback_before=True), Verdict.ESCALATE, ("fallback_in_thread",)),
    (Q, 0.9, POLICY, ThreadState(answered_before=True), Verdict.ESCALATE, ("answered_before",)),
    ("I was charged twice, I want a refund", 0.95, POLICY, ThreadState(), Verdict.ESCALATE, ("sensitive_topic:refund",)),
    ("I want a refund", 0.95, Policy(0.8, TOPICS, guard_topics=False), ThreadState(), Verdict.ANSWER, ("confident",)),
    ("My account was hacked and someone changed my password", 0.95, POLICY, ThreadState(), Verdict.ESCALATE,
     ("sensitive_topic:account_access",)),
    ("Our lawyer needs the contract", 0.95, POLICY, ThreadState(), Verdict.ESCALATE, ("sensitive_topic:legal",)),
    ("I think we had a data breach, phishing mail went out", 0.95, POLICY, ThreadState(), Verdict.ESCALATE,
     ("sensitive_topic:security_incident",)),
    ("Question about the invoice template", 0.95, Policy(0.8, ("invoice",)), ThreadState(), Verdict.ESCALATE,
     ("sensitive_topic:invoice",)),
    ("Tell me about price changes", 0.95, Policy(0.8, ("price_change",)), ThreadState(), Verdict.ESCALATE,
     ("sensitive_topic:price_change",)),
    (Q, 0.95, Policy(0.8, ()), ThreadState(), Verdict.ANSWER, ("confident",)),
    ("Can I talk to a human about my password?", 0.95, POLICY, ThreadState(), Verdict.ESCALATE, ("asked_for_human",)),
    ("This is ridiculous, the reset link is broken for the third time", 0.95, POLICY, ThreadState(),
     Verdict.ESCALATE, ("frustration",)),
    (Q, 0.95, Policy(0.8, TOPICS, dry_run=True), ThreadState(), Verdict.ESCALATE, ("dry_run", "confident")),
    (Q, 0.5, Policy(0.8, TOPICS, dry_run=True), ThreadState(), Verdict.ESCALATE, ("confidence_below_threshold",)),
    ("I want a refund, let me speak to a person!!!", 0.2, POLICY, ThreadState(fallback_before=True), Verdict.ESCALATE,
     ("asked_for_human", "frustration", "fallback_in_thread", "sensitive_topic:refund", "confidence_below_threshold")),
]


@pytest.mark.parametrize("text,confidence,policy,thread,verdict,reasons", ROWS)
def test_decide_table(text: str, confidence: float, policy: Policy, thread: ThreadState, verdict: Verdict,
                      reasons: tuple[str, ...]) -> None:
    d = decide(text, scored(confidence), policy, thread)
    assert d.verdict is verdict
    assert d.reasons == reasons
    assert d.confidence == confidence and d.threshold == policy.threshold
    assert d.draft  # agents always get a draft
    assert (d.answer is not None) == (verdict is Verdict.ANSWER)


def test_no_candidate_escalates_whatever_the_confidence() -> None:
    d = decide(Q, Scored(candidates=(), confidence=0.99), POLICY)
    assert d.verdict is Verdict.ESCALATE
    assert d.reasons == ("no_candidate",)
    assert d.citations == ()
    assert "No knowledge-base article matched" in d.draft


def test_a_candidate_without_a_passage_is_not_answered() -> None:
    empty = Candidate(3, "kb-3", "Empty", "https://kb.example/empty", "  ", 5.0)
    d = decide(Q, scored(0.99, empty), POLICY)
    assert d.verdict is Verdict.ESCALATE and d.reasons == ("no_passage",)


def test_answer_cites_the_top_candidate_and_carries_scoring_metadata() -> None:
    d = decide(Q, Scored((RESET, VPN), 0.9, kb_version="v7", model="bm25", latency_ms={"score": 3.0}), POLICY)
    assert d.citations == (RESET.citation,)
    assert d.answer is not None and RESET.url in d.answer and "Did this solve it?" in d.answer
    assert d.candidates == (RESET, VPN)
    assert (d.kb_version, d.model, d.latency_ms) == ("v7", "bm25", {"score": 3.0})
    assert d.dry_run is False


def test_dry_run_keeps_the_would_be_answer_in_the_draft() -> None:
    d = decide(Q, scored(0.95), Policy(0.8, TOPICS, dry_run=True))
    assert d.verdict is Verdict.ESCALATE and d.dry_run is True and d.answer is None
    assert "would have answered" in d.draft
    assert RESET.passage.split(".")[0] in d.draft and RESET.url in d.draft
    assert d.citations == (RESET.citation,)


def test_escalation_draft_lists_candidates_confidence_links_and_reasons() -> None:
    d = decide("I need a refund", scored(0.42), POLICY)
    assert "Confidence 0.420 (threshold 0.800)" in d.draft
    assert "[sensitive_topic:refund]" in d.draft and "[confidence_below_threshold]" in d.draft
    for c in (RESET, VPN):
        assert c.title in d.draft and c.url in d.draft
    assert d.citations == (RESET.citation, VPN.citation)


def test_decide_is_pure_and_deterministic() -> None:
    s = scored(0.9)
    assert decide(Q, s, POLICY) == decide(Q, s, POLICY)
    assert s == scored(0.9)


INVITE = Candidate(3, "kb-3", "Invite teammates", "https://kb.example/invite", "Go to Settings, then Team. Click Invite.", 4.0)
TWO = Request(original="How do I reset my password? And invite a teammate?", text="",
              questions=("How do I reset my password?", "And invite a teammate?"))
PART_ROWS = [
    # (confidences of the two questions, policy, verdict, reasons)
    ((0.9, 0.85), POLICY, Verdict.ANSWER, ("confident",)),
    ((0.9, 0.5), POLICY, Verdict.ESCALATE, ("multiple_questions_partly_answerable", "confidence_below_threshold")),
    ((0.5, 0.9), POLICY, Verdict.ESCALATE, ("multiple_questions_partly_answerable", "confidence_below_threshold")),
    ((0.3, 0.5), POLICY, Verdict.ESCALATE, ("confidence_below_threshold",)),
    ((0.9, 0.85), Policy(0.8, TOPICS, dry_run=True), Verdict.ESCALATE, ("dry_run", "confident")),
]


@pytest.mark.parametrize("confidences,policy,verdict,reasons", PART_ROWS)
def test_two_questions_are_answered_only_when_both_clear(confidences: tuple[float, float], policy: Policy,
                                                         verdict: Verdict, reasons: tuple[str, ...]) -> None:
    parts = [(TWO.questions[0], scored(confidences[0], RESET, VPN)), (TWO.questions[1], scored(confidences[1], INVITE))]
    d = decide_request(TWO, parts, policy)
    assert (d.verdict, d.reasons) == (verdict, reasons)
    assert d.confidence == min(confidences)
    assert d.candidates == (RESET, INVITE, VPN)  # each question's top first
    if verdict is Verdict.ANSWER:
        assert d.answer is not None and d.citations == (RESET.citation, INVITE.citation)
        assert RESET.passage in d.answer and INVITE.passage in d.answer
    else:
        assert d.answer is None


def test_guards_read_the_request_as_written_and_as_corrected() -> None:
    written = Request(original="I want a refnud, how do I reset my password?", text="",
                      questions=("I want a refnud, how do I reset my password?",),
                      searched=("I want a refund, how do I reset my password?",))
    d = decide_request(written, [(written.questions[0], scored(0.95))], POLICY)
    assert d.verdict is Verdict.ESCALATE and d.reasons == ("sensitive_topic:refund",)


def test_a_request_with_no_question_is_let_through() -> None:
    d = decide_request(Request(original=" ", text="", questions=()), [], POLICY)
    assert d.verdict is Verdict.ESCALATE and d.reasons == ("no_candidate",)


GOOGLE = Candidate(4, "kb-4", "Connect Google Calendar", "https://kb.example/gcal", "Troubleshooting: events refresh every 15 minutes.", 6.0)
VISA = Candidate(5, "kb-5", "Visa or Mastercard", "https://kb.example/cards", "Choose Visa or Mastercard when you order.", 6.0)


@pytest.mark.parametrize("question,unknown,top,reasons", [
    # the article is about what the request sets aside, and the request wants what the KB never mentions
    ("Can I connect my Outlook calendar instead of Google?", ("outlook",), GOOGLE,
     ("asks_for_an_alternative",)),
    # the KB knows both: the article may well answer
    ("How do I select a Mastercard instead of a Visa?", (), VISA, ("confident",)),
    # an unknown word, but nothing set aside
    ("Can I connect my Outlook calendar?", ("outlook",), GOOGLE, ("confident",)),
    # set aside, but the article is about something else
    ("Can I connect my Outlook calendar instead of Google?", ("outlook",), RESET, ("confident",)),
])
def test_an_article_about_what_the_request_sets_aside_is_not_an_answer(
    question: str, unknown: tuple[str, ...], top: Candidate, reasons: tuple[str, ...]
) -> None:
    request = Request(original=question, text=question, questions=(question,), unknown=(unknown,))
    d = decide_request(request, [(question, scored(0.98, top))], POLICY)
    assert d.reasons == reasons


@pytest.mark.parametrize("tops,confidences,expected", [
    ((RESET, RESET), (0.9, 0.5), True),  # one article for both, one question unsure alone: score it whole
    ((RESET, RESET), (0.9, 0.85), False),  # both clear: answered as they are
    ((RESET, INVITE), (0.9, 0.5), False),  # two articles: two questions
    ((RESET,), (0.5,), False),  # one question
])
def test_one_topic_is_several_sentences_about_one_article(tops: tuple[Candidate, ...], confidences: tuple[float, ...],
                                                          expected: bool) -> None:
    parts = [(f"q{n}", scored(c, top)) for n, (top, c) in enumerate(zip(tops, confidences))]
    assert one_topic(parts, POLICY) is expected
