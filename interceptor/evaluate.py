"""``hub eval``: measure the real decision path on a bench pack (format in ``shared/bench/README.md``).

The pack's articles go into a fresh temporary KB; the calibration split is the install's labelled history
(``hub kb calibrate``), unless ``no_history`` (then the KB calibrates itself from its own content, as a
fresh install does); every test query then runs through the engine's ``decide_text`` (prefilter, ``score``
per question, ``decide``) with the topic guard off.
Test labels are read only after all test queries were decided, and ``source_label`` is never read.
``helpdesk-bench/v2`` packs are also scored at answer level: an answer is right when the passage it quotes
lies in an expected section of the article it cites (:func:`quote_in_section`).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from config.settings import Settings
from core.db import Database
from core.words import plural
from interceptor.engine import decide_text, speller_for
from interceptor.kb.importer import KBImportError, import_articles, pack_articles, read_pack
from interceptor.kb.packs import pack_warnings
from interceptor.retrieval.history import Labelled
from interceptor.retrieval.lexical import quote_in_section
from interceptor.retrieval.scorer import KBScorer, build_scorer
from interceptor.types import Policy, Verdict

__all__ = ["evaluate", "quote_in_section", "curve_metrics", "write_details"]


@dataclass(frozen=True)
class Outcome:
    """One test query's decision: what the hub would quote and how sure it was."""

    answered: bool
    article_id: str | None
    section_id: str | None
    confidence: float
    passage: str
    ms: float


def curve_metrics(confidence: np.ndarray, correct: np.ndarray, answerable: int) -> dict[str, float]:
    """Return the precision-coverage curve's area and the coverage reachable at precision 0.95 and 0.90.

    Args:
        confidence: per query, the confidence of its top answer.
        correct: per query, whether that top answer is right (never for unanswerable queries).
        answerable: how many queries have an answer in the KB.
    """
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    precision = hits / np.arange(1, len(order) + 1)
    coverage = hits / max(answerable, 1)
    last = np.r_[confidence[order][1:] != confidence[order][:-1], True]  # only whole tie groups
    precision, coverage = precision[last], coverage[last]
    aupc = float(np.sum(np.diff(np.r_[0.0, coverage]) * precision))

    def at(target: float) -> float:
        ok = coverage[precision >= target]
        return float(ok.max()) if len(ok) else 0.0

    return {"aupc": round(aupc, 4), "coverage_at_precision_95": round(at(0.95), 4),
            "coverage_at_precision_90": round(at(0.90), 4)}


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def evaluate(pack_dir: Path, settings: Settings, prepare_database: Callable[[str], None], *,
             target_precision: float = 0.95, no_history: bool = False, details: Path | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the quality benchmark on one pack.

    Args:
        pack_dir: a folder holding ``pack.json`` (or the file itself).
        settings: retrieval settings (``dense``, ``embedding_model``); the database URL is replaced by a
            temporary SQLite file.
        prepare_database: creates the schema at a database URL (``migrations.upgrade``).
        target_precision: the precision the threshold is chosen for.
        no_history: ignore the calibration split (the KB calibrates from its own content).
        details: where to write one JSON line per test query (``id``, ``verdict``, ``article_id``,
            ``section_id``, ``confidence``, ``passage``: the top candidate's, exactly as an answer quotes it).
        progress: called with a line of progress text.

    Returns:
        The metrics (see ``hub eval --help``), with ``pack_warnings``: what in the pack skews them
        (:func:`interceptor.kb.packs.pack_warnings`).

    Raises:
        KBImportError: the pack cannot be read.
    """
    say = progress or (lambda line: None)
    path = pack_dir / "pack.json" if pack_dir.is_dir() else pack_dir
    if pack_dir.is_dir() and not path.is_file():
        raise KBImportError(f"{pack_dir} has no pack.json: PACK_DIR is a folder holding a bench pack's pack.json "
                            "(helpdesk-bench/v1 or /v2), or that file")
    pack = read_pack(path)
    warnings = pack_warnings(pack)
    queries = pack.get("queries", [])
    calibration = [] if no_history else [
        Labelled(q["text"], q.get("expected_article_id"), q.get("id"),
                 tuple(q["expected_section_ids"]) if q.get("expected_section_ids") else None)
        for q in queries if q["split"] == "calibration"]
    tests = [(q["id"], q["text"]) for q in queries if q["split"] == "test"]
    if not tests:
        raise KBImportError(f"{path}: no query has split \"test\": hub eval measures the test split")
    with tempfile.TemporaryDirectory(prefix="hub-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        prepare_database(url)
        db = Database(url)
        try:
            started = time.perf_counter()
            import_articles(db, pack_articles(pack))
            scorer = build_scorer(replace(settings, database_url=url), db, cold_start=not calibration)
            index_seconds = time.perf_counter() - started
            say(f"indexed {plural(len(scorer.index.articles), 'article')} in {index_seconds:.1f}s ({scorer.mode}; {scorer.calibration_source})")
            if calibration:
                try:
                    scorer.calibrate(calibration, provenance=f"hub eval: calibration split of {pack.get('name')}")
                except ValueError as e:  # too little or one-sided history: the KB calibrates from its content
                    scorer.cold_start()
                    say(f"calibration split not usable ({e}); using {scorer.calibration_source}")
            threshold = scorer.threshold_for(target_precision)
            say(f"calibrated on {plural(len(calibration), 'past request') if calibration else 'no past requests'} ({scorer.calibration_source}); threshold {threshold:.3f}")
            decisions = _run(scorer, tests, threshold, say)
        finally:
            db.dispose()
    if details is not None:
        write_details(details, decisions)
    report = _report(pack, queries, decisions, target_precision, threshold, index_seconds, scorer)
    report["history"] = "none (--no-history)" if no_history else f"calibration split ({len(calibration)})"
    report["threshold_method"] = scorer.threshold_report(target_precision)
    report["pack_warnings"] = warnings
    return report


def write_details(path: Path, decisions: dict[str, Outcome]) -> None:
    """Write one JSON line per test query (ids as the pack names them)."""
    with path.open("w", encoding="utf-8") as f:
        for qid, o in decisions.items():
            f.write(json.dumps({"id": qid, "verdict": "answer" if o.answered else "escalate",
                                "article_id": o.article_id, "section_id": o.section_id,
                                "confidence": round(o.confidence, 6), "passage": o.passage}, ensure_ascii=False) + "\n")


def _run(scorer: KBScorer, tests: list[tuple[str, str]], threshold: float,
         say: Callable[[str], None]) -> dict[str, Outcome]:
    policy = Policy(threshold=threshold, guard_topics=False)
    speller = speller_for(scorer)
    out: dict[str, Outcome] = {}
    for n, (qid, text) in enumerate(tests, 1):
        started = time.perf_counter()
        decision = decide_text(text, scorer, policy, speller=speller)  # prefilter, score each question, decide
        elapsed = (time.perf_counter() - started) * 1000
        top = decision.candidates[0] if decision.candidates else None
        out[qid] = Outcome(decision.verdict == Verdict.ANSWER, top.external_id if top else None,
                           top.section_id if top else None, decision.confidence, top.passage if top else "", elapsed)
        if n % 500 == 0:
            say(f"decided {n}/{len(tests)}")
    return out


def answer_right(pack: dict[str, Any], expected: dict[str, Any], outcomes: dict[str, Outcome]) -> dict[str, bool]:
    """Return, per test query, whether its top candidate's quote answers it at answer level (v2 packs):
    it cites an article that holds an expected section, and the quote lies in that section."""
    sections = {str(s["id"]): (str(a["id"]), s.get("text") or s.get("heading") or "")
                for a in pack.get("articles", []) for s in a.get("sections") or () if s.get("id") is not None}
    out = {}
    for qid, o in outcomes.items():
        wanted = expected[qid].get("expected_section_ids")
        if wanted is None:
            wanted = [] if expected[qid].get("expected_article_id") is None else None
        if wanted is None:  # no sections named: article level
            out[qid] = o.article_id is not None and o.article_id == expected[qid].get("expected_article_id")
            continue
        out[qid] = any(sid in sections and sections[sid][0] == o.article_id and quote_in_section(o.passage, sections[sid][1])
                       for sid in wanted)
    return out


def _rates(right: dict[str, bool], outcomes: dict[str, Outcome], answerable: int) -> tuple[int, float, float]:
    correct = sum(1 for qid, o in outcomes.items() if o.answered and right[qid])
    answered = sum(o.answered for o in outcomes.values())
    return correct, round(correct / answered, 4) if answered else 1.0, round(correct / answerable, 4) if answerable else 0.0


def _report(pack: dict[str, Any], queries: list[dict[str, Any]], decisions: dict[str, Outcome],
            target: float, threshold: float, index_seconds: float, scorer: KBScorer) -> dict[str, Any]:
    expected = {q["id"]: q for q in queries if q["split"] == "test"}  # labels read only now
    answerable = sum(1 for q in expected.values() if q.get("expected_article_id") is not None)
    nulls = len(expected) - answerable
    article_ok = {qid: q.get("expected_article_id") is not None and decisions[qid].article_id == q.get("expected_article_id")
                  for qid, q in expected.items()}
    correct, precision, coverage = _rates(article_ok, decisions, answerable)
    answered = sum(o.answered for o in decisions.values())
    null_through = sum(1 for qid, o in decisions.items() if expected[qid].get("expected_article_id") is None and not o.answered)
    conf = np.array([decisions[qid].confidence for qid in expected])
    test = {
        "queries": len(expected), "answerable": answerable, "answered": answered, "correct": correct,
        "precision": precision, "coverage": coverage,
        "null_let_through": round(null_through / nulls, 4) if nulls else 1.0,
        "top1_accuracy": round(sum(article_ok.values()) / answerable, 4) if answerable else 0.0,
    }
    report = {
        "pack": pack.get("name"), "format": pack.get("format"), "target_precision": target,
        "threshold": round(threshold, 4), "retrieval": scorer.mode, "model": scorer.model,
        "calibration": scorer.calibration_source, "test": test,
        "curve": curve_metrics(conf, np.array([article_ok[q] for q in expected], dtype=float), answerable),
    }
    if pack.get("format") == "helpdesk-bench/v2":
        right = answer_right(pack, expected, decisions)
        a_correct, a_precision, a_coverage = _rates(right, decisions, answerable)
        test.update(answer_correct=a_correct, answer_precision=a_precision, answer_coverage=a_coverage,
                    answer_top1_accuracy=round(sum(right.values()) / answerable, 4) if answerable else 0.0)
        report["answer_curve"] = curve_metrics(conf, np.array([right[q] for q in expected], dtype=float), answerable)
    latency = [o.ms for o in decisions.values()]
    report["latency_ms"] = {"p50": _percentile(latency, 50), "p99": _percentile(latency, 99)}
    report["index_seconds"] = round(index_seconds, 2)
    return report
