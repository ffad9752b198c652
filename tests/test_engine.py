"""The engine with a fake scorer: channel policies, shadow mode, topic guard switch, writer, suggest, lazy build."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from config import load_settings
from interceptor.decide import MAX_QUESTIONS
from interceptor.engine import Interceptor, LazyInterceptor, build_interceptor
from interceptor.types import Candidate, Scored, ThreadState, Verdict
from tests.conftest import settings_dict

TOP = Candidate(1, "kb-1", "Reset your password", "https://kb.example/reset",
                "Open Settings, then Security. Choose Reset password.", 7.5)
OTHER = Candidate(2, "kb-2", "Connect to the VPN", "https://kb.example/vpn", "Install the client.", 1.2)


class FakeScorer:
    """Scores every text with a fixed confidence; maps a target precision to ``target - 0.1``."""

    def __init__(self, confidence: float = 0.9, candidates: tuple[Candidate, ...] = (TOP, OTHER)) -> None:
        self.confidence, self.candidates = confidence, candidates
        self.targets: list[float] = []
        self.calls: list[tuple[str, int]] = []

    def score(self, text: str, *, k: int = 5) -> Scored:
        self.calls.append((text, k))
        return Scored(self.candidates[:k], self.confidence, kb_version="v1", model="fake", latency_ms={"score": 1.0})

    def threshold_for(self, target_precision: float) -> float:
        self.targets.append(target_precision)
        return round(target_precision - 0.1, 6)


def make(confidence: float = 0.9, **values: Any) -> tuple[Interceptor, FakeScorer]:
    scorer = FakeScorer(confidence)
    return Interceptor(load_settings(settings_dict("sqlite://", **values)), scorer), scorer


def test_threshold_comes_from_the_hub_target_precision_by_default() -> None:
    engine, scorer = make(HUB_TARGET_PRECISION=0.9)
    d = engine.decide("how do I reset my password")
    assert scorer.targets == [0.9]
    assert d.threshold == pytest.approx(0.8)
    assert d.verdict is Verdict.ANSWER and d.reasons == ("confident",)
    assert set(d.latency_ms) >= {"score", "decide"}


def test_a_channel_threshold_or_target_precision_overrides_the_hub() -> None:
    engine, scorer = make(HUB_CHANNEL_POLICIES={"C1": {"threshold": 0.95}, "C2": {"target_precision": 0.99}})
    d1 = engine.decide("reset password", channel="C1")
    assert d1.threshold == 0.95 and d1.verdict is Verdict.ESCALATE
    assert d1.reasons == ("confidence_below_threshold",)
    d2 = engine.decide("reset password", channel="C2")
    assert d2.threshold == pytest.approx(0.89) and d2.verdict is Verdict.ANSWER
    assert scorer.targets == [0.99]


def test_shadow_mode_from_the_hub_and_per_channel() -> None:
    engine, _ = make(HUB_DRY_RUN=True, HUB_CHANNEL_POLICIES={"live": {"dry_run": False}})
    shadow = engine.decide("reset password")
    assert shadow.verdict is Verdict.ESCALATE and shadow.reasons == ("dry_run", "confident") and shadow.dry_run
    live = engine.decide("reset password", channel="live")
    assert live.verdict is Verdict.ANSWER and not live.dry_run


def test_sensitive_topics_come_from_settings_and_the_guard_can_be_switched_off() -> None:
    engine, _ = make(HUB_SENSITIVE_TOPICS="refund,pricing")
    assert engine.decide("I want a refund").reasons == ("sensitive_topic:refund",)
    assert engine.decide("a question on pricing").reasons == ("sensitive_topic:pricing",)
    assert engine.decide("a lawyer asked about passwords").verdict is Verdict.ANSWER  # legal is not configured
    assert engine.decide("I want a refund", guard_topics=False).verdict is Verdict.ANSWER
    unguarded, _ = make(HUB_SENSITIVE_TOPICS="none")  # an admin who wants no sensitive topics at all
    assert unguarded.decide("I want a refund").verdict is Verdict.ANSWER


def test_thread_state_is_passed_through() -> None:
    engine, _ = make()
    d = engine.decide("reset password", thread=ThreadState(fallback_before=True))
    assert d.verdict is Verdict.ESCALATE and d.reasons == ("fallback_in_thread",)


@responses.activate
def test_the_writer_rewrites_answers_when_configured() -> None:
    responses.post("http://llm.test/v1/chat/completions", json={"choices": [{"message": {
        "content": "Settings > Security > Reset password. Source: https://kb.example/reset"}}]})
    settings = load_settings(settings_dict("sqlite://", HUB_LLM_URL="http://llm.test/v1", HUB_LLM_MODEL="m"))
    from interceptor.writer import LLMWriter

    assert settings.llm is not None
    engine = Interceptor(settings, FakeScorer(), writer=LLMWriter(settings.llm))
    d = engine.decide("reset password")
    assert d.answer is not None and d.answer.startswith("Settings > Security > Reset password.")
    assert "write" in d.latency_ms
    escalated = engine.decide("I want a refund")
    assert escalated.answer is None and len(responses.calls) == 1


def test_suggest_uses_a_lexical_search_when_the_scorer_has_one() -> None:
    engine, scorer = make()
    assert engine.suggest("reset", k=1) == [TOP]
    assert scorer.calls == [("reset", 1)]
    assert engine.suggest("   ") == []

    class Lexical(FakeScorer):
        def suggest(self, text: str, *, k: int = 5) -> list[Candidate]:
            return [OTHER]

    fast = Interceptor(load_settings(settings_dict("sqlite://")), Lexical())
    assert fast.suggest("vpn") == [OTHER]


def test_lazy_interceptor_builds_once() -> None:
    built: list[int] = []

    def build() -> str:
        built.append(1)
        return "engine"

    lazy = LazyInterceptor(build)
    assert lazy() == "engine" and lazy() == "engine"
    assert built == [1]


def test_build_interceptor_on_an_empty_kb_escalates_with_no_candidate(sqlite_url: str) -> None:
    from core.db import Database

    settings = load_settings(settings_dict(sqlite_url))
    db = Database(sqlite_url)
    try:
        engine = build_interceptor(settings, db)
        d = engine.decide("how do I reset my password")
    finally:
        db.dispose()
    assert d.verdict is Verdict.ESCALATE and d.reasons == ("no_candidate",)
    assert engine.writer is None


@responses.activate
def test_each_question_is_scored_on_its_own_and_the_writer_leaves_a_two_question_answer_alone() -> None:
    responses.post("http://llm.test/v1/chat/completions", json={"choices": [{"message": {"content": "x"}}]})
    settings = load_settings(settings_dict("sqlite://", HUB_LLM_URL="http://llm.test/v1", HUB_LLM_MODEL="m"))
    from interceptor.writer import LLMWriter

    assert settings.llm is not None
    scorer = FakeScorer()
    engine = Interceptor(settings, scorer, writer=LLMWriter(settings.llm))
    d = engine.decide("Hi team,\nHow do I reset my password? Also, how do I connect to the VPN?\nThanks, Bob")
    assert scorer.calls == [("How do I reset my password?", 5), ("how do I connect to the VPN?", 5)]
    assert d.questions == ("How do I reset my password?", "how do I connect to the VPN?")
    assert d.verdict is Verdict.ANSWER and len(responses.calls) == 0  # the writer would drop a question
    assert set(d.latency_ms) >= {"prefilter", "score", "decide"}


def test_a_request_of_a_thousand_questions_is_scored_five_times_and_goes_to_a_person() -> None:
    engine, scorer = make()
    d = engine.decide(" ".join(f"How do I reset password number {n}?" for n in range(1000)))
    assert len(scorer.calls) == MAX_QUESTIONS  # bounded work, whatever the request's length
    assert d.verdict is Verdict.ESCALATE and d.reasons[0] == "too_many_questions" and d.answer is None
    assert d.draft and "How do I reset password number 0?" in d.draft
