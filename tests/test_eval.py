"""``hub eval`` on a tiny pack written here: the round trip, the metrics, and what it may read when."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import migrations
from config import load_settings
from interceptor import evaluate as evaluate_module
from interceptor.evaluate import curve_metrics, evaluate

ARTICLES = [
    ("reset", "Reset your password", ["I forgot my password", "how to reset password", "password reset link"]),
    ("invoice", "Send an invoice", ["how do I send an invoice", "invoice a client", "email an invoice"]),
    ("slack", "Connect Slack", ["connect slack workspace", "slack integration setup", "link slack"]),
    ("timer", "Start the timer", ["start tracking time", "timer start button", "track hours with timer"]),
]
CALIBRATION = [
    ("I forgot my password again", "reset"), ("reset my password please", "reset"),
    ("password reset email", "reset"), ("send invoice to customer", "invoice"), ("invoice my client", "invoice"),
    ("how to email an invoice", "invoice"), ("slack workspace connect", "slack"), ("set up the slack integration", "slack"),
    ("start timer", "timer"), ("track time with the timer", "timer"), ("what is the weather", None),
    ("best pizza in town", None), ("can I change my avatar colour", None), ("opening hours of the office", None),
]
TEST = [
    ("forgot password reset", "reset"), ("send an invoice", "invoice"), ("connect to slack", "slack"),
    ("start the timer", "timer"), ("where is the nearest train station", None), ("tell me a joke", None),
]


def write_pack(root: Path) -> Path:
    queries = [{"id": f"c{i}", "split": "calibration", "text": t, "expected_article_id": a, "source_label": a or "gap"}
               for i, (t, a) in enumerate(CALIBRATION)]
    queries += [{"id": f"t{i}", "split": "test", "text": t, "expected_article_id": a, "source_label": a or "gap"}
                for i, (t, a) in enumerate(TEST)]
    pack = {"format": "helpdesk-bench/v1", "name": "tiny", "role": "test",
            "articles": [{"id": i, "title": t, "body": f"{t}. Step one. Step two.", "questions": q} for i, t, q in ARTICLES],
            "queries": queries}
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.json").write_text(json.dumps(pack), encoding="utf-8")
    return root


def _settings() -> Any:
    return load_settings({"HUB_DENSE": "off"})


def test_a_pack_round_trip_reports_every_metric(tmp_path: Path) -> None:
    result = evaluate(write_pack(tmp_path / "tiny"), _settings(), migrations.upgrade)
    test = result["test"]
    assert result["pack"] == "tiny" and result["target_precision"] == 0.95
    assert (test["queries"], test["answerable"]) == (6, 4)
    assert test["top1_accuracy"] == 1.0
    assert 0 <= test["correct"] <= test["answered"] <= 6
    for key in ("precision", "coverage", "null_let_through"):
        assert 0.0 <= test[key] <= 1.0
    assert set(result["curve"]) == {"aupc", "coverage_at_precision_95", "coverage_at_precision_90"}
    assert result["curve"]["coverage_at_precision_90"] >= result["curve"]["coverage_at_precision_95"]
    assert result["latency_ms"]["p99"] >= result["latency_ms"]["p50"] >= 0
    assert result["index_seconds"] >= 0


class Recording(dict):  # type: ignore[type-arg]
    """A query dict that logs which of its keys are read."""

    log: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.log.append(f"{key}:{dict.get(self, 'split')}")
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        self.log.append(f"{key}:{dict.get(self, 'split')}")
        return dict.get(self, key, default)


def test_labels_of_test_queries_are_read_only_after_every_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = json.loads((write_pack(tmp_path / "tiny") / "pack.json").read_text(encoding="utf-8"))
    pack["queries"] = [Recording(q) for q in pack["queries"]]
    Recording.log = []
    real_decide = evaluate_module.decide_text

    def logged_decide(*args: Any, **kwargs: Any) -> Any:
        Recording.log.append("decide")
        return real_decide(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "read_pack", lambda path: pack)
    monkeypatch.setattr(evaluate_module, "decide_text", logged_decide)
    evaluate(tmp_path / "tiny", _settings(), migrations.upgrade)
    log = Recording.log
    assert not any(entry.startswith("source_label") for entry in log)
    last_decision = max(i for i, entry in enumerate(log) if entry == "decide")
    first_test_label = min(i for i, entry in enumerate(log) if entry == "expected_article_id:test")
    assert log.count("decide") == len(TEST)
    assert first_test_label > last_decision


def test_curve_metrics_on_a_known_ranking() -> None:
    import numpy as np

    metrics = curve_metrics(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1.0, 1.0, 0.0, 1.0]), answerable=4)
    assert metrics["coverage_at_precision_95"] == 0.5
    assert metrics["coverage_at_precision_90"] == 0.5
    assert metrics["aupc"] == pytest.approx(0.25 + 0.25 + 0.25 * 0.75)


def test_the_eval_command_prints_the_metrics_json(tmp_path: Path) -> None:
    from app import cli

    pack_dir = write_pack(tmp_path / "tiny")
    result = CliRunner().invoke(cli, ["eval", str(pack_dir), "--json", "--target-precision", "0.9"],
                                env={"HUB_DENSE": "off"})
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["target_precision"] == 0.9 and printed["test"]["queries"] == 6


@pytest.mark.parametrize("given, said", [("95", "95.0 is not from 0.5 to 1: it is a fraction, e.g. 0.95 (not 95)"),
                                          ("95%", "'95%' is not a number: it is a fraction, e.g. 0.95 (not 95%)")])
def test_a_target_precision_written_as_a_percentage_is_refused_saying_it_is_a_fraction(tmp_path: Path, given: str,
                                                                                         said: str) -> None:
    from app import cli

    result = CliRunner().invoke(cli, ["eval", str(write_pack(tmp_path / "tiny")), "--target-precision", given])
    assert result.exit_code == 2 and said in result.output, result.output


def test_a_pack_without_usable_calibration_history_calibrates_from_its_own_content(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "tiny")
    pack = json.loads((root / "pack.json").read_text(encoding="utf-8"))
    pack["queries"] = [q for q in pack["queries"] if q["split"] == "test" or q["id"] == "c0"]
    (root / "pack.json").write_text(json.dumps(pack), encoding="utf-8")
    result = evaluate(root, _settings(), migrations.upgrade)
    assert result["calibration"].startswith("coldstart:") and result["test"]["queries"] == 6
    assert result["threshold_method"]["method"].startswith("wilson-lower-bound")
