"""What a person reads: a Help Center article synced through the Zendesk connector (the API faked with
``responses``) and the same page saved as a file and imported, then asked about in Slack (the real pipeline
and Slack connector against the recording Slack): the exact text posted. Jira: test_kb_reading_jira.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import migrations
import responses

from config import load_settings
from conftest import settings_dict
from connectors.slack import blocks
from connectors.zendesk import ZendeskConnector
from core import kb
from core.db import Database
from interceptor.kb.importer import articles_at, import_articles
from interceptor.kb.sync import sync_all
from surfaces.simulate.recorder import Call
from surfaces.simulate.slack import CHANNEL, simulate_slack
from test_zendesk_connector import API, ZENDESK, hc_listing
from tests.slack_stub import shown

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zendesk"
HTML_URL = "https://acme.zendesk.com/hc/en-us/articles/360001-Set-up-SSO-with-Okta"
BODY = """<p>Single sign-on lets your team sign in with their Okta account.</p>
<h2>Configure the Okta app</h2>
<ol><li>In Okta, open <strong>Applications</strong> &gt; <strong>Create App Integration</strong>.</li>
<li>Choose <b>SAML&nbsp;2.0</b> and click <b>Next</b>.</li></ol>
<p><img src="/hc/article_attachments/1/okta.png" alt="Okta's Create App Integration dialog"></p>
<ol start="3"><li>Paste the ACS URL shown under <a href="/hc/en-us/articles/360002-SSO-settings">SSO settings</a>.</li></ol>
<h2>Map the user attributes</h2>
<table><tbody><tr><td><strong>Okta attribute</strong></td><td><strong>Hub field</strong></td></tr>
<tr><td>user.email</td><td>Email<br>(required)</td></tr></tbody></table>
<p>Questions? <a href="mailto:sso@example.com">Email the SSO team</a>.</p>"""
PASSAGES = [
    (("Configure the Okta app",),
     "1. In Okta, open Applications > Create App Integration.\n2. Choose SAML 2.0 and click Next.\n"
     "3. Paste the ACS URL shown under SSO settings (https://acme.zendesk.com/hc/en-us/articles/360002-SSO-settings)."),
    (("Map the user attributes",),
     "Okta attribute | Hub field\nuser.email | Email (required)\n\nQuestions? Email the SSO team (sso@example.com)."),
]


def _synced(url: str, title: str = "Set up SSO with Okta", html_url: str = HTML_URL, body: str = BODY) -> None:
    page = json.loads((FIXTURES / "hc_incremental_articles.json").read_text())
    last = json.loads((FIXTURES / "hc_incremental_articles_last.json").read_text())
    page["articles"] = [page["articles"][1] | {"id": 360001, "title": title, "html_url": html_url, "body": body}]
    db = Database(url)
    try:
        with responses.RequestsMock() as api:
            api.get(f"{API}/help_center/incremental/articles.json", json=page)
            api.get(f"{API}/help_center/incremental/articles.json", json=last)
            api.get(f"{API}/help_center/articles.json", json=hc_listing(page["articles"]))
            sync_all(db, {"zendesk": ZendeskConnector(load_settings(ZENDESK).zendesk)})
    finally:
        db.dispose()


def _imported(url: str, tmp_path: Path, name: str, text: str) -> None:
    """Import one KB file ``name`` holding ``text`` through ``hub kb import``'s path (a folder of files)."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / name).write_text(text, encoding="utf-8")
    db = Database(url)
    import_articles(db, articles_at(folder))
    db.dispose()


def _passages(url: str) -> list[tuple[tuple[str, ...], str]]:
    db = Database(url)
    try:
        with db.session() as s:
            [article] = kb.load_articles(s)
        return [(p.heading_path, p.text) for p in article.passages]
    finally:
        db.dispose()


def _posted_in_slack(url: str, tmp_path: Path, question: str) -> Call:
    """Ask ``question`` in a simulated Slack channel (threshold 0.5) and return the one post."""
    settings: dict[str, Any] = settings_dict(url, HUB_CHANNEL_POLICIES={CHANNEL: {"threshold": 0.5}})
    [post] = simulate_slack(question, load_settings(settings), tmp_path).calls
    return post


def _answered_in_slack(url: str, tmp_path: Path, question: str) -> str:
    """Ask ``question`` in a simulated Slack channel (threshold 0.5) and return the one post's text: the
    notification text, which is what the answer's blocks show (mrkdwn-escaped)."""
    post = _posted_in_slack(url, tmp_path, question)
    assert blocks.escape(shown(post.args["blocks"])) == post.args["text"]
    return str(post.args["text"])


def test_a_synced_help_center_article_is_quoted_in_slack_as_written(sqlite_url: str, tmp_path: Path) -> None:
    _synced(sqlite_url)
    assert _passages(sqlite_url)[1:] == PASSAGES
    assert _answered_in_slack(sqlite_url, tmp_path, "How do I configure the Okta app for SAML?") == (
        "1. In Okta, open Applications &gt; Create App Integration.\n2. Choose SAML 2.0 and click Next.\n"
        "3. Paste the ACS URL shown under SSO settings (https://acme.zendesk.com/hc/en-us/articles/360002-SSO-settings)."
        f"\n\nSource: Set up SSO with Okta › Configure the Okta app - {HTML_URL}\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


SAVED_PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>Set up SSO with Okta &ndash; Acme Help Center</title>
<link rel="canonical" href="{url}"></head><body><a class="skip-navigation" href="#main-content">Skip to main content</a>
<header class="header"><a href="/hc/en-us"><img src="/logo.png" alt="Acme Help Center home page"></a></header>
<main role="main"><nav class="sub-nav"><ol class="breadcrumbs"><li><a href="/hc/en-us">Acme Help Center</a></li></ol></nav>
<article id="main-content" class="article"><header class="article-header"><h1 class="article-title">Set up SSO with Okta</h1>
<div class="article-author"><a href="/hc/en-us/profiles/1-Dana">Dana</a><ul class="meta-group"><li class="meta-data">Updated</li></ul></div>
<a class="article-subscribe" role="button" href="/hc/en-us/articles/360001/subscription.html">Follow</a></header>
<section class="article-info"><div class="article-content"><div class="article-body">{body}</div>
<div class="article-attachments"><ul><li><a href="/hc/en-us/article_attachments/9/okta.xml">okta.xml</a> 2 KB</li></ul></div>
</div></section><footer><div class="article-votes"><h2>Was this article helpful?</h2></div></footer>
<section class="article-relatives"><h2>Related articles</h2><ul><li><a href="/hc/en-us/related/click?x">SCIM</a></li></ul></section>
<div class="article-comments"><h2>Comments</h2><p>0 comments</p><p>Article is closed for comments.</p></div>
</article></main><footer class="footer"><a href="/hc/en-us">Acme Help Center</a></footer></body></html>"""


def test_the_help_center_page_saved_as_a_file_reads_as_the_synced_article(sqlite_url: str, tmp_path: Path) -> None:
    """A Help Center article page saved from the browser: only its article body is the article (not the
    breadcrumbs, author line, attachments, votes, related articles or comments around it), its title is the
    h1 without the site's name, its link the canonical one; its passages are those of the synced article."""
    page = tmp_path / "kb" / "okta.html"
    page.parent.mkdir()
    page.write_text(SAVED_PAGE.format(url=HTML_URL, body=BODY), encoding="utf-8")
    db = Database(sqlite_url)
    import_articles(db, articles_at(page.parent))
    with db.session() as s:
        [article] = kb.load_articles(s)
    db.dispose()
    assert (article.title, article.url) == ("Set up SSO with Okta", HTML_URL)  # the Source line as the Help Center's
    synced = tmp_path / "synced.db"
    migrations.upgrade(f"sqlite:///{synced}")
    _synced(f"sqlite:///{synced}")
    assert _passages(sqlite_url) == _passages(f"sqlite:///{synced}")
    assert _passages(sqlite_url)[1:] == PASSAGES


STEPS = """---
title: Reset your password
url: https://kb.example/reset-password
---
# Reset your password

## Reset it yourself

1. Open the sign-in page at app.example.com and click Forgot password underneath the password field.
2. Type the email address you sign in with, then click Send reset link.
3. Open the email from Example Support; it can take up to five minutes to arrive (check Spam).
4. Click Reset password in the email; the link works for thirty minutes only.
5. Type a new password of at least twelve characters, including one number and one symbol.
6. Type it again in Confirm password, then click Save new password.
7. Sign in again on every device where you were signed in before.
8. If the link expired, go back to step 1 and request a new one.
"""


def test_the_agents_draft_of_a_long_list_of_steps_says_that_more_steps_follow(sqlite_url: str) -> None:
    """The draft's suggested reply is cut to 600 characters: at the end of an item, never after a bare "6.",
    and with a line "…" so the agent does not send five steps of eight as if they were all."""
    from app import build_hub, create_app
    from interceptor.kb.importer import parse_markdown
    from test_zendesk_flow import mock_desk, sent_updates
    from test_zendesk_webhook import post

    settings = settings_dict(sqlite_url, **ZENDESK, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 1.0}})
    hub = build_hub(load_settings(settings))
    import_articles(hub.db, [parse_markdown(STEPS, "reset-password.md")])
    client = create_app(hub=hub).test_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        mock_desk(api)
        assert post(client, "event_ticket_created.json", invocation="inv-1").get_json()["status"] == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        [note] = sent_updates(api)
    assert note["comment"]["public"] is False
    suggested = note["comment"]["body"].split("Suggested reply (from the best article):\n", 1)[1].split("\nSource:")[0]
    assert suggested == "\n".join(STEPS.split("## Reset it yourself\n\n", 1)[1].splitlines()[:7]) + "\n…"


REFUNDS = """---
title: Refunds and cancellations
url: https://help.example.com/hc/en-us/articles/42-refunds
---
# Refunds and cancellations

## Cancel your subscription

1. Go to **Settings** > **Billing**.
2. Click *Cancel subscription* and pick a reason&nbsp;&mdash; it is optional.
3. Confirm in the dialog.<br>You keep access until the end of the billing period.

See the [billing FAQ](/hc/en-us/articles/43-billing-faq) or write to <billing@example.com>.

## Refund windows

Annual plans are refunded pro rata within 30 days. Monthly plans &amp; add-ons are not refunded.
"""


def test_an_imported_markdown_file_is_quoted_in_slack_as_written(sqlite_url: str, tmp_path: Path) -> None:
    _imported(sqlite_url, tmp_path, "refunds.md", REFUNDS)
    assert _answered_in_slack(sqlite_url, tmp_path, "How do I cancel my subscription?") == (
        "1. Go to Settings &gt; Billing.\n2. Click Cancel subscription and pick a reason \u2014 it is optional.\n"
        "3. Confirm in the dialog.\nYou keep access until the end of the billing period.\n\n"
        "See the billing FAQ (https://help.example.com/hc/en-us/articles/43-billing-faq) or write to billing@example.com."
        "\n\nSource: Refunds and cancellations › Cancel your subscription - "
        "https://help.example.com/hc/en-us/articles/42-refunds\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


FAQ = """<p>Answers to the questions we get most.</p><h2>Billing</h2>
<details><summary>Can I pay by invoice?</summary><p>Yes, on annual plans over 10 seats: ask sales for a quote.</p></details>
<details><summary><strong>Which credit cards do you accept?</strong></summary>
<p>Visa, Mastercard and American Express. Prepaid cards are not accepted.</p></details>
<details><summary>Where are my receipts?</summary><p>Open Settings, then Billing, then Receipts.</p></details>
<p>Still stuck? Write to billing.</p>"""


def test_an_faq_accordion_is_quoted_question_by_question(sqlite_url: str, tmp_path: Path) -> None:
    """Help Center FAQs are ``<details>`` accordions: each ``<summary>`` is its own section, so the answer
    quotes the one question asked, under its heading path, not the whole list."""
    _synced(sqlite_url, "Billing FAQ", "https://acme.zendesk.com/hc/en-us/articles/360009-Billing-FAQ", FAQ)
    assert _passages(sqlite_url)[1:] == [
        (("Billing", "Can I pay by invoice?"), "Yes, on annual plans over 10 seats: ask sales for a quote."),
        (("Billing", "Which credit cards do you accept?"), "Visa, Mastercard and American Express. Prepaid cards are not accepted."),
        (("Billing", "Where are my receipts?"), "Open Settings, then Billing, then Receipts."),
        (("Billing",), "Still stuck? Write to billing."),
    ]
    assert _answered_in_slack(sqlite_url, tmp_path, "Which credit cards do you accept?") == (
        "Visa, Mastercard and American Express. Prepaid cards are not accepted.\n\n"
        "Source: Billing FAQ › Billing › Which credit cards do you accept? - "
        "https://acme.zendesk.com/hc/en-us/articles/360009-Billing-FAQ\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


LAYOUT = """<p>Reports can be exported as CSV or PDF.</p><h2>Export a report</h2>
<table><tbody><tr><td><img src="/hc/article_attachments/7/export.png" alt="The Export button"></td>
<td><ol><li>Open <b>Reports</b> and pick the date range.</li><li>Click <b>Export</b>, then <b>CSV</b>.</li></ol>
<p>The file downloads at once.</p></td></tr></tbody></table>"""


def test_steps_laid_out_in_a_table_are_quoted_as_steps(sqlite_url: str, tmp_path: Path) -> None:
    """A Help Center editor's layout table (a screenshot beside the steps): the steps read as numbered lines
    and the paragraph after them as its own, not as one row 'The Export button | Open Reports ...; Click ...'."""
    _synced(sqlite_url, "Export reports", "https://acme.zendesk.com/hc/en-us/articles/360010-Export-reports", LAYOUT)
    assert _answered_in_slack(sqlite_url, tmp_path, "How do I export a report as a CSV file?") == (
        "1. Open Reports and pick the date range.\n2. Click Export, then CSV.\n\nThe file downloads at once.\n\n"
        "Source: Export reports › Export a report - https://acme.zendesk.com/hc/en-us/articles/360010-Export-reports\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


ERRORS = [  # (code, what it means, what to do): a long data table, cut over several passages
    ("E101", "The timer could not reach the sync service", "Check your internet connection and try again"),
    ("E102", "Your session expired while the timer was running", "Sign in again; the running time is kept"),
    ("E103", "The project was archived by an admin", "Ask an admin to restore the project first"),
    ("E104", "The time entry overlaps another entry", "Edit one of the two entries so they do not overlap"),
    ("E105", "The workspace is over its plan's user limit", "Remove a user or upgrade the plan"),
    ("E106", "The calendar connection was revoked in Google", "Reconnect Google Calendar under Integrations"),
    ("E107", "The CSV file uses an unknown date format", "Save the file with dates as YYYY-MM-DD"),
    ("E108", "The invoice currency differs from the client's currency", "Change the client's currency or the invoice's"),
    ("E109", "The QuickBooks token expired after ninety days", "Reconnect QuickBooks under Integrations"),
    ("E110", "The export is larger than fifty megabytes", "Export a shorter date range or use the API"),
]
ERROR_TABLE = ("<p>The app shows an error code when something fails.</p><h2>What each code means</h2><table><thead><tr><th>Code</th>"
               "<th>What it means</th><th>What to do</th></tr></thead><tbody>"
               + "".join(f"<tr><td>{c}</td><td>{m}</td><td>{d}</td></tr>" for c, m, d in ERRORS) + "</tbody></table>")


def test_a_long_table_keeps_its_header_in_every_passage_it_is_cut_into(sqlite_url: str, tmp_path: Path) -> None:
    """A table too long for one passage is cut between rows; a later passage starts with the header row, so the
    reader of 'E109 | The QuickBooks token ...' sees the column names above it."""
    url = "https://acme.zendesk.com/hc/en-us/articles/360011-Error-codes"
    _synced(sqlite_url, "Error codes", url, ERROR_TABLE)
    header = "Code | What it means | What to do"
    passages = [text for path, text in _passages(sqlite_url) if path == ("What each code means",)]
    assert len(passages) == 2 and all(p.startswith(header + "\n") for p in passages)
    assert _answered_in_slack(sqlite_url, tmp_path, "What does error E109 mean? QuickBooks token expired") == (
        passages[1] + f"\n\nSource: Error codes › What each code means - {url}\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )
    assert passages[1].split("\n")[:2] == [header, "E107 | The CSV file uses an unknown date format | Save the file with dates as YYYY-MM-DD"]


CALLOUT = """<p>Any report can be exported as a CSV file.</p><h2>Large exports</h2>
<p>Exports run in the background while you keep working.</p>
<aside class="callout callout--warning"><p><strong>Note:</strong> an export over 1 GB is emailed to the account owner
instead of being downloaded.</p></aside>"""


def test_a_callout_in_an_aside_is_quoted_with_its_section(sqlite_url: str, tmp_path: Path) -> None:
    """A note in an ``<aside>`` callout is often the answer: it is read with the text around it (a sidebar of
    related articles, the page's chrome, is still left out)."""
    url = "https://acme.zendesk.com/hc/en-us/articles/360012-Export-reports"
    _synced(sqlite_url, "Export reports", url, CALLOUT + '<aside class="sidebar"><h3>Related articles</h3>'
            '<ul><li><a href="/hc/en-us/articles/1">Invoices</a></li></ul></aside>')
    assert _answered_in_slack(sqlite_url, tmp_path, "My export over 1 GB never downloaded, where is it?") == (
        "Exports run in the background while you keep working.\n\n"
        "Note: an export over 1 GB is emailed to the account owner instead of being downloaded.\n\n"
        f"Source: Export reports › Large exports - {url}\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


FOOTNOTES = """---
title: Deleted projects
url: https://help.example.com/hc/en-us/articles/44-deleted-projects
---
# Deleted projects

## Restore a deleted project

A deleted project is kept for 30 days[^days] and can be restored from
the Trash[^trash] until then.

## Purged projects

After that it is purged for good[^days].

[^days]: Calendar days, counted from the day
    the project was deleted.
[^trash]: Shown under Settings > Projects.
"""


def test_markdown_footnotes_are_quoted_as_numbered_notes_under_the_text_that_refers_to_them(
        sqlite_url: str, tmp_path: Path) -> None:
    """``[^days]`` reads ``[1]`` and its note follows the paragraph that refers to it, so a passage quoted out of
    the article still carries it; the ``[^days]: ...`` definitions are no passage of their own."""
    _imported(sqlite_url, tmp_path, "deleted-projects.md", FOOTNOTES)
    assert _passages(sqlite_url) == [
        (("Restore a deleted project",), "A deleted project is kept for 30 days[1] and can be restored from the Trash[2] "
                                         "until then.\n[1] Calendar days, counted from the day the project was deleted.\n"
                                         "[2] Shown under Settings > Projects."),
        (("Purged projects",), "After that it is purged for good[1].\n[1] Calendar days, counted from the day the project "
                               "was deleted."),
    ]
    assert _answered_in_slack(sqlite_url, tmp_path, "How do I restore a deleted project from the trash?") == (
        "A deleted project is kept for 30 days[1] and can be restored from the Trash[2] until then.\n"
        "[1] Calendar days, counted from the day the project was deleted.\n[2] Shown under Settings &gt; Projects.\n\n"
        "Source: Deleted projects › Restore a deleted project - https://help.example.com/hc/en-us/articles/44-deleted-projects"
        '\n\nDid this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


MARKS = """<p>Backups are left out of the nightly export.</p><h2>Leave a file out of the export</h2>
<p>Name it *_backup_*.csv and the export skips it, in ~/exports and ~/archive alike.</p>
<p>&gt; 100 files to leave out? Type `ls -la` to list them, or see
<a href="https://acme.zendesk.com/hc/en-us/articles/360014-Ignore-files">Ignore files</a>.</p>"""


def test_slack_formatting_characters_in_the_kb_are_posted_as_written_and_links_still_link(
        sqlite_url: str, tmp_path: Path) -> None:
    """In mrkdwn ``*_backup_*`` would be bold italic 'backup', ``~/exports and ~`` struck through, `` `ls -la` ``
    code and the line '> 100 files' a quote: the answer is a rich text block, whose text elements Slack shows
    as written, and its URLs (the Source line's too) are link elements."""
    url = "https://acme.zendesk.com/hc/en-us/articles/360013-Exports"
    _synced(sqlite_url, "Exports", url, MARKS)
    post = _posted_in_slack(sqlite_url, tmp_path, "How do I leave a backup file out of the export?")
    assert post.args["blocks"][0] == {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "Name it *_backup_*.csv and the export skips it, in ~/exports and ~/archive alike.\n\n"
                                 "> 100 files to leave out? Type `ls -la` to list them, or see Ignore files ("},
        {"type": "link", "url": "https://acme.zendesk.com/hc/en-us/articles/360014-Ignore-files"},
        {"type": "text", "text": ").\n\nSource: Exports › Leave a file out of the export - "},
        {"type": "link", "url": url},
        {"type": "text", "text": '\n\nDid this solve it? Reply "This solved it", or "I still need help" to reach a person.'},
    ]}]}
    assert [b["type"] for b in post.args["blocks"]] == ["rich_text", "actions"]
