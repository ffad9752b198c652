"""``bench/clinc_pack.py``: CLINC150's intents become a ``helpdesk-bench/v1`` pack the hub reads, with withheld
intents and out-of-scope requests as knowledge gaps."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import bench_module
from interceptor.kb.importer import read_pack

INTENTS = ["pay_bill", "book_flight", "timer", "translate"]
DATA = {
    "train": [[f"{intent} request {i}", intent] for intent in INTENTS for i in range(6)],
    "test": [[f"{intent} test {i}", intent] for intent in INTENTS for i in range(2)],
    "oos_train": [["what is the capital of peru", "oos"], ["tell me a joke about cats", "oos"]],
    "oos_test": [["who won the 1994 world cup", "oos"], ["how tall is everest", "oos"], ["sing a song", "oos"]],
}


def test_a_kb_of_intents_with_withheld_intents_and_out_of_scope_requests_as_gaps(tmp_path: Path) -> None:
    pack = bench_module("clinc_pack").build(DATA, seed=3, gaps=1, questions=3, calibration=2, oos_calibration=1, oos_test=2)
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack), encoding="utf-8")
    read = read_pack(path)  # the hub reads it as a v1 pack
    assert read["format"] == "helpdesk-bench/v1"
    [withheld] = pack["build"]["params"]["gaps"]
    kept = {a["id"]: a for a in read["articles"]}
    assert set(kept) == set(INTENTS) - {withheld}
    for article in kept.values():  # titled by its intent's name, three past tickets of its own intent, no body
        assert article["title"] == article["id"].replace("_", " ").capitalize() and not article["body"]
        assert len(article["questions"]) == 3 and all(q.startswith(article["id"]) for q in article["questions"])
    calibration = [q for q in read["queries"] if q["split"] == "calibration"]
    test = [q for q in read["queries"] if q["split"] == "test"]
    assert len(calibration) == 4 * 2 + 1 and len(test) == 4 * 2 + 2
    for q in calibration + test:  # a withheld intent or out of scope: a gap; else its own intent's article
        gap = q["source_label"] in (withheld, "oos")
        assert q["expected_article_id"] == (None if gap else q["source_label"]), q
    # the calibration utterances are not the KB's questions
    questions = {t for a in kept.values() for t in a["questions"]}
    assert not questions & {q["text"] for q in calibration}
