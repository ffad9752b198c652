"""Sections are first-class: Markdown, HTML and Help Center bodies and v2 packs keep each passage's
heading path (and section id), a passage never spans two sections, and the stored KB gives them back."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.zendesk import mapping
from core import kb
from core.db import Database
from interceptor.retrieval.index import KBIndex
from interceptor.kb.importer import articles_at, from_knowledge_article, import_articles, parse_html, parse_markdown

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zendesk"

SSO_MARKDOWN = """---
title: Reset your password
---
# Reset your password

Use the **Forgot password?** link on the sign-in page.

## If you sign in with SSO

Your password is managed by your identity provider.

### Okta

Ask your Okta admin to reset it.

## If the email does not arrive

Check your spam folder.
"""


def _paths(article: kb.ArticleInput) -> list[tuple[tuple[str, ...], str]]:
    return [(p.heading_path, p.text) for p in article.passages]


def test_markdown_headings_open_sections_with_the_chain_of_enclosing_headings() -> None:
    article = parse_markdown(SSO_MARKDOWN, "reset.md")
    assert _paths(article) == [
        ((), "Use the Forgot password? link on the sign-in page."),
        (("If you sign in with SSO",), "Your password is managed by your identity provider."),
        (("If you sign in with SSO", "Okta"), "Ask your Okta admin to reset it."),
        (("If the email does not arrive",), "Check your spam folder."),
    ]


def test_html_h1_to_h4_open_sections_and_the_title_is_not_repeated_in_the_path() -> None:
    html = ("<html><head><title>Reset your password</title></head><body><h1>Reset your password</h1>"
            "<p>Use the link.</p><h2>If you sign in with SSO</h2><p>Ask your admin.</p>"
            "<h3>Okta</h3><ol><li>Open Okta.</li><li>Click Reset.</li></ol><h2>Other</h2><p>Write to us.</p></body></html>")
    article = parse_html(html, "reset.html")
    assert article.title == "Reset your password"
    assert _paths(article) == [
        ((), "Use the link."),
        (("If you sign in with SSO",), "Ask your admin."),
        (("If you sign in with SSO", "Okta"), "1. Open Okta.\n2. Click Reset."),
        (("Other",), "Write to us."),
    ]


def test_a_real_help_center_body_keeps_its_bold_line_sections() -> None:
    """The captured Help Center article (a draft there) writes its section titles as ``<p><strong>…</strong></p>``."""
    raw = json.loads((FIXTURES / "hc_incremental_articles.json").read_text())["articles"][0]
    pulled = mapping.article(raw | {"draft": False})
    assert pulled is not None
    article = from_knowledge_article("zendesk_hc", pulled)
    paths = [p.heading_path for p in article.passages]
    assert paths == [(), ("Refund policy",), ("Request a refund",)]
    assert article.passages[1].text.startswith("We automatically issue a full refund when you initiate a return")
    assert "Request a refund" not in article.passages[1].text  # never spans two sections
    assert "<" not in article.body and "Refund policy" in article.body


def _v2_pack(root: Path) -> Path:
    pack = {
        "format": "helpdesk-bench/v2", "name": "tiny-v2",
        "articles": [{
            "id": "a1", "title": "Renew a licence", "questions": ["how to renew"],
            "body": "Ways to renew\n\nOnline\nRenew at the website.\n\nIn person\nVisit an office.\n\nFees\n\n"
                    "Late renewal\nA late fee applies.",
            "sections": [{"id": "a1-s0", "heading": "Ways to renew", "text": ""},
                         {"id": "a1-s1", "heading": "Online", "text": "Renew at the website."},
                         {"id": "a1-s2", "heading": "In person", "text": "Visit an office."},
                         {"id": "a1-s3", "heading": "Fees", "text": ""},
                         {"id": "a1-s4", "heading": "Late renewal", "text": "A late fee applies."}],
        }],
        "queries": [{"id": "q1", "split": "test", "text": "renew online?", "expected_article_id": "a1",
                     "expected_section_ids": ["a1-s0"]}],
    }
    path = root / "pack.json"
    path.write_text(json.dumps(pack), encoding="utf-8")
    return path


def test_a_v2_pack_round_trips_through_the_store_with_section_ids(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    try:
        assert import_articles(db, articles_at(_v2_pack(tmp_path))).changed == 1
        with db.session() as s:
            [stored] = kb.load_articles(s)
        # a section without text heads the sections after it (until the next one without text)
        assert stored.passages == (kb.KBPassage("Renew at the website.", ("Ways to renew", "Online"), "a1-s1"),
                                   kb.KBPassage("Visit an office.", ("Ways to renew", "In person"), "a1-s2"),
                                   kb.KBPassage("A late fee applies.", ("Fees", "Late renewal"), "a1-s4"))
        assert stored.questions == ("how to renew",)
    finally:
        db.dispose()


def test_the_heading_path_is_part_of_what_is_retrieved() -> None:
    article = kb.KBArticle(1, "md", "reset", "Reset your password", None, (), (
        kb.KBPassage("Use the link on the sign-in page."),
        kb.KBPassage("Ask your identity provider's admin.", ("If you sign in with SSO",)),
    ), ())
    index = KBIndex([article], None)
    assert "Reset your password › If you sign in with SSO: Ask your identity provider's admin." in index.texts
    found = index.search("I sign in with SSO", k=1)
    assert found.passage == ("Ask your identity provider's admin.",)


def test_a_pages_only_h1_is_its_title_even_when_the_title_tag_differs() -> None:
    html = ("<title>Reset | Example Help</title><header><h1>Reset your password</h1></header>"
            "<p>Use the link.</p><h2>With SSO</h2><p>Ask your admin.</p>")
    article = parse_html(html, "reset.html")
    assert article.title == "Reset | Example Help"
    assert _paths(article) == [((), "Use the link."), (("With SSO",), "Ask your admin.")]
    assert article.body == "Use the link.\n\nWith SSO\n\nAsk your admin."


def test_a_help_center_sync_stores_each_articles_sections(database_url: str) -> None:
    """The Zendesk connector against a ``responses`` mock of the Help Center incremental export."""
    import responses

    from config import load_settings
    from connectors.zendesk import ZendeskConnector
    from interceptor.kb.sync import sync_all
    from tests.test_zendesk_connector import API, ZENDESK, hc_listing

    page = json.loads((FIXTURES / "hc_incremental_articles.json").read_text())
    last = json.loads((FIXTURES / "hc_incremental_articles_last.json").read_text())
    db = Database(database_url)
    try:
        with responses.RequestsMock() as api:
            api.get(f"{API}/help_center/incremental/articles.json", json=page)
            api.get(f"{API}/help_center/incremental/articles.json", json=last)
            api.get(f"{API}/help_center/articles.json", json=hc_listing(page["articles"]))
            [report] = sync_all(db, {"zendesk": ZendeskConnector(load_settings(ZENDESK).zendesk)})  # type: ignore[arg-type]
        assert (report.changed, report.deleted) == (1, 0)
        with db.session() as s:
            [stored] = kb.load_articles(s)
        assert (stored.source, stored.title) == ("zendesk_hc", "Reset your password")
        assert stored.passages == (kb.KBPassage(
            "Open Settings (https://app.example.com/settings), then:\n\n- click Security\n- choose Reset password",
            ("Reset",)),)
    finally:
        db.dispose()


def test_a_pages_only_h1_after_text_and_other_headings_heads_its_section() -> None:
    """WYSIWYG pages put headings at odd levels: an ``h1`` that does not open the page is a section's heading,
    not the page's title, so its section keeps it in its heading path."""
    html = ("<title>Connect to the VPN – IT Help</title><p>The VPN reaches internal tools.</p>"
            "<h3>Windows</h3><p>Open GlobalProtect.</p><h1>Mac</h1><p>Install the client.</p>"
            "<h4><strong>Troubleshooting</strong></h4><p>Error 403: ask IT.</p>")
    article = parse_html(html, "vpn.html")
    assert article.title == "Connect to the VPN – IT Help"
    assert _paths(article) == [((), "The VPN reaches internal tools."), (("Windows",), "Open GlobalProtect."),
                               (("Mac",), "Install the client."), (("Mac", "Troubleshooting"), "Error 403: ask IT.")]


def test_a_markdown_table_cut_over_several_passages_repeats_its_header_row() -> None:
    from interceptor.kb.sections import split_passages

    rows = [f"| Pro {n} | {n * 10} seats | {n} TB storage |" for n in range(1, 9)]
    article = parse_markdown("# Plans\n\n## Limits\n\nEach plan's limits:\n| Plan | Seats | Storage |\n|---|---|---|\n"
                             + "\n".join(rows) + "\n", "plans.md")
    [(path, text)] = _paths(article)
    passages = split_passages(text, max_words=40)
    assert path == ("Limits",) and len(passages) == 3
    assert passages[0].startswith("Each plan's limits:\n| Plan | Seats | Storage |\n| Pro 1 |")
    assert all(p.startswith("| Plan | Seats | Storage |\n| Pro ") for p in passages[1:])
    assert [line for p in passages for line in p.split("\n") if line.startswith("| Pro")] == rows  # each row once
