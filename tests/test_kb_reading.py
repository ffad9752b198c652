"""What a person reads: a Help Center article synced through the Zendesk connector (the API faked with
``responses``) and the same page saved as a file and imported, then asked about in Slack (the real pipeline
and Slack connector against the recording Slack): the exact text posted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import responses

from config import load_settings
from conftest import settings_dict
from connectors.zendesk import ZendeskConnector
from core import kb
from core.db import Database
from interceptor.kb.importer import articles_at, import_articles
from interceptor.kb.sync import sync_all
from surfaces.simulate.slack import CHANNEL, simulate_slack
from test_zendesk_connector import API, ZENDESK

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


def _synced(url: str) -> None:
    page = json.loads((FIXTURES / "hc_incremental_articles.json").read_text())
    last = json.loads((FIXTURES / "hc_incremental_articles_last.json").read_text())
    page["articles"] = [page["articles"][1] | {"id": 360001, "title": "Set up SSO with Okta", "html_url": HTML_URL,
                                               "body": BODY}]
    db = Database(url)
    try:
        with responses.RequestsMock() as api:
            api.get(f"{API}/help_center/incremental/articles.json", json=page)
            api.get(f"{API}/help_center/incremental/articles.json", json=last)
            sync_all(db, {"zendesk": ZendeskConnector(load_settings(ZENDESK).zendesk)})
    finally:
        db.dispose()


def _passages(url: str) -> list[tuple[tuple[str, ...], str]]:
    db = Database(url)
    try:
        with db.session() as s:
            [article] = kb.load_articles(s)
        return [(p.heading_path, p.text) for p in article.passages]
    finally:
        db.dispose()


def test_a_synced_help_center_article_is_quoted_in_slack_as_written(sqlite_url: str, tmp_path: Path) -> None:
    _synced(sqlite_url)
    assert _passages(sqlite_url)[1:] == PASSAGES
    settings: dict[str, Any] = settings_dict(sqlite_url, HUB_CHANNEL_POLICIES={CHANNEL: {"threshold": 0.5}})
    sim = simulate_slack("How do I configure the Okta app for SAML?", load_settings(settings), tmp_path)
    [post] = sim.calls
    assert post.args["text"] == (
        "1. In Okta, open Applications &gt; Create App Integration.\n2. Choose SAML 2.0 and click Next.\n"
        "3. Paste the ACS URL shown under SSO settings (https://acme.zendesk.com/hc/en-us/articles/360002-SSO-settings)."
        f"\n\nSource: Set up SSO with Okta › Configure the Okta app - {HTML_URL}\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


def test_the_help_center_page_saved_as_a_file_reads_as_the_synced_article(sqlite_url: str, tmp_path: Path) -> None:
    page = tmp_path / "kb" / "okta.html"
    page.parent.mkdir()
    page.write_text(f'<html><head><title>Set up SSO with Okta</title><link rel="canonical" href="{HTML_URL}"></head>'
                    f"<body><h1>Set up SSO with Okta</h1>{BODY}</body></html>", encoding="utf-8")
    db = Database(sqlite_url)
    import_articles(db, articles_at(page.parent))
    db.dispose()
    assert _passages(sqlite_url)[1:] == PASSAGES
