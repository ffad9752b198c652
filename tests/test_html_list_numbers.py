"""An ordered list whose ``start`` is no plain number (``<ol start="²">``, a start thousands of digits long): a browser
numbers it from 1, and so does the hub. ``"²".isdigit()`` is true and ``int("²")`` raises, as ``int()`` of more
than 4,300 digits does: ``hub kb import`` of such a page died with a traceback, a Help Center article holding one
was passed over as "not of the documented shape" (out of the KB), and so was a Zendesk comment given as HTML only
(the requester's words left out of the request). ``<ol start="٣">`` is no number to a browser either (ASCII digits
only): it was numbered from 3.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import responses

from config import load_settings
from connectors.zendesk import ZendeskConnector
from core.models import Source, TicketRef
from tests.test_kb_import import _stored_articles
from tests.test_kb_import_files import _import
from tests.test_malformed_fetch import zendesk_ticket
from tests.test_vendor_shapes_zendesk import serve
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_mapping import load

STARTS = ["\u00b2", "\u0663", "9" * 5000]
STEPS = "<ol start=\"{start}\"><li>Open Settings</li><li>Click Reset password</li></ol>"


@pytest.mark.parametrize("start", STARTS, ids=["superscript", "arabic-indic", "5000-digits"])
def test_hub_kb_import_reads_a_page_whose_list_starts_oddly(sqlite_url: str, tmp_path: Path, start: str) -> None:
    page = tmp_path / "reset.html"
    page.write_text(f"<h1>Reset your password</h1><p>Two steps.</p>{STEPS.format(start=start)}", encoding="utf-8")
    code, _, err = _import(sqlite_url, page)
    assert code == 0, err
    [article] = _stored_articles(sqlite_url)
    text = " ".join(p.text for p in article.passages)
    assert "1. Open Settings" in text and "2. Click Reset password" in text


@pytest.mark.parametrize("start", STARTS, ids=["superscript", "arabic-indic", "5000-digits"])
def test_a_help_center_article_whose_list_starts_oddly_is_synced(start: str) -> None:
    zd = ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]
    page = load("hc_incremental_articles.json")
    page["articles"] = [copy.deepcopy(page["articles"][1])]
    page["articles"][0]["body"] = f"<h2>Reset</h2>{STEPS.format(start=start)}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/help_center/incremental/articles.json", json=page)
        api.get(f"{API}/help_center/incremental/articles.json", json=load("hc_incremental_articles_last.json"))
        [article] = list(zd.fetch_articles(None))
    assert article.title == "Reset your password" and "1. Open Settings" in article.body


def test_a_ticket_comment_in_html_whose_list_starts_oddly_is_read() -> None:
    zd = ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]
    show, listed = zendesk_ticket(5161)
    for comment in listed["comments"]:  # NOTE(zendesk): a comment written with html_body only is read back as HTML
        comment.pop("body", None)
        comment.pop("plain_body", None)
        comment["html_body"] = f"<p>I cannot sign in. I tried:</p>{STEPS.format(start=STARTS[0])}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        serve(api, 5161, show, listed, load("users_show_many.json"))
        ticket = zd.fetch(TicketRef(Source.ZENDESK, "5161"))
    [said] = ticket.messages  # not passed over as "not of the documented shape"
    assert said.external_id == "101" and "1. Open Settings" in said.text and "2. Click Reset password" in said.text
