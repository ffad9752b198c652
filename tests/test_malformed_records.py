"""One malformed record in what a vendor's API returns (a poll page, a Help Center export) is passed over, and
the rest is read: it used to fail the whole poll, every poll, because the cursor never moved past it."""

from __future__ import annotations

import copy
import json

import responses

from app import build_hub
from config import load_settings
from connectors.jira import poll as jira_poll
from connectors.jira import scheduled_jobs as jira_jobs
from connectors.zendesk import poll as zendesk_poll
from connectors.zendesk import scheduled_jobs as zendesk_jobs
from connectors.zendesk.mapping import parse_time
from core.cursors import get_cursor, set_cursor
from tests.conftest import settings_dict
from tests.test_jira_connector import API as JIRA_API
from tests.test_jira_connector import JIRA, inbox_rows
from tests.test_jira_mapping import load as load_jira
from tests.test_zendesk_connector import API, ZENDESK, ZendeskConnector
from tests.test_zendesk_mapping import load
from tests.test_zendesk_webhook import mock_tickets


def test_a_zendesk_poll_passes_over_a_malformed_ticket_and_moves_on(sqlite_url: str) -> None:
    settings = load_settings(settings_dict(sqlite_url, **ZENDESK, ZENDESK_POLL="true"))
    page = load("incremental_tickets_page1.json")
    page["tickets"] = [{"status": "open"}, {"id": 3, "status": "open"}] + page["tickets"]  # no id; a bad ticket 3
    bad = load("ticket_show.json")
    bad["ticket"].update(id=3, tags=7, created_at="yesterday")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        mock_tickets(api)
        api.get(f"{API}/tickets/3.json", json=bad)
        api.get(f"{API}/tickets/3/comments.json", json=load("ticket_comments.json"))
        api.get(f"{API}/incremental/tickets/cursor.json", json=page)
        hub = build_hub(settings)
        try:
            (_, job, _), = zendesk_jobs(hub)
            assert job() == 1
            assert json.loads(get_cursor(hub.db, zendesk_poll.CURSOR_NAME) or "{}")["export"] == "CURSOR-A"  # moved on
            rows = inbox_rows(hub)
        finally:
            hub.close()
    assert [(r.kind, r.delivery_id) for r in rows] == [("commented", "ticket:1:comment:104")]


def test_a_jira_poll_passes_over_a_malformed_issue_and_moves_on(sqlite_url: str) -> None:
    settings = load_settings(settings_dict(sqlite_url, **JIRA, JIRA_POLL="true"))
    page = load_jira("search_jql_page.json")
    good = page["issues"][0]
    broken = copy.deepcopy(good) | {"key": "SUP-99", "id": "99", "fields": "not an object"}
    page["issues"] = [{"self": "no key"}, broken, good]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{JIRA_API}/myself", json=load_jira("myself.json"))
        api.get(f"{JIRA_API}/search/jql", json=page)
        hub = build_hub(settings)
        try:
            with hub.db.session() as s:
                set_cursor(s, jira_poll.CURSOR_NAME, json.dumps({"since": "2022-12-08T10:00:00+00:00", "seen": []}))
            (_, job, _), = jira_jobs(hub)
            assert job() == 1
            stored = json.loads(get_cursor(hub.db, jira_poll.CURSOR_NAME) or "{}")
            rows = inbox_rows(hub)
        finally:
            hub.close()
    assert stored["seen"] == ["TESTKEY13-1@2022-12-08T02:22:18.889-0800"]
    assert [(r.kind, r.delivery_id) for r in rows] == [("commented", "comment:10758")]


def test_a_help_center_export_passes_over_a_malformed_article() -> None:
    zd = ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]
    page = load("hc_incremental_articles.json")
    page["articles"] = [{"title": "No id", "body": "<p>x</p>"}, page["articles"][1] | {"id": 5, "body": ["<p>a list</p>"]},
                        "not an object"] + page["articles"]
    page["articles"][4]["label_names"] = [7, None, "password"]  # labels of other types: read as text
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/help_center/incremental/articles.json", json=page)
        api.get(f"{API}/help_center/incremental/articles.json", json=load("hc_incremental_articles_last.json"))
        articles = list(zd.fetch_articles(None))
    assert [a.title for a in articles if not a.deleted] == ["Reset your password"]
    assert len(articles) == 4 and articles[1].tags == ("7", "password")


def test_a_zendesk_time_that_is_no_time_reads_as_none() -> None:
    assert [parse_time(v) for v in ("yesterday", 10**20, True, "", None)] == [None] * 5
    assert parse_time("2026-01-02T03:04:05Z") is not None
