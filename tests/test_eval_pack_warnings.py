"""``hub eval`` of a pack whose labels skew its figures without a word (found by the third red-team pass): an
answerable query listing no section, a request the KB cannot answer listing sections, a query naming a section of
another article than its expected one, a ``name`` that is not text. The pack is measured, and each flaw is a
``warning:`` line and in ``pack_warnings`` (as for the flaws found before: ``interceptor.kb.packs``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app import cli

ARTICLES = [
    {"id": "a1", "title": "Reset password", "body": "Open Settings, then Reset.",
     "sections": [{"id": "s1", "heading": "Steps", "text": "Open Settings, then Reset."},
                  {"id": "s3", "heading": "Shared", "text": "Contact support by chat."}]},
    {"id": "a2", "title": "Refunds", "body": "Refunds take 14 days.",
     "sections": [{"id": "s2", "heading": "Timing", "text": "Refunds take 14 days."},
                  {"id": "s4", "heading": "Shared", "text": "Contact support by chat."}]},
]
RESET = {"id": "q1", "split": "test", "text": "how do I reset my password", "expected_article_id": "a1",
         "expected_section_ids": ["s1"]}
GAP = {"id": "q2", "split": "test", "text": "can I pay in bitcoin", "expected_article_id": None, "expected_section_ids": None}


def _eval(tmp_path: Path, queries: list[dict[str, Any]], **pack: Any) -> tuple[list[str], list[str]]:
    """``hub eval --json`` of a v2 pack of ``queries``: the JSON's ``pack_warnings`` and the stderr warning lines."""
    body = {"format": "helpdesk-bench/v2", "name": "p", "articles": ARTICLES, "queries": queries, **pack}
    (tmp_path / "pack.json").write_text(json.dumps(body), encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path), "--json"], env={"HUB_DENSE": "off"})
    assert result.exit_code == 0, result.output  # measured anyway
    lines = [line.removeprefix("warning: ") for line in result.stderr.splitlines() if line.startswith("warning: ")]
    return json.loads(result.stdout)["pack_warnings"], lines


@pytest.mark.parametrize("queries,pack,warning", [
    ([dict(RESET, expected_section_ids=[]), GAP], {},  # never right at answer level: answer_coverage understated
     "query 'q1' expects article 'a1' and lists no section (`expected_section_ids: []`): no answer to it can count "
     "as right at answer level (null judges it by its article)"),
    ([RESET, dict(GAP, expected_section_ids=["s2"])], {},  # an answer to a gap counted as a right answer
     "query 'q2' has no expected_article_id (a request the KB cannot answer) but lists sections: an answer quoting "
     "one counts as right at answer level"),
    ([dict(RESET, expected_section_ids=["s1", "s2"]), GAP], {},  # right at answer level citing a2, wrong at article level
     "query 'q1' expects section 's2' of article 'a2', not of its expected article 'a1': an answer quoting it counts "
     "as right at answer level, wrong at article level"),
    ([RESET, GAP], {"name": ["p", 2]}, "`name` is not text (a list): the report names the pack by it as it is"),
])
def test_eval_measures_a_pack_whose_labels_skew_its_figures_and_says_so(tmp_path: Path, queries: list[dict[str, Any]],
                                                                        pack: dict[str, Any], warning: str) -> None:
    assert _eval(tmp_path, queries, **pack) == ([warning], [warning])


def test_a_section_of_another_article_with_the_same_text_is_no_flaw(tmp_path: Path) -> None:
    # "identical text in another article counts alike" (shared/bench/README.md): doc2dial's pack lists four such
    shared = dict(RESET, text="how do I contact support", expected_section_ids=["s3", "s4"])
    assert _eval(tmp_path, [shared, GAP]) == ([], [])
