"""The optional LLM writer against a faked OpenAI-compatible API (`responses`): it must cite, and every failure
falls back to the extractive answer."""

from __future__ import annotations

import json

import requests
import responses

from config import Secret
from config.settings import LLMSettings
from interceptor.decide import decide
from interceptor.types import Candidate, Decision, Policy, Scored, Verdict
from interceptor.writer import LLMWriter, rewrite_answer

URL = "http://llm.test/v1"
ENDPOINT = f"{URL}/chat/completions"
TOP = Candidate(1, "kb-1", "Reset your password", "https://kb.example/reset",
                "Open Settings, then Security. Choose Reset password.", 7.5)
Q = "how do I reset my password"


def writer(api_key: str | None = "sk-test") -> LLMWriter:
    return LLMWriter(LLMSettings(URL, "tiny-model", Secret(api_key) if api_key else None, 2.0))


def extractive(policy: Policy = Policy(0.5)) -> Decision:
    return decide(Q, Scored((TOP,), 0.9, model="bm25"), policy)


def completion(content: str) -> dict[str, object]:
    return {"id": "c1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}


@responses.activate
def test_a_cited_generated_answer_replaces_the_extractive_one() -> None:
    responses.post(ENDPOINT, json=completion(
        "Go to Settings > Security and pick Reset password.\nSource: https://kb.example/reset"))
    base = extractive()
    d = rewrite_answer(base, Q, writer(), 3000)
    assert d.verdict is Verdict.ANSWER
    assert d.answer is not None and d.answer.startswith("Go to Settings > Security and pick Reset password.")
    assert d.answer.count("https://kb.example/reset") == 1  # the model's own source line is not repeated
    assert "Did this solve it?" in d.answer
    assert d.model == "bm25+tiny-model"
    sent = json.loads(responses.calls[0].request.body)
    assert sent["model"] == "tiny-model"
    assert Q in sent["messages"][-1]["content"] and TOP.passage in sent["messages"][-1]["content"]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer sk-test"


@responses.activate
def test_no_authorization_header_without_a_key() -> None:
    responses.post(ENDPOINT, json=completion("See https://kb.example/reset"))
    rewrite_answer(extractive(), Q, writer(api_key=None), 3000)
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_a_generated_answer_without_the_citation_falls_back_to_extractive() -> None:
    responses.post(ENDPOINT, json=completion("Just reset it in the settings, easy."))
    base = extractive()
    assert rewrite_answer(base, Q, writer(), 3000) == base


@responses.activate
def test_a_server_error_falls_back_to_extractive() -> None:
    responses.post(ENDPOINT, status=500, json={"error": "boom"})
    base = extractive()
    assert rewrite_answer(base, Q, writer(), 3000) == base


@responses.activate
def test_a_timeout_falls_back_to_extractive() -> None:
    responses.post(ENDPOINT, body=requests.exceptions.ReadTimeout("slow"))
    base = extractive()
    assert rewrite_answer(base, Q, writer(), 3000) == base


@responses.activate
def test_a_malformed_reply_or_a_refusal_falls_back_to_extractive() -> None:
    responses.post(ENDPOINT, json={"choices": []})
    responses.post(ENDPOINT, json=completion("CANNOT_ANSWER"))
    base = extractive()
    assert rewrite_answer(base, Q, writer(), 3000) == base
    assert rewrite_answer(base, Q, writer(), 3000) == base
    assert len(responses.calls) == 2


@responses.activate
def test_the_writer_is_not_called_for_escalations_or_shadow_mode() -> None:
    w = writer()
    below = decide(Q, Scored((TOP,), 0.1), Policy(0.5))
    shadow = decide(Q, Scored((TOP,), 0.9), Policy(0.5, dry_run=True))
    assert rewrite_answer(below, Q, w, 3000) == below
    assert rewrite_answer(shadow, Q, w, 3000) == shadow
    assert rewrite_answer(extractive(), Q, None, 3000) == extractive()
    assert len(responses.calls) == 0


@responses.activate
def test_a_long_generated_answer_is_cut_to_the_limit() -> None:
    long = "Step one is to open the settings page. " * 40 + "Source: https://kb.example/reset"
    responses.post(ENDPOINT, json=completion(long))
    d = rewrite_answer(extractive(), Q, writer(), 400)
    assert d.answer is not None and len(d.answer) <= 400
    assert d.answer.startswith("Step one is to open the settings page.")
    assert "https://kb.example/reset" in d.answer
