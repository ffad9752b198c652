"""The Jira connector against a `responses` mock on http://127.0.0.1:8766: reads, the JSON we send,
failures as core.errors; webhooks through the app; polling across a restart."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Iterator

import pytest
import requests
import responses
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.actions import common_performers
from connectors.base import PostedMessage
from connectors.jira.connector import key_label
from connectors.records import UnreadableRecord
from connectors.jira import JiraConnector, events, poll, scheduled_jobs
from connectors.jira.visibility import INTERNAL_RECHECK, CommentVisibility, Verdicts
from core.cursors import get_cursor, set_cursor
from core.db import InboxEvent
from core.errors import Fatal, NotFound, Retriable
from core.models import EventKind, Person, Source, TicketEvent, TicketRef, Visibility
from tests.conftest import settings_dict
from tests.test_jira_mapping import FIXTURES, fresh_body, load

BASE = "http://127.0.0.1:8766"
API = f"{BASE}/rest/api/2"
JIRA = {"JIRA_URL": BASE, "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": "tok", "JIRA_PROJECT_KEY": "SUP",
        "JIRA_WEBHOOK_SECRET": "s3cret"}
REF = TicketRef(Source.JIRA, "TESTKEY13-1")


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def jira(api: responses.RequestsMock) -> JiraConnector:
    connector = JiraConnector(load_settings(JIRA).jira)  # type: ignore[arg-type]
    assert len(api.calls) == 0  # building the client makes no call (no serverInfo, no PyPI check)
    return connector


def sent(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


def issue_created(hub: Any, summary: str, description: Any, identifier: str = "wh-1") -> tuple[Any, list[Any]]:
    """Open issue KAN-3 (``summary``, ``description``) through the real app's Jira webhook, with Jira faked by
    ``responses`` (it reads the issue, takes label updates and comments), and drain the jobs: return the webhook's
    response and the calls the hub made to Jira."""
    client = create_app(hub=hub).test_client()
    issue = load("issue_get.json")
    issue.update(key="KAN-3")
    issue["fields"].update(summary=summary, description=description, comment={"comments": []})
    body = fresh_body("webhook_issue_created.json")
    headers = {"X-Hub-Signature": events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": identifier,
               "Content-Type": "application/json"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as jira_api:
        jira_api.get(f"{API}/myself", json=load("myself.json"))
        jira_api.get(f"{API}/issue/KAN-3", json=issue)
        jira_api.put(f"{API}/issue/KAN-3", status=204)
        jira_api.post(f"{API}/issue/KAN-3/comment", json=load("comment_create_response.json"), status=201)
        response = client.post("/webhooks/jira", data=body, headers=headers)
        hub.jobs.drain()
        return response, list(jira_api.calls)


def test_fetch_normalises_adf_and_marks_the_hub(jira: JiraConnector, api: responses.RequestsMock) -> None:
    api.get(f"{API}/issue/TESTKEY13-1", json=load("issue_get.json"))
    api.get(f"{API}/myself", json=load("myself.json"))
    ticket = jira.fetch(REF)
    assert [m.author.is_self for m in ticket.messages] == [False, False, True, False]
    assert api.calls[0].request.params["fields"].startswith("summary,description")
    jira.fetch(REF)
    assert sum(c.request.url.endswith("/myself") for c in api.calls) == 1


def test_an_issue_named_by_id_is_resolved_to_its_key_and_a_key_costs_nothing(jira: JiraConnector, api: responses.RequestsMock) -> None:
    created = TicketEvent(Source.JIRA, "issue:10627:created", EventKind.CREATED, REF)
    assert jira.resolve(created) is created and len(api.calls) == 0
    api.get(f"{API}/issue/10627", json=load("issue_get.json"))
    assert jira.resolve(replace(created, ref=TicketRef(Source.JIRA, "10627"))).ref == REF
    assert api.calls[0].request.params["fields"] == "reporter,creator"


def test_verdicts_keep_public_ask_internal_again_after_a_while_and_forget_the_least_recently_used() -> None:
    now = [0.0]
    verdicts = Verdicts(size=2, clock=lambda: now[0])
    verdicts.put("1", Visibility.PUBLIC)
    verdicts.put("2", Visibility.INTERNAL)
    verdicts.put("3", Visibility.UNKNOWN)  # a failed look-up decides nothing
    assert (verdicts.get("1"), verdicts.get("2"), verdicts.get("3")) == (Visibility.PUBLIC, Visibility.INTERNAL, None)
    now[0] += INTERNAL_RECHECK.total_seconds()
    assert verdicts.get("1") is Visibility.PUBLIC and verdicts.get("2") is None, "a note may have been made public since"
    verdicts.put("4", Visibility.PUBLIC)
    verdicts.put("5", Visibility.PUBLIC)
    assert verdicts.get("1") is None and verdicts.get("5") is Visibility.PUBLIC


def test_a_note_made_public_after_it_was_judged_internal_is_found_public_once_asked_again(
        jira: JiraConnector, api: responses.RequestsMock) -> None:
    now = [0.0]
    visibility = CommentVisibility(jira.jira, Verdicts(clock=lambda: now[0]))
    url = f"{API}/comment/{{}}/properties/sd.public.comment"
    api.get(url.format(1), json={"key": "sd.public.comment", "value": {"internal": True}})
    api.get(url.format(2), json={"key": "sd.public.comment", "value": {"internal": False}})
    for _ in range(3):
        assert (visibility.of("1"), visibility.of("2")) == (Visibility.INTERNAL, Visibility.PUBLIC)
    assert len(api.calls) == 2
    api.upsert(responses.GET, url.format(1), json={"key": "sd.public.comment", "value": {"internal": False}})  # an agent made it public
    now[0] += INTERNAL_RECHECK.total_seconds()
    assert (visibility.of("1"), visibility.of("2")) == (Visibility.PUBLIC, Visibility.PUBLIC)
    assert [c.request.url for c in api.calls[2:]] == [url.format(1)], "the public verdict is not asked again"


def test_answer_is_a_public_comment_and_a_label(jira: JiraConnector, api: responses.RequestsMock) -> None:
    api.put(f"{API}/issue/TESTKEY13-1", status=204)
    api.post(f"{API}/issue/TESTKEY13-1/comment", json=load("comment_create_response.json"), status=201)
    performers = common_performers("jira", jira)
    result = performers["post_reply"]({"ref": "jira:TESTKEY13-1", "idempotency_key": "answer:jira:TESTKEY13-1", "text": "Re-run it.", "kind": "answer",
                                       "citations": [{"title": "Exports", "url": "https://kb/exports"}]})
    comment, label = (sent(c) for c in api.calls)  # the comment first: a label never marks an unposted answer
    assert label == {"update": {"labels": [{"add": "hub_answered"}]}}
    assert "[Exports|https://kb/exports]" in comment["body"]
    assert comment["properties"] == [{"key": "hub_key", "value": {"key": "answer:jira:TESTKEY13-1"}}]
    assert result.result["external_id"] == "10755"


def test_a_failed_label_does_not_fail_a_posted_answer(jira: JiraConnector, api: responses.RequestsMock) -> None:
    api.post(f"{API}/issue/TESTKEY13-1/comment", json=load("comment_create_response.json"), status=201)
    api.put(f"{API}/issue/TESTKEY13-1", status=503, json={"errorMessages": ["down"]})
    posted = jira.post_reply(REF, "Re-run it.", idempotency_key="answer:jira:TESTKEY13-1")
    assert posted.external_id == "10755" and [c.request.method for c in api.calls] == ["POST", "PUT"]


def own_comment(comment_id: str, mine: bool) -> dict[str, Any]:
    author = load("myself.json") if mine else {"accountId": "someone-else", "emailAddress": "x@example.com"}
    return {"id": comment_id, "author": author, "body": "text"}


def test_a_retry_finds_the_comment_posted_with_its_key(jira: JiraConnector, api: responses.RequestsMock) -> None:
    api.get(f"{API}/myself", json=load("myself.json"))
    api.get(f"{API}/issue/TESTKEY13-1/comment", json={"startAt": 0, "maxResults": 100, "total": 3, "comments": [
        own_comment("1", mine=False), own_comment("2", mine=True), own_comment("3", mine=True)]})
    api.get(f"{API}/comment/3/properties/hub_key", status=404, json={"errorMessages": ["no such property"]})
    api.get(f"{API}/comment/2/properties/hub_key", json={"key": "hub_key", "value": {"key": "answer:jira:TESTKEY13-1"}})
    performers = common_performers("jira", jira)
    result = performers["post_reply"]({"ref": "jira:TESTKEY13-1", "idempotency_key": "answer:jira:TESTKEY13-1", "text": "Re-run it.",
                                       "kind": "answer", "attempt": 2})
    assert result.result["external_id"] == "2"
    assert not [c for c in api.calls if c.request.method == "POST"]  # nothing posted again
    # Someone else's comment is never asked about; another key is not a match.
    assert not [c for c in api.calls if "/comment/1/" in c.request.url]
    assert jira.already_wrote(REF, "answer:jira:OTHER-1") is None


def test_a_retry_finds_its_comment_among_the_hubs_and_minds_no_one_elses_unreadable_id(jira: JiraConnector,
                                                                                        api: responses.RequestsMock) -> None:
    """A comment of the hub's listed under no id may be the write (never posted twice: the look-up fails,
    tests/test_vendor_hostile_writes.py), unless another of its comments has the key; someone else's is never it."""
    api.get(f"{API}/myself", json=load("myself.json"))
    listed = api.get(f"{API}/issue/TESTKEY13-1/comment", json={"startAt": 0, "maxResults": 100, "total": 3, "comments": [
        own_comment("2", mine=True), own_comment("1" * 300, mine=True), own_comment("x", mine=False)]})
    api.get(f"{API}/comment/2/properties/hub_key", json={"key": "hub_key", "value": {"key": "answer:jira:TESTKEY13-1"}})
    assert jira.already_wrote(REF, "answer:jira:TESTKEY13-1") == PostedMessage("2", f"{BASE}/browse/TESTKEY13-1?focusedCommentId=2")
    with pytest.raises(UnreadableRecord, match="the write may have been made .* its id is a text of 300 characters"):
        jira.already_wrote(REF, "answer:jira:OTHER-1")
    api.remove(listed)
    api.get(f"{API}/issue/TESTKEY13-1/comment", json={"startAt": 0, "maxResults": 100, "total": 1, "comments": [own_comment("x", mine=False)]})
    assert jira.already_wrote(REF, "answer:jira:OTHER-1") is None
    assert all("/comment/1" not in c.request.url and "/comment/x" not in c.request.url for c in api.calls)


def test_draft_is_a_jsm_internal_comment(jira: JiraConnector, api: responses.RequestsMock) -> None:
    api.put(f"{API}/issue/TESTKEY13-1", status=204)
    api.post(f"{API}/issue/TESTKEY13-1/comment", json=load("comment_create_response.json"), status=201)
    performers = common_performers("jira", jira)
    performers["add_internal_note"]({"ref": "jira:TESTKEY13-1", "text": "Draft (confidence 0.4)", "reopen": True})
    comment, label = (sent(c) for c in api.calls)
    assert label == {"update": {"labels": [{"add": "hub_escalated"}]}}
    assert comment == {"body": "Draft (confidence 0.4)", "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}


def test_a_retried_escalation_finds_the_issue_by_its_key_label(jira: JiraConnector, api: responses.RequestsMock) -> None:
    label = key_label("escalate:slack:T1:C1:1.0")
    api.get(f"{API}/search/jql", json={"issues": [{"key": "SUP-42", "fields": {}}], "isLast": True},
            match=[responses.matchers.query_param_matcher({"jql": f'labels = "{label}" ORDER BY created ASC'}, strict_match=False)])
    create = common_performers("jira", jira)["create_ticket"]
    result = create({"subject": "Printer on fire", "text": "alice: it burns", "draft": "Draft", "tags": ["hub_escalated"],
                     "requester": {"external_id": "U1", "name": "Alice", "email": "alice@example.com"},
                     "origin": {"connector": "slack", "ref": "slack:T1:C1:1.0"}, "notice": "A person will follow up:",
                     "idempotency_key": "escalate:slack:T1:C1:1.0", "attempt": 2})
    assert result.result["ref"] == "jira:SUP-42"
    assert [c.request.method for c in api.calls] == ["GET"]  # no second issue


def test_create_ticket_in_the_project(jira: JiraConnector, api: responses.RequestsMock) -> None:
    api.post(f"{API}/issue", json=load("issue_create_response.json"), status=201)
    ref = jira.create_ticket("Printer on fire", "alice: it burns", Person("U1", "Alice", "alice@example.com"), tags=("slack",),
                             idempotency_key="escalate:slack:T1:C1:1.0")
    assert ref == TicketRef(Source.JIRA, "SUP-42") and jira.ticket_url(ref) == f"{BASE}/browse/SUP-42"
    fields = sent(api.calls[0])["fields"]
    assert fields["project"] == {"key": "SUP"} and fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == "Printer on fire"
    assert fields["labels"] == ["hub_created", key_label("escalate:slack:T1:C1:1.0"), "slack"]  # the write's key label too
    assert fields["description"].startswith("Requested by Alice (alice@example.com)") and "it burns" in fields["description"]
    assert len(api.calls) == 1


@pytest.mark.parametrize(
    ("status", "error"), [(429, Retriable), (503, Retriable), (404, NotFound), (401, Fatal), (403, Fatal), (400, Fatal)]
)
def test_http_failures_become_hub_errors(jira: JiraConnector, api: responses.RequestsMock, status: int, error: type) -> None:
    api.post(f"{API}/issue/TESTKEY13-1/comment", status=status, headers={"Retry-After": "30"}, json={"errorMessages": ["x"]})
    with pytest.raises(error) as raised:
        jira.add_internal_note(REF, "draft")
    if status == 429:
        assert raised.value.retry_after == 30 and raised.value.rate_limited
    assert len(api.calls) == 1  # no client-side retries or sleeps


@pytest.mark.parametrize("error", [requests.ConnectionError("refused"),
                                   requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")])
def test_connection_errors_are_retriable(jira: JiraConnector, api: responses.RequestsMock, error: Exception) -> None:
    """Refused, or cut inside its body (it was Fatal: the issue's event failed for good)."""
    api.get(f"{API}/issue/TESTKEY13-1", body=error)
    with pytest.raises(Retriable):
        jira.fetch(REF)


def inbox_rows(hub: Any) -> list[InboxEvent]:
    with hub.db.session() as s:
        return list(s.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars())


def test_webhook_signature_and_dedupe_through_the_app(sqlite_url: str) -> None:
    app = create_app(settings_dict(sqlite_url, **JIRA))
    client, hub = app.test_client(), app.extensions["hub"]
    body = fresh_body("webhook_issue_created.json")
    headers = {"X-Hub-Signature": events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": "wh-1",
               "Content-Type": "application/json"}
    try:
        assert client.post("/webhooks/jira", data=body, headers={**headers, "X-Hub-Signature": "sha256=00"}).status_code == 401
        assert inbox_rows(hub) == []
        assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
        assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "duplicate"
        rows = inbox_rows(hub)
        assert [(r.kind, r.ticket_ref, r.delivery_id) for r in rows] == [("created", "jira:KAN-3", "issue:10033:created")]
        assert rows[0].event["data"]["delivery"] == "wh-1"
    finally:
        hub.close()


def test_polling_resumes_after_a_restart_without_gaps_or_repeats(sqlite_url: str) -> None:
    settings = load_settings(settings_dict(sqlite_url, **JIRA, JIRA_POLL="true"))
    search = f"{API}/search/jql"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        api.get(search, json=load("search_jql_page.json"))
        api.get(search, json={"issues": load("search_jql_page.json")["issues"] + load("search_jql_page2.json")["issues"],
                              "isLast": True})
        api.get(search, json=load("search_jql_page2.json"))

        hub = build_hub(settings)
        with hub.db.session() as s:  # the last poll saw changes up to 10:00 UTC
            set_cursor(s, poll.CURSOR_NAME, json.dumps({"since": "2022-12-08T10:00:00+00:00", "seen": []}))
        (_, job, _), = scheduled_jobs(hub)
        assert job() == 1
        stored = json.loads(get_cursor(hub.db, poll.CURSOR_NAME) or "{}")
        assert stored["seen"] == ["TESTKEY13-1@2022-12-08T02:22:18.889-0800"]
        hub.close()

        hub = build_hub(settings)  # a restart; the overlapping window returns TESTKEY13-1 again
        (_, job, _), = scheduled_jobs(hub)
        assert job() == 1
        assert job() == 0
        queries = [c.request.params["jql"] for c in api.calls if "/search/jql" in c.request.url]
        rows = inbox_rows(hub)
        hub.close()
    assert queries[0] == 'project = "SUP" AND updated >= "2022/12/08 10:58" ORDER BY updated ASC'  # Berlin time
    assert queries[1] == 'project = "SUP" AND updated >= "2022/12/08 11:20" ORDER BY updated ASC'  # 02:22 PST - 2 min, Berlin
    assert [(r.kind, r.delivery_id) for r in rows] == [("commented", "comment:10758"), ("created", "issue:10626:created")]


def test_polling_a_jira_server_without_search_jql_pages_by_start_at(sqlite_url: str) -> None:
    """Jira Server/DC has no ``/search/jql`` (404): the poll reads ``/search`` by ``startAt`` instead, every page."""
    settings = load_settings(settings_dict(sqlite_url, **JIRA, JIRA_POLL="true"))
    first, second = load("search_jql_page.json")["issues"], load("search_jql_page2.json")["issues"]
    total = len(first) + len(second)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        api.get(f"{API}/search/jql", json={"errorMessages": ["null for uri: .../rest/api/2/search/jql"]}, status=404)
        api.get(f"{API}/search", json={"startAt": 0, "maxResults": len(first), "total": total, "issues": first},
                match=[responses.matchers.query_param_matcher({"startAt": "0"}, strict_match=False)])
        api.get(f"{API}/search", json={"startAt": len(first), "maxResults": len(first), "total": total, "issues": second},
                match=[responses.matchers.query_param_matcher({"startAt": str(len(first))}, strict_match=False)])
        hub = build_hub(settings)
        with hub.db.session() as s:
            set_cursor(s, poll.CURSOR_NAME, json.dumps({"since": "2022-12-08T10:00:00+00:00", "seen": []}))
        (_, job, _), = scheduled_jobs(hub)
        assert job() == 2  # both pages' events
        rows = inbox_rows(hub)
        hub.close()
        searched = [(c.request.path_url.split("?")[0], c.request.params.get("startAt")) for c in api.calls if "/search" in c.request.url]
    assert searched == [("/rest/api/2/search/jql", None), ("/rest/api/2/search", "0"), ("/rest/api/2/search", str(len(first)))]
    assert [(r.kind, r.delivery_id) for r in rows] == [("commented", "comment:10758"), ("created", "issue:10626:created")]


def test_create_ticket_uses_the_configured_issue_type(api: responses.RequestsMock) -> None:
    connector = JiraConnector(load_settings({**JIRA, "JIRA_ISSUE_TYPE": "Service Request"}).jira)  # type: ignore[arg-type]
    api.post(f"{API}/issue", json=load("issue_create_response.json"), status=201)
    connector.create_ticket("Printer on fire", "it burns", Person("U1", "Alice", "alice@example.com"))
    assert sent(api.calls[0])["fields"]["issuetype"] == {"name": "Service Request"}


def test_create_ticket_as_a_jsm_request_of_the_configured_type(api: responses.RequestsMock) -> None:
    settings = load_settings({**JIRA, "JIRA_SERVICE_DESK_ID": "4", "JIRA_REQUEST_TYPE_ID": "25"}).jira
    connector = JiraConnector(settings)  # type: ignore[arg-type]
    # NOTE(jira): GET servicedesk/{id} and POST request as documented in the JSM REST API (servicedeskapi).
    api.get(f"{BASE}/rest/servicedeskapi/servicedesk/4",
            json={"id": "4", "projectId": "10002", "projectName": "Support", "projectKey": "SUP",
                  "_links": {"self": f"{BASE}/rest/servicedeskapi/servicedesk/4"}})
    api.post(f"{BASE}/rest/servicedeskapi/request", status=201,
             json={"issueId": "10107", "issueKey": "SUP-43", "requestTypeId": "25", "serviceDeskId": "4",
                   "reporter": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Help-desk hub"},
                   "requestFieldValues": [], "_links": {"web": f"{BASE}/servicedesk/customer/portal/4/SUP-43"}})
    api.put(f"{API}/issue/SUP-43", status=204)
    ref = connector.create_ticket("Printer on fire", "alice: it burns", Person("U1", "Alice", "alice@example.com"),
                                  tags=("slack",), idempotency_key="escalate:x")
    assert ref == TicketRef(Source.JIRA, "SUP-43")
    assert not any(c.request.method == "PUT" for c in api.calls)  # the labels are a write of their own
    assert connector.marks_after_create()
    connector.mark_created(ref, ("slack",), "escalate:x")
    request = next(c for c in api.calls if c.request.url.endswith("/servicedeskapi/request"))
    body = sent(request)
    assert body["serviceDeskId"] == "4" and body["requestTypeId"] == 25
    assert body["requestFieldValues"]["summary"] == "Printer on fire"
    assert body["requestFieldValues"]["description"].startswith("Requested by Alice (alice@example.com)")
    assert not any(c.request.url.endswith("/rest/api/2/issue") for c in api.calls)  # no plain issue
    label = next(c for c in api.calls if c.request.method == "PUT")
    assert sent(label) == {"update": {"labels": [{"add": "hub_created"}, {"add": key_label("escalate:x")}, {"add": "slack"}]}}


@pytest.mark.parametrize("given,missing", [({"JIRA_SERVICE_DESK_ID": "4"}, "JIRA_REQUEST_TYPE_ID"),
                                           ({"JIRA_REQUEST_TYPE_ID": "25"}, "JIRA_SERVICE_DESK_ID")])
def test_a_jsm_request_type_needs_both_settings(given: dict[str, str], missing: str) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match=missing):
        load_settings({**JIRA, **given})


def test_jsm_requests_need_no_project_key_for_escalations() -> None:
    settings = load_settings({**{k: v for k, v in JIRA.items() if k != "JIRA_PROJECT_KEY"}, "HUB_ESCALATION_TARGET": "jira",
                              "JIRA_SERVICE_DESK_ID": "4", "JIRA_REQUEST_TYPE_ID": "25"})
    assert settings.jira is not None and settings.jira.project_key is None
