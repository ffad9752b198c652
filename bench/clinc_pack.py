"""Build a ``helpdesk-bench/v1`` intent pack from CLINC150 (measure the promise on an intent domain the hub was
never tuned on).

BANKING77, the dev intent pack, is one domain. CLINC150 holds 150 intents of ten others (travel, home,
kitchen, auto, work, small talk, ...) and out-of-scope requests, the kind of request a help desk cannot answer.
Nothing is downloaded and nothing is written into the repository: you give it CLINC150's ``data_full.json``
(github.com/clinc/oos-eval, ``data/data_full.json``; CC BY 3.0) and an output folder.

The recipe is the BANKING77 pack's (``../shared/bench/README.md``):
- ``--gaps`` intents (default 30, chosen with ``--seed``) are left out of the KB: their requests are
  knowledge gaps, to be let through;
- every other intent is an article: a title from the intent's name, no body, and ``--questions`` of its
  training utterances (default 10) as past resolved tickets;
- the calibration split is ``--calibration`` further training utterances per intent (default 8; the gap
  intents' are gaps there too) and ``--oos-calibration`` out-of-scope training requests (default 40);
- the test split is CLINC150's test set and ``--oos-test`` of its out-of-scope test requests (default 300).

Usage: python bench/clinc_pack.py DATA_FULL_JSON OUT_DIR [--seed 20261128]
then ``hub eval OUT_DIR --json [--no-history]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

OUT_OF_SCOPE = "oos"


def build(data: dict[str, list[list[str]]], *, seed: int = 20261128, gaps: int = 30, questions: int = 10,
          calibration: int = 8, oos_calibration: int = 40, oos_test: int = 300) -> dict[str, Any]:
    """Return the pack (a JSON-able dict) made from CLINC150's ``data_full.json`` content."""
    rng = random.Random(seed)
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    intents = sorted(by_intent)
    withheld = set(rng.sample(intents, gaps))
    articles, queries = [], []

    def query(qid: str, split: str, text: str, intent: str) -> None:
        expected = None if intent in withheld or intent == OUT_OF_SCOPE else intent
        queries.append({"id": qid, "split": split, "text": text, "expected_article_id": expected, "source_label": intent})

    for intent in intents:
        rows = list(by_intent[intent])
        rng.shuffle(rows)
        if intent not in withheld:
            articles.append({"id": intent, "title": intent.replace("_", " ").capitalize(), "body": "",
                             "questions": rows[:questions]})
        for i, text in enumerate(rows[questions:questions + calibration]):
            query(f"cal-{intent}-{i}", "calibration", text, intent)
    for i, (text, _) in enumerate(data["oos_train"][:oos_calibration]):
        query(f"cal-oos-{i}", "calibration", text, OUT_OF_SCOPE)
    for i, (text, intent) in enumerate(data["test"]):
        query(f"test-{i}", "test", text, intent)
    for i, (text, _) in enumerate(data["oos_test"][:oos_test]):
        query(f"test-oos-{i}", "test", text, OUT_OF_SCOPE)
    return {"format": "helpdesk-bench/v1", "name": "clinc150", "role": "check",
            "description": f"CLINC150 intents, {len(articles)} as the KB and {gaps} withheld as gaps, plus out-of-scope "
                           "requests; built by bench/clinc_pack.py",
            "build": {"script": "bench/clinc_pack.py", "seed": seed,
                      "params": {"gaps": sorted(withheld), "questions": questions, "calibration": calibration,
                                 "oos_calibration": oos_calibration, "oos_test": oos_test}},
            "articles": articles, "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser(description="a helpdesk-bench/v1 intent pack from CLINC150's data_full.json")
    parser.add_argument("source", type=Path, help="CLINC150's data/data_full.json")
    parser.add_argument("out", type=Path, help="folder to write pack.json into")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--gaps", type=int, default=30)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--calibration", type=int, default=8)
    parser.add_argument("--oos-calibration", type=int, default=40)
    parser.add_argument("--oos-test", type=int, default=300)
    args = parser.parse_args()
    pack = build(json.loads(args.source.read_text(encoding="utf-8")), seed=args.seed, gaps=args.gaps,
                 questions=args.questions, calibration=args.calibration, oos_calibration=args.oos_calibration,
                 oos_test=args.oos_test)
    write(pack, args.out)


def write(pack: dict[str, Any], out: Path) -> None:
    """Write ``pack`` as ``out/pack.json`` and print its counts as one JSON line."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "pack.json").write_text(json.dumps(pack), encoding="utf-8")
    tests = [q for q in pack["queries"] if q["split"] == "test"]
    json.dump({"pack": pack["name"], "articles": len(pack["articles"]), "queries": len(pack["queries"]),
               "test": len(tests), "test_answerable": sum(q["expected_article_id"] is not None for q in tests)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
