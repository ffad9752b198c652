"""`hub ask "TEXT" [--json]` on a small KB."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from app import cli
from core.db import Database
from interceptor.kb.importer import import_articles, parse_markdown
from tests.test_api_ask import ARTICLES


def _env(sqlite_url: str, **extra: str) -> dict[str, Any]:
    # HUB_URL: a closed loopback port, so `hub ask` decides here even if a hub is serving on this machine.
    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off", "HUB_CONFIG": None, "HUB_URL": "http://127.0.0.1:9"}
    env.update(extra)
    return env


def _import(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        import_articles(db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    finally:
        db.dispose()


def test_ask_prints_verdict_confidence_answer_and_citations(sqlite_url: str) -> None:
    _import(sqlite_url)
    result = CliRunner().invoke(cli, ["ask", "How do I reset my password?"], env=_env(sqlite_url))
    assert result.exit_code == 0, result.output
    assert "verdict:" in result.output and "confidence:" in result.output and "reasons:" in result.output
    assert "Reset your password <https://kb.example/reset-password>" in result.output


def test_ask_json(sqlite_url: str) -> None:
    _import(sqlite_url)
    result = CliRunner().invoke(cli, ["ask", "How do I connect to the VPN?", "--json"], env=_env(sqlite_url))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["verdict"] in ("answer", "escalate")
    assert body["candidates"][0]["title"] == "Connect to the corporate VPN"
    assert {"confidence", "threshold", "reasons", "answer", "citations", "draft"} <= set(body)
    if body["verdict"] == "escalate":
        assert "Connect to the corporate VPN" in body["draft"]


def test_ask_refuses_an_empty_question(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["ask", "  "], env=_env(sqlite_url))
    assert result.exit_code != 0
    assert "empty" in result.output


def test_ask_on_an_unmigrated_database_says_what_to_run(tmp_path: Any) -> None:
    result = CliRunner().invoke(cli, ["ask", "hello"], env=_env(f"sqlite:///{tmp_path / 'new.db'}"))
    assert result.exit_code != 0
    assert "hub db upgrade" in result.output


def test_kb_index_embeds_the_kb_once_and_stores_the_vectors_for_every_process(sqlite_url: str) -> None:
    from sqlalchemy import func, select

    from core.db import EmbeddingRow

    _import(sqlite_url)
    result = CliRunner().invoke(cli, ["kb", "index"], env=_env(sqlite_url, HUB_DENSE="on"))
    assert result.exit_code == 0, result.output
    assert f"indexed {len(ARTICLES)} articles" in result.output and "hybrid (BM25 + all-MiniLM-L6-v2" in result.output
    units = int(result.output.split(" units)")[0].rsplit("(", 1)[1])
    db = Database(sqlite_url)
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(EmbeddingRow)) == units > len(ARTICLES)
    finally:
        db.dispose()

    lexical = CliRunner().invoke(cli, ["kb", "index"], env=_env(sqlite_url))
    assert lexical.exit_code == 0 and "lexical only" in lexical.output


def test_a_confidence_under_its_threshold_is_never_printed_as_reaching_it() -> None:
    """`hub ask` and `hub simulate slack` showed 0.99532 against 0.9954 as "0.995 (threshold 0.995)", escalated:
    they show it as the agents' draft does (interceptor.compose.shown_against)."""
    from surfaces.cli.ask import render
    from surfaces.simulate.command import _decision

    view = {"verdict": "escalate", "dry_run": False, "confidence": 0.99532, "threshold": 0.9954,
            "reasons": ["confidence_below_threshold"], "answer": None, "citations": [], "draft": None}
    assert "confidence: 0.9953 (threshold 0.9954)" in render(view)
    decision = {"shadow": False, "verdict": "escalate", "confidence": 0.99532, "threshold": 0.9954,
                "reasons": ["confidence_below_threshold"], "candidates": []}
    assert _decision("Decision", decision)[0] == "Decision: ESCALATE  confidence 0.9953 (threshold 0.9954)"
    view |= {"verdict": "answer", "confidence": 0.9998, "threshold": 0.9787, "reasons": ["confident"]}
    assert "confidence: 1.000 (threshold 0.979)" in render(view)  # three places when they tell the truth
