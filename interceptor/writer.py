"""The optional generative writer: rewrites the best passage into an answer through an OpenAI-compatible
chat-completions API (``POST {HUB_LLM_URL}/chat/completions``). Off unless configured.

It does I/O, so it sits outside the pure functions: the engine calls :func:`rewrite_answer` after ``decide``
when the verdict is ANSWER. Every failure (HTTP error, timeout, malformed reply, an answer that does not cite
the article) falls back to the extractive answer the decision already holds.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from typing import Any

import requests

from config.settings import LLMSettings
from core.telemetry import count, observe
from interceptor.compose import compose_answer
from interceptor.types import Candidate, Decision, Verdict

log = logging.getLogger(__name__)
_TRAILING_SOURCE = re.compile(r"\n?[ \t]*\(?sources?:[^\n]*\)?\s*$", re.IGNORECASE)

SYSTEM_PROMPT = (
    "You are a help-desk assistant. Answer the user's request using ONLY the knowledge-base passage given. "
    "Be brief and plain text (no Markdown). You must cite the article: end your answer with "
    "'Source: <the article URL>' (or the article title when there is no URL). If the passage does not "
    "answer the request, reply with exactly: CANNOT_ANSWER"
)


class LLMWriter:
    """Writes an answer with an LLM, citing the article.

    Args:
        settings: the LLM endpoint, model, key and timeout.
        session: the HTTP session to use (tests and connection reuse); a new one by default.
    """

    def __init__(self, settings: LLMSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()

    @property
    def model(self) -> str:
        """The configured model name."""
        return self.settings.model

    def write(self, text: str, candidate: Candidate, max_chars: int) -> str | None:
        """Return a generated answer body that cites ``candidate``, or ``None`` to fall back.

        Args:
            text: the request's text.
            candidate: the article to answer from and cite.
            max_chars: the length the body should stay within.

        Returns:
            The generated body, or ``None`` on any failure or when it does not cite the article.
        """
        cite = candidate.url or candidate.title
        body: dict[str, Any] = {
            "model": self.settings.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": (
                    f"Article title: {candidate.title}\nArticle URL: {candidate.url or '(none)'}\n"
                    f"Passage:\n{candidate.passage}\n\nRequest:\n{text}\n\n"
                    f"Answer in at most {max_chars} characters and cite: {cite}"
                )},
            ],
        }
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key.reveal()}"
        started = time.perf_counter()
        try:
            response = self.session.post(
                f"{self.settings.url}/chat/completions", json=body, headers=headers,
                timeout=self.settings.timeout_seconds,
            )
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except requests.Timeout:
            return self._fallback("timeout", started)
        except requests.RequestException as e:
            status = getattr(e.response, "status_code", None)
            log.warning("interceptor.writer.http-error", extra={"status": status, "error": type(e).__name__})
            return self._fallback("http_error", started)
        except (ValueError, KeyError, IndexError, TypeError):
            return self._fallback("malformed", started)
        if not isinstance(content, str) or not content.strip() or "CANNOT_ANSWER" in content:
            return self._fallback("declined", started)
        if not cites(content, candidate):
            return self._fallback("no_citation", started)
        observe("interceptor_writer", time.perf_counter() - started, outcome="ok")
        count("interceptor_writer", outcome="ok")
        return content.strip()

    def _fallback(self, outcome: str, started: float) -> str | None:
        """Count and log a fallback; return ``None`` (the caller keeps the extractive answer)."""
        log.warning(f"interceptor.writer.{outcome.replace('_', '-')}", extra={"model": self.settings.model})
        observe("interceptor_writer", time.perf_counter() - started, outcome=outcome)
        count("interceptor_writer", outcome=outcome)
        return None


def cites(content: str, candidate: Candidate) -> bool:
    """Return whether ``content`` references ``candidate``: its URL, else its title (case-insensitive)."""
    lowered = content.lower()
    if candidate.url:
        return candidate.url.rstrip("/").lower() in lowered
    return bool(candidate.title) and candidate.title.lower() in lowered


def rewrite_answer(decision: Decision, text: str, writer: LLMWriter | None, max_chars: int) -> Decision:
    """Return ``decision`` with a generated answer when it is an ANSWER and the writer succeeds.

    Args:
        decision: the pure decision (its extractive answer is the fallback).
        text: the request's text.
        writer: the writer, or ``None`` when none is configured.
        max_chars: the channel's answer length limit.

    Returns:
        The decision, unchanged unless a cited generated answer replaced the extractive one (then its
        ``model`` names the writer's model too).
    """
    if writer is None or decision.verdict is not Verdict.ANSWER or not decision.candidates:
        return decision
    top = decision.candidates[0]
    generated = writer.write(text, top, max_chars)
    if generated is None:
        return decision
    # The footer carries the source line: drop the model's own trailing one so it is not repeated.
    body = _TRAILING_SOURCE.sub("", generated).strip() or generated
    answer = compose_answer(top, max_chars, body=body)
    model = f"{decision.model}+{writer.model}" if decision.model else writer.model
    return dataclasses.replace(decision, answer=answer, model=model)
