"""Ordinary writing (issue 10 item 3): misspellings, greetings, signatures and thanks, quoted replies, long
rambling messages, and two questions in one request. Each row runs the whole decision for one request
(prefilter, spelling against the KB vocabulary, scoring per question, decide, compose): the hub answers every
question, each with its own cited passage, or lets the request through; it never answers one and drops the
other. The small KB is scored by a real BM25 index; then the sample KB with the real scorer."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from config import load_settings
from connectors.slack import blocks
from interceptor.compose import FEEDBACK_LINE, source_line
from interceptor.decide import PARTLY_ANSWERABLE
from interceptor.engine import Interceptor, decide_text, speller_for
from interceptor.retrieval.lexical import BM25, tokenize
from interceptor.types import Candidate, Decision, Policy, Scored, Verdict
from tests.conftest import sample_kb_database
from tests.slack_stub import shown


def article(n: int, title: str, passage: str) -> Candidate:
    return Candidate(n, f"kb-{n}", title, f"https://kb.example/{n}", passage, 0.0)


RESET = article(1, "Reset your password", "If you forgot your password, click Forgot password on the sign-in page; "
                "we email you a reset link.")
INVITE = article(2, "Invite teammates", "To invite a teammate, go to Settings > Team, click Invite and enter "
                 "their email address.")
PLAN = article(3, "Change your plan", "To change your plan, go to Settings > Billing and click Change plan.")
CALENDAR = article(4, "Connect Google Calendar", "Connect Google Calendar from Settings > Integrations; calendar "
                   "events show beside your timesheet.")
EXPORT = article(5, "Export reports", "Export any report as a CSV or PDF file with the Export button above it.")
KB = (RESET, INVITE, PLAN, CALENDAR, EXPORT)


class LexicalScorer:
    """Ranks the small KB by BM25; the confidence is the share of the request's terms the top article holds
    (a misspelled or uncovered word lowers it, as it lowers the real calibrated confidence)."""

    def __init__(self) -> None:
        self.texts = [f"{c.title}. {c.passage}" for c in KB]
        self.index = SimpleNamespace(lexical=BM25(self.texts))
        self.queries: list[str] = []

    def score(self, text: str, *, k: int = 5) -> Scored:
        self.queries.append(text)
        scores, _ = self.index.lexical.scores(text)
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
        terms = set(tokenize(text))
        held = set(tokenize(self.texts[order[0]])) if order else set()
        confidence = len(terms & held) / len(terms) if terms and order else 0.0
        return Scored(tuple(KB[i] for i in order), confidence, kb_version="v1", model="bm25",
                      latency_ms={"score": 1.0})


POLICY = Policy(threshold=0.75, sensitive_topics=("refund",))

CASES = [
    # (id, request as written, verdict, reasons, articles whose passages the answer quotes)
    ("plain", "How do I reset my password?", Verdict.ANSWER, ("confident",), (RESET,)),
    ("misspelled", "i forgot my pasword", Verdict.ANSWER, ("confident",), (RESET,)),
    ("misspelled-2", "how do i chnage my plan", Verdict.ANSWER, ("confident",), (PLAN,)),
    ("greeting-and-signature", "Hi team,\nhow do I reset my password?\nThanks,\nBob\nSent from my iPhone",
     Verdict.ANSWER, ("confident",), (RESET,)),
    ("thanks-inline", "Hello! How do I export a report? Thanks so much, Ann", Verdict.ANSWER, ("confident",), (EXPORT,)),
    ("quoted-reply", "How do I invite a teammate?\n\nOn Mon, 2 Nov 2026, Help <help@kb.example> wrote:\n"
     "> To change your plan, go to Settings > Billing.", Verdict.ANSWER, ("confident",), (INVITE,)),
    ("rambling", "Hello, hope you are well! We moved to your tool last spring after years of spreadsheets, and our "
     "team of eleven logs everything in it now; the mobile app is great, the new dashboard too, and the finance "
     "people finally stopped chasing us every Friday afternoon. Our accountant now wants the hours per client "
     "every month. We also moved offices twice this year, first to the old mill by the river and then to the new "
     "building near the station, and the move went smoothly because the mobile app kept our timers going while "
     "the network was down for two days. The new colleagues picked it up in an afternoon, the onboarding emails "
     "were spot on, and my manager loves the weekly summaries, which she forwards to the whole board every "
     "Monday morning before the planning meeting with the other two teams in the north office, where the "
     "coffee is better. "
     "How do I export a report as CSV? Cheers, Ann",
     Verdict.ANSWER, ("confident",), (EXPORT,)),
    ("slack-decoration", "hey team :wave: how do I export a report as CSV? <@U0HELPER> :pray:", Verdict.ANSWER,
     ("confident",), (EXPORT,)),
    ("two-questions", "How do I reset my password? Also, how do I invite a teammate?", Verdict.ANSWER,
     ("confident",), (RESET, INVITE)),
    ("two-questions-one-sentence", "How do I change my plan and how do I export a report?", Verdict.ANSWER,
     ("confident",), (PLAN, EXPORT)),
    ("two-questions-one-article", "How do I change my plan? Is billing monthly?", Verdict.ANSWER, ("confident",),
     (PLAN,)),
    ("two-questions-one-answerable", "How do I reset my password? And how do I connect my Outlook calendar?",
     Verdict.ESCALATE, (PARTLY_ANSWERABLE, "confidence_below_threshold"), ()),
    ("two-questions-one-word-each", "How do I change my plan? And how do I export?", Verdict.ANSWER,
     ("confident",), (PLAN, EXPORT)),
    ("second-question-names-one-thing-not-in-the-kb", "How do I reset my password? And how do I get Zoom?",
     Verdict.ESCALATE, (PARTLY_ANSWERABLE, "no_candidate"), ()),
    ("more-questions-than-answered-at-once", " ".join(["How do I reset my password?", "How do I invite a teammate?",
     "How do I change my plan?", "How do I export a report?"] * 2), Verdict.ESCALATE, ("too_many_questions",), ()),
    ("uncovered-neighbour", "Can I connect my Outlook calendar instead of Google?", Verdict.ESCALATE,
     ("asks_for_an_alternative", "confidence_below_threshold"), ()),
    ("two-questions-and-a-person", "How do I reset my password? How do I change my plan? Let me talk to a human.",
     Verdict.ESCALATE, ("asked_for_human", PARTLY_ANSWERABLE, "confidence_below_threshold"), ()),
    ("two-questions-sensitive", "How do I change my plan? And I want a refund for last month.",
     Verdict.ESCALATE, ("sensitive_topic:refund", "confidence_below_threshold"), ()),
    ("pleasantries-only", "Hello!", Verdict.ESCALATE, ("no_candidate",), ()),
    # Invisible characters inside words, pasted by accident or planted: read as if they were not there.
    ("zero-width-space", "How do I reset my pass\u200bword?", Verdict.ANSWER, ("confident",), (RESET,)),
    ("soft-hyphen-and-joiner", "How do I in\u00advite a team\u200dmate?", Verdict.ANSWER, ("confident",), (INVITE,)),
    ("right-to-left-override", "How do I reset my pass\u202eword\u202c?", Verdict.ANSWER, ("confident",), (RESET,)),
]


def run(text: str) -> Decision:
    scorer = LexicalScorer()
    return decide_text(text, scorer, POLICY, speller=speller_for(scorer))


@pytest.mark.parametrize("text,verdict,reasons,quoted", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_question_is_answered_with_its_own_cited_passage_or_the_request_goes_through(
    text: str, verdict: Verdict, reasons: tuple[str, ...], quoted: tuple[Candidate, ...]
) -> None:
    decision = run(text)
    assert (decision.verdict, decision.reasons) == (verdict, reasons)
    if verdict is Verdict.ESCALATE:
        assert decision.answer is None
        return
    assert decision.answer is not None
    for candidate in quoted:  # every passage with its own source line, each cited once
        assert candidate.passage in decision.answer
        assert decision.answer.count(candidate.url or "") == 1
        assert decision.answer.index(candidate.passage) < decision.answer.index(source_line(candidate))
    assert [c.url for c in decision.citations] == [c.url for c in quoted]
    assert decision.answer.endswith(FEEDBACK_LINE) and decision.answer.count("Source:") == len(quoted)
    assert decision.confidence >= POLICY.threshold


def test_retrieval_sees_the_corrected_questions_not_the_pleasantries() -> None:
    scorer = LexicalScorer()
    decide_text("Hi team,\ni forgot my pasword. Also how do I chnage my plan?\nThanks, Bob", scorer, POLICY,
                speller=speller_for(scorer))
    assert scorer.queries == ["i forgot my password.", "how do I change my plan?"]  # "Also" opens the second


def test_a_partly_answerable_request_is_let_through_with_a_draft_for_both_questions() -> None:
    decision = run("How do I reset my password? And how do I connect my Outlook calendar?")
    assert decision.verdict is Verdict.ESCALATE and decision.answer is None
    assert decision.questions == ("How do I reset my password?", "And how do I connect my Outlook calendar?")
    assert decision.confidence == pytest.approx(2 / 3)  # the lower of the two: one figure for the analytics
    draft = decision.draft
    assert "The request asks 2 questions:" in draft
    assert '1. "How do I reset my password?": confidence 1.000, answerable from the KB.' in draft
    assert "Suggested reply:\n" + RESET.passage in draft
    assert '2. "And how do I connect my Outlook calendar?": confidence 0.667, below the threshold (0.750).' in draft
    assert "[multiple_questions_partly_answerable]" in draft


def test_a_shadow_mode_two_question_answer_is_drafted_not_sent() -> None:
    scorer = LexicalScorer()
    decision = decide_text("How do I reset my password? Also, how do I invite a teammate?", scorer,
                           Policy(threshold=0.75, dry_run=True), speller=speller_for(scorer))
    assert decision.verdict is Verdict.ESCALATE and decision.reasons == ("dry_run", "confident")
    assert decision.answer is None
    assert "The hub would have answered:" in decision.draft
    assert RESET.passage in decision.draft and INVITE.passage in decision.draft


def test_the_slack_answer_cites_each_article_once_and_its_words_match_the_buttons() -> None:
    decision = run("How do I reset my password? Also, how do I invite a teammate?")
    assert decision.answer is not None
    citations = [{"title": c.title, "url": c.url} for c in decision.citations]
    _, body = blocks.answer(decision.answer, citations, "slack:T1:C1:1.2")
    assert [b["type"] for b in body] == ["rich_text", "actions"]  # no second "Sources" block
    text = shown(body)
    assert text.count(RESET.url or "") == 1 and text.count(INVITE.url or "") == 1
    labels = [e["text"]["text"] for e in body[1]["elements"]]
    assert labels == [blocks.SOLVED_LABEL, blocks.NOT_SOLVED_LABEL]
    assert all(f'"{label}"' in text for label in labels)


@pytest.fixture(scope="module")
def sample_engine(tmp_path_factory: pytest.TempPathFactory) -> Interceptor:
    from interceptor.retrieval.scorer import build_scorer

    url, db = sample_kb_database(tmp_path_factory, "writing")
    settings = load_settings({"HUB_DATABASE_URL": url, "HUB_DENSE": "on"})
    # the shipped default calibration (cold_start=False): these cases test the writing, not the calibration
    return Interceptor(settings, build_scorer(settings, db, cold_start=False))


@pytest.mark.parametrize("text,titles", [
    ("i forgot my pasword", ("Reset your password",)),
    ("how do i chnage my emial adress", ("Change your email address",)),
    ("Hi team,\nI forgot my password, how do I reset it?\nThanks,\nBob\nSent from my iPhone", ("Reset your password",)),
    ("How do I enable two factor authentication and how do I change my plan?",
     ("Enable two-factor authentication", "Change your plan (upgrade/downgrade)")),
])
def test_the_sample_kb_answers_ordinary_writing(sample_engine: Interceptor, text: str, titles: tuple[str, ...]) -> None:
    decision = sample_engine.decide(text)
    assert decision.verdict is Verdict.ANSWER, decision.reasons
    assert tuple(c.title for c in decision.citations) == titles
    assert decision.answer is not None and decision.answer.count("Source:") == len(titles)


@pytest.mark.parametrize("text,first_reason", [
    ("Can I connect my Outlook calendar instead of Google?", "asks_for_an_alternative"),
    ("How do I reset my password? And how do I connect Microsoft Teams?", PARTLY_ANSWERABLE),
])
def test_the_sample_kb_lets_through_what_it_cannot_answer_in_full(sample_engine: Interceptor, text: str,
                                                                  first_reason: str) -> None:
    decision = sample_engine.decide(text)
    assert decision.verdict is Verdict.ESCALATE and decision.reasons[0] == first_reason
