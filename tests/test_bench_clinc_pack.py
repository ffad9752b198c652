"""``bench/clinc_pack.py``: CLINC150's intents become a ``helpdesk-bench/v1`` pack the hub reads, with withheld
intents and out-of-scope requests as knowledge gaps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import bench_module
from interceptor.kb.importer import read_pack

ROOT = Path(__file__).resolve().parent.parent

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


def test_an_hwu64_fold_becomes_a_pack_by_the_same_recipe(tmp_path: Path) -> None:
    def rasa(name: str, rows: list[list[str]]) -> Path:
        path = tmp_path / name
        examples = [{"text": text, "intent": intent, "entities": []} for text, intent in rows]
        path.write_text(json.dumps({"rasa_nlu_data": {"common_examples": examples}}), encoding="utf-8")
        return path

    train, test = rasa("train.json", DATA["train"]), rasa("test.json", DATA["test"])
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "hwu_pack.py"), str(train), str(test), str(tmp_path / "out"),
                           "--gaps", "1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    read = read_pack(tmp_path / "out" / "pack.json")
    assert read["name"] == "hwu64" and len(read["articles"]) == 3  # four intents, one withheld
    test_split = [q for q in read["queries"] if q["split"] == "test"]
    assert [q["text"] for q in test_split] == [text for text, _ in DATA["test"]]  # the fold's test set, no out of scope
    assert json.loads(done.stdout) == {"pack": "hwu64", "articles": 3, "queries": len(read["queries"]), "test": 8,
                                       "test_answerable": 6}
