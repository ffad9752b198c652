"""What a Jira request's rich text becomes in the hub (found by the third red-team pass): wiki markup (REST v2,
webhooks) with code and noformat blocks, anchors, expands, status lozenges, a rule, attachment links, emoticons
and a ``|`` in a sentence; an ADF body (REST v3) with nested lists. Through the real app: the webhook, the job that
fetches the issue (Jira faked at the transport by ``responses``), and the ticket row the hub keeps."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app import build_hub
from config import load_settings
from core.db import DecisionRow, TicketRow
from tests.conftest import settings_dict
from tests.test_jira_connector import JIRA, inbox_rows, issue_created


def _ticket_text(sqlite_url: str, description: Any) -> str:
    """The text the hub stores for an issue whose ``description`` is ``description``, fetched by its job (the request
    decided once, its inbox row done: a body the hub cannot read fails the whole request)."""
    hub = build_hub(load_settings(settings_dict(sqlite_url, **JIRA)))
    response, _ = issue_created(hub, "Export", description, "wh-text")
    assert (response.status_code, response.get_json()["status"]) == (200, "accepted")
    assert [r.status for r in inbox_rows(hub)] == ["done"]
    with hub.db.session() as s:
        [ticket] = s.scalars(select(TicketRow)).all()
        text = ticket.text
        assert len(s.scalars(select(DecisionRow)).all()) == 1
    hub.close()
    return text


@pytest.mark.parametrize("markup,text", [
    # a code or noformat block is shown as written: its marks, links and indentation stay
    ("Run this:\n{code:python}\ndef _main_(*args):\n    return a|b\n{code}\nthen *retry*",
     "Run this:\n\ndef _main_(*args):\n    return a|b\n\nthen retry"),
    ("{noformat}\n*not bold* [not|a link] (/)\n{noformat}", "*not bold* [not|a link] (/)"),
    ("{anchor:top}Export fails", "Export fails"),  # the anchor is not shown
    ("{expand:Logs}\nerror 42\n{expand}", "Logs\n\nerror 42"),  # the line clicked to open it, then its text
    ("{expand}\nerror 42\n{expand}", "error 42"),
    ("State: {status:colour=Green|title=Done} {status}", "State: Done"),
    ("above\n----\nbelow", "above\n\nbelow"),  # a horizontal rule, not a list item "- "
    ("see [^export-error.png]", "see export-error.png"),
    ("(/) works (x) fails (!) careful (?) (i) (y) (n) (on) (off) (*)", "\u2713 works \u2717 fails \u26a0 careful "
     "\u2753 \u2139 \U0001f44d \U0001f44e \U0001f4a1 \u2605"),
    ("pick yes|no, or see https://x.example/f(x)", "pick yes|no, or see https://x.example/f(x)"),
    ("||Plan||Price||\n|Pro|10|", "Plan | Price\nPro | 10"),  # a table row is a line starting with |
])
def test_a_wiki_description_reads_as_jira_shows_it(sqlite_url: str, markup: str, text: str) -> None:
    assert _ticket_text(sqlite_url, markup) == text


def _p(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


def _list(kind: str, *items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": kind, "content": [{"type": "listItem", "content": item} for item in items]}


def test_a_nested_adf_list_keeps_its_indent(sqlite_url: str) -> None:
    steps = _list("orderedList", [_p("Open Billing"), _list("bulletList", [_p("Plans"), _list("bulletList", [_p("Pro")])])],
                  [_p("Pick a plan"), _p("then save")])
    doc = {"type": "doc", "version": 1, "content": [_p("Steps:"), steps]}
    assert _ticket_text(sqlite_url, doc) == "Steps:\n\n1. Open Billing\n  - Plans\n    - Pro\n2. Pick a plan\n  then save"


def _inline(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def _t(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _cells(kind: str, *cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "tableRow", "content": [{"type": kind, "content": c} for c in cells]}


DESCRIPTION = {"type": "doc", "version": 1, "content": [
    _inline(_t("Which plan do I need? "), {"type": "mention", "attrs": "557058:f58131cb"}),  # failed the whole issue
    {"type": "table", "content": [_cells("tableHeader", [_p("Plan")], [_p("Price")]),
                                  _cells("tableCell", [_p("Pro"), _p("yearly")], [_p("10")])]},
    {"type": "orderedList", "attrs": {"order": 3}, "content": [
        {"type": "listItem", "content": [_p("Open Billing")]}, {"type": "listItem", "content": [_p("Pick a plan")]}]},
    _inline(_t("Needed by "), {"type": "date", "attrs": {"timestamp": "1700000000000"}}),
    {"type": "expand", "attrs": {"title": "Logs"}, "content": [_p("error 42")]},
]}
ADF_TEXT = "Which plan do I need? @\n\nPlan | Price\nPro yearly | 10\n\n3. Open Billing\n4. Pick a plan\n\nNeeded by 2023-11-14\n\nLogs\n\nerror 42"


def test_an_adf_description_of_a_shape_people_make_reads_as_jira_shows_it_and_the_request_is_decided(sqlite_url: str) -> None:
    # a mention whose attrs is not an object, a table, a numbered list continued from 3, a date, an expand
    # (found by the second red-team pass: the mention failed the whole issue)
    assert _ticket_text(sqlite_url, DESCRIPTION) == ADF_TEXT
