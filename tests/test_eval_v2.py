"""``hub eval`` on a ``helpdesk-bench/v2`` pack written here: sections are imported with their ids, the
answer-level figures follow the bench rule, ``--details`` names exactly what each answer quotes, and
``--no-history`` ignores the calibration split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import migrations
from config import load_settings
from interceptor.evaluate import evaluate, quote_in_section

# (article id, title, [(section heading, section text)])
ARTICLES = [
    ("plates", "License plates", [
        ("Replace lost or stolen plates", "Report stolen plates to the police, then order new plates online or at a DMV office."),
        ("Surrender your plates", "Turn in plates you no longer need at any DMV office and keep the receipt for your insurer."),
        ("Personalized plates", "Choose a custom plate message online; the annual fee is sixty dollars."),
    ]),
    ("loans", "Student loan repayment", [
        ("Income-driven repayment", "Your monthly payment is set from your income and family size under an income-driven plan."),
        ("Deferment", "Deferment lets you stop making payments for a while, for example while you are in school."),
        ("Default", "A loan goes into default after 270 days without a payment; collection fees can be added."),
    ]),
    ("permit", "Learner permit", [
        ("Apply for a permit", "Pass the written test at a DMV office and bring proof of identity to get a learner permit."),
        ("Permit restrictions", "With a learner permit you may drive only with a supervising licensed driver aged 21 or older."),
    ]),
]
CALIBRATION = [
    ("my plates were stolen what now", "plates", 0), ("how do I turn in plates I do not need", "plates", 1),
    ("custom plate message cost", "plates", 2), ("payment based on my income", "loans", 0),
    ("can I pause my loan payments while in school", "loans", 1), ("what happens if I stop paying my loan", "loans", 2),
    ("how to get a learner permit", "permit", 0), ("who can drive with me on a permit", "permit", 1),
    ("renew my passport", None, None), ("fishing licence prices", None, None), ("vote by mail", None, None),
    ("stolen license plates", "plates", 0), ("loan default fees", "loans", 2),
]
TEST = [
    ("someone stole my plates", "plates", 0), ("stop paying loan in school", "loans", 1),
    ("learner permit written test", "permit", 0), ("book a campsite", None, None), ("marriage certificate copy", None, None),
]


def write_v2_pack(root: Path) -> Path:
    articles = []
    for aid, title, sections in ARTICLES:
        secs = [{"id": f"{aid}-s{n}", "heading": h, "text": t} for n, (h, t) in enumerate(sections)]
        articles.append({"id": aid, "title": title, "questions": [], "sections": secs,
                         "body": "\n\n".join(f"{s['heading']}\n{s['text']}" for s in secs)})

    def query(qid: str, split: str, text: str, aid: str | None, sec: int | None) -> dict[str, Any]:
        return {"id": qid, "split": split, "text": text, "expected_article_id": aid, "source_label": "x",
                "expected_section_ids": [f"{aid}-s{sec}"] if aid is not None else None}

    queries = [query(f"c{i}", "calibration", *row) for i, row in enumerate(CALIBRATION)]
    queries += [query(f"t{i}", "test", *row) for i, row in enumerate(TEST)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.json").write_text(json.dumps({"format": "helpdesk-bench/v2", "name": "tiny-v2", "role": "test",
                                                "articles": articles, "queries": queries}), encoding="utf-8")
    return root


def test_the_answer_rule_is_the_bench_rule() -> None:
    section = "Report stolen plates to the police, then order new plates online or at a DMV office."
    assert quote_in_section(section, section)
    assert quote_in_section("Report stolen plates to the police.", section)  # all of the quote's words are there
    assert not quote_in_section("Choose a custom plate message online; the annual fee is sixty dollars.", section)


def test_a_v2_round_trip_writes_details_that_rescore_to_the_reported_figures(tmp_path: Path) -> None:
    root = write_v2_pack(tmp_path / "v2")
    details = tmp_path / "details.jsonl"
    result = evaluate(root, load_settings({"HUB_DENSE": "off"}), migrations.upgrade, details=details)
    lines = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [f"t{i}" for i in range(len(TEST))]
    texts = {f"{aid}-s{n}": (aid, t) for aid, _, sections in ARTICLES for n, (_, t) in enumerate(sections)}
    for line in lines:
        assert set(line) == {"id", "verdict", "article_id", "section_id", "confidence", "passage"}
        assert line["verdict"] in ("answer", "escalate") and 0.0 <= line["confidence"] <= 1.0
        assert texts[line["section_id"]] == (line["article_id"], line["passage"])  # the quote is that section's text
    expected = {f"t{i}": (aid, f"{aid}-s{sec}") for i, (_, aid, sec) in enumerate(TEST)}
    right = [line["verdict"] == "answer" and expected[line["id"]][0] is not None
             and line["section_id"] == expected[line["id"]][1] for line in lines]
    answered = sum(line["verdict"] == "answer" for line in lines)
    test = result["test"]
    assert result["format"] == "helpdesk-bench/v2" and test["answered"] == answered
    assert test["answer_correct"] == sum(right)
    assert test["answer_coverage"] == round(sum(right) / 3, 4)
    assert test["answer_precision"] == (round(sum(right) / answered, 4) if answered else 1.0)
    assert test["answer_top1_accuracy"] == round(sum(1 for line in lines if expected[line["id"]][0] is not None
                                                     and line["section_id"] == expected[line["id"]][1]) / 3, 4)
    assert result["history"] == "calibration split (13)"
    assert {"method", "threshold", "lower_bound", "answered"} <= set(result["threshold_method"])


def test_no_history_ignores_the_calibration_split(tmp_path: Path) -> None:
    from app import cli

    root = write_v2_pack(tmp_path / "v2")
    out = CliRunner().invoke(cli, ["eval", str(root), "--json", "--no-history", "--details", str(tmp_path / "d.jsonl")],
                             env={"HUB_DENSE": "off"})
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)
    assert printed["history"] == "none (--no-history)" and not printed["calibration"].startswith("stored:")
    assert "answer_precision" in printed["test"] and len((tmp_path / "d.jsonl").read_text().splitlines()) == len(TEST)
