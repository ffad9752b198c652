"""``hub eval``: measure the real decision path on a bench pack (format in ``shared/bench/README.md``).

The pack's articles go into a fresh temporary KB; the calibration split is the install's labelled history
(``hub kb calibrate``); every test query then runs through the engine's ``decide_text`` (prefilter, ``score``
per question, ``decide``) with the topic guard off.
Test labels are read only after all test queries were decided, and ``source_label`` is never read.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from config.settings import Settings
from core.db import Database
from interceptor.engine import decide_text, speller_for
from interceptor.retrieval.history import Labelled
from interceptor.kb.importer import import_articles, pack_articles, read_pack
from interceptor.retrieval.scorer import KBScorer, build_scorer
from interceptor.types import Policy, Verdict


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
             target_precision: float = 0.95, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the quality benchmark on one pack.

    Args:
        pack_dir: a folder holding ``pack.json`` (or the file itself).
        settings: retrieval settings (``dense``, ``embedding_model``); the database URL is replaced by a
            temporary SQLite file.
        prepare_database: creates the schema at a database URL (``migrations.upgrade``).
        target_precision: the precision the threshold is chosen for.
        progress: called with a line of progress text.

    Returns:
        The metrics (see ``hub eval --help``).
    """
    say = progress or (lambda line: None)
    path = pack_dir / "pack.json" if pack_dir.is_dir() else pack_dir
    pack = read_pack(path)
    queries = pack.get("queries", [])
    calibration = [Labelled(q["text"], q.get("expected_article_id"), q.get("id")) for q in queries if q["split"] == "calibration"]
    tests = [(q["id"], q["text"]) for q in queries if q["split"] == "test"]
    with tempfile.TemporaryDirectory(prefix="hub-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        prepare_database(url)
        db = Database(url)
        try:
            started = time.perf_counter()
            import_articles(db, pack_articles(pack))
            scorer = build_scorer(replace(settings, database_url=url), db)
            index_seconds = time.perf_counter() - started
            say(f"indexed {len(scorer.index.articles)} articles in {index_seconds:.1f}s ({scorer.mode})")
            if calibration:
                try:
                    scorer.calibrate(calibration, provenance=f"hub eval: calibration split of {pack.get('name')}")
                except ValueError as e:  # too little or one-sided history: the shipped default stays
                    say(f"calibration split not usable ({e}); using the default calibration")
            threshold = scorer.threshold_for(target_precision)
            say(f"calibrated on {len(calibration)} past requests; threshold {threshold:.3f}")
            decisions = _run(scorer, tests, threshold, say)
        finally:
            db.dispose()
    return _report(pack, queries, decisions, target_precision, threshold, index_seconds, scorer)


def _run(scorer: KBScorer, tests: list[tuple[str, str]], threshold: float,
         say: Callable[[str], None]) -> dict[str, tuple[bool, str | None, float, float]]:
    policy = Policy(threshold=threshold, guard_topics=False)
    speller = speller_for(scorer)
    out: dict[str, tuple[bool, str | None, float, float]] = {}
    for n, (qid, text) in enumerate(tests, 1):
        started = time.perf_counter()
        decision = decide_text(text, scorer, policy, speller=speller)  # prefilter, score each question, decide
        elapsed = (time.perf_counter() - started) * 1000
        top = decision.candidates[0].external_id if decision.candidates else None
        out[qid] = (decision.verdict == Verdict.ANSWER, top, decision.confidence, elapsed)
        if n % 500 == 0:
            say(f"decided {n}/{len(tests)}")
    return out


def _report(pack: dict[str, Any], queries: list[dict[str, Any]], decisions: dict[str, tuple[bool, str | None, float, float]],
            target: float, threshold: float, index_seconds: float, scorer: KBScorer) -> dict[str, Any]:
    expected = {q["id"]: q.get("expected_article_id") for q in queries if q["split"] == "test"}  # read only now
    answerable = sum(1 for e in expected.values() if e is not None)
    nulls = len(expected) - answerable
    answered = correct = null_through = top1 = 0
    conf, right, latency = [], [], []
    for qid, (answer, top, confidence, ms) in decisions.items():
        ok = expected[qid] is not None and top == expected[qid]
        answered += answer
        correct += answer and ok
        null_through += expected[qid] is None and not answer
        top1 += ok
        conf.append(confidence)
        right.append(ok)
        latency.append(ms)
    return {
        "pack": pack.get("name"), "target_precision": target, "threshold": round(threshold, 4),
        "retrieval": scorer.mode, "model": scorer.model, "calibration": scorer.calibration_source,
        "test": {
            "queries": len(expected), "answerable": answerable, "answered": answered, "correct": correct,
            "precision": round(correct / answered, 4) if answered else 1.0,
            "coverage": round(correct / answerable, 4) if answerable else 0.0,
            "null_let_through": round(null_through / nulls, 4) if nulls else 1.0,
            "top1_accuracy": round(top1 / answerable, 4) if answerable else 0.0,
        },
        "curve": curve_metrics(np.array(conf), np.array(right, dtype=float), answerable),
        "latency_ms": {"p50": _percentile(latency, 50), "p99": _percentile(latency, 99)},
        "index_seconds": round(index_seconds, 2),
    }
