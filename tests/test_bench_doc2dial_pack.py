"""``bench/doc2dial_pack.py``: doc2dial's reading-comprehension rows become a ``helpdesk-bench/v2`` pack the hub
reads, with each request labelled by the section its grounding span starts in (and that section's twins)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from types import ModuleType

from conftest import bench_module
from interceptor.kb.importer import read_pack


def _builder() -> ModuleType:
    return bench_module("doc2dial_pack")


PAGE = ("\n\nReplace your card \nOrder a new card online. It arrives in ten days. "
        "\n\nIf your card was stolen \nReport it to the police first, then order a new one. \n\nFees \nThere is no fee.")
TWIN = "\n\nCard help \nSome other opening. \n\nFees \nThere is no fee."


def _row(rid: str, question: str, title: str, context: str, answer: str, domain: str = "va") -> dict[str, str]:
    return {"id": rid, "question": f"user:{question}", "context": context, "spans": "{}", "domain": domain, "title": title,
            "answers": repr({"text": [answer], "answer_start": [context.index(answer)]})}


ROWS = [
    _row("a_1", "my card got stolen what now", "Replace a card#1_0", PAGE, "Report it to the police"),
    _row("a_3", "and the fee?", "Replace a card#1_0", PAGE, "There is no fee."),  # a later turn: not a request
    _row("b_1", "how much does a new card cost", "Replace a card#1_0", PAGE, "There is no fee."),
    _row("c_1", "what does it cost", "Card help#2_0", TWIN, "There is no fee."),
    _row("d_1", "renew my licence", "Licences#1_0", "\n\nRenew \nRenew online.", "Renew online.", domain="dmv"),
]


def test_sections_are_the_page_s_blocks_with_their_first_line_as_heading() -> None:
    assert [(h, t) for _, _, h, t in _builder().sections(PAGE)] == [
        ("Replace your card", "Order a new card online. It arrives in ten days."),
        ("If your card was stolen", "Report it to the police first, then order a new one."),
        ("Fees", "There is no fee."),
    ]


def test_requests_are_first_turns_labelled_by_their_section_and_its_twins(tmp_path: Path) -> None:
    pack = _builder().build(ROWS, {"va"}, seed=1, withhold=0.0, calibration=0.5)
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(pack), encoding="utf-8")
    read = read_pack(path)  # the hub reads it as a v2 pack
    assert read["format"] == "helpdesk-bench/v2"
    assert {a["title"] for a in read["articles"]} == {"Replace a card", "Card help"}  # the other domain is not in it
    by_id = {q["id"]: q for q in read["queries"]}
    assert set(by_id) == {"a_1", "b_1", "c_1"}
    ids = {a["title"]: a["id"] for a in read["articles"]}
    card, help_ = ids["Replace a card"], ids["Card help"]
    assert by_id["a_1"]["expected_article_id"] == card and by_id["a_1"]["expected_section_ids"] == [f"{card}-s1"]
    # "There is no fee." is the same section on both pages: either page's quote answers
    assert by_id["b_1"]["expected_section_ids"] == sorted([f"{card}-s2", f"{help_}-s1"])
    assert by_id["c_1"]["expected_article_id"] == help_
    assert sorted(q["split"] for q in read["queries"]) == ["calibration", "calibration", "test"]


def test_a_withheld_page_s_requests_are_knowledge_gaps_unless_a_kept_page_holds_their_section() -> None:
    pack = _builder().build(ROWS, {"va"}, seed=1, withhold=0.5, calibration=0.0)
    assert [a["title"] for a in pack["articles"]] == ["Card help"]  # "Replace a card" is withheld
    help_ = pack["articles"][0]["id"]
    by_id = {q["id"]: q for q in pack["queries"]}
    assert by_id["a_1"]["expected_article_id"] is None and by_id["a_1"]["expected_section_ids"] is None
    # the withheld page's "Fees" is word for word the kept page's: its request is answered there, no gap
    assert by_id["b_1"]["expected_article_id"] == help_ and by_id["b_1"]["expected_section_ids"] == [f"{help_}-s1"]


def test_the_zip_doc2dial_ships_is_read_as_the_csv_inside_it(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(ROWS[0]))
    writer.writeheader()
    writer.writerows(ROWS)
    with zipfile.ZipFile(tmp_path / "rc.zip", "w") as z:
        z.writestr("doc2dial_rc_val.csv", buffer.getvalue())
    (tmp_path / "rc.csv").write_text(buffer.getvalue(), encoding="utf-8")
    builder = _builder()
    assert builder.read_rows(tmp_path / "rc.zip") == builder.read_rows(tmp_path / "rc.csv") == ROWS
