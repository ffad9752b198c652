"""Jira answering the way its documentation allows, broader than our captures: nullable fields null, an ADF
description (REST v3) with node types we do not know, a comment by a deleted user (``author`` null), timestamps
in each documented format, ``/search/jql`` pages without ``isLast`` or with an empty last page, 429 with
``Retry-After`` and 503. A request's issue is read with the right requester and text, its inbox row ends
``done``, and exactly the expected writes are made (one label PUT, one comment POST).

Served at the transport with `responses`; each unusual shape cites the documentation it is allowed by."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
import responses

from app import build_hub, create_app
from config import load_settings
from connectors.jira import JiraConnector, poll
from core.errors import Retriable
from core.models import Source, TicketRef
from tests.conftest import settings_dict
from tests.test_jira_connector import API, JIRA
from tests.test_jira_mapping import load
from tests.test_malformed_fetch import inbox, jira_created, jira_issue

KEY, ISSUE_ID = "KAN-5", "10035"
QUESTION = "I was charged twice, please refund me"
Shape = Callable[[dict[str, Any]], None]


def _nullable_fields_null(issue: dict[str, Any]) -> None:
    # NOTE(jira): priority, labels, attachment, creator and a comment's visibility/jsdPublic are optional in
    # IssueBean.fields. https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-get
    issue["fields"].update(priority=None, labels=None, attachment=None, creator=None, updated=None)


def _optional_fields_absent(issue: dict[str, Any]) -> None:
    for name in ("priority", "labels", "attachment", "creator", "updated", "created", "status"):
        issue["fields"].pop(name, None)


def _adf_with_unknown_nodes(issue: dict[str, Any]) -> None:
    # NOTE(jira): REST v3 returns rich text as ADF; new node and mark types appear over time ("mediaInline",
    # "extension", ...), and a reader keeps the text it knows. https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
    issue["fields"]["description"] = {"version": 1, "type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "I was charged twice, "},
                                          {"type": "text", "text": "please refund me", "marks": [{"type": "futureMark", "attrs": {}}]},
                                          {"type": "mediaInline", "attrs": {"id": "x"}}]},
        {"type": "extension", "attrs": {"extensionKey": "z"}},
        {"type": "rule"}]}


def _comment_by_a_deleted_user(issue: dict[str, Any]) -> None:
    # NOTE(jira): Comment.author is optional ("The ID of the user who created the comment"): a deleted user's
    # comment comes back without one. https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/
    issue["fields"]["comment"] = {"comments": [{"id": "20001", "author": None, "body": "+1, same here", "jsdPublic": True,
                                                "created": "2022-06-09T16:30:00.000-0700"}], "total": 1, "maxResults": 50, "startAt": 0}


def _timestamps_iso_z(issue: dict[str, Any]) -> None:
    # NOTE(jira): date-time strings; Cloud writes "2022-06-09T16:29:31.871-0700", an ISO 8601 "Z" form is valid too.
    issue["fields"].update(created="2022-06-09T23:29:31.871Z", updated="2022-06-09T23:29:31Z")


def _reporter_without_email(issue: dict[str, Any]) -> None:
    # NOTE(jira): emailAddress "may be null depending on the user's privacy settings".
    # https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-users/#api-rest-api-2-user-get
    issue["fields"]["reporter"] = {k: v for k, v in issue["fields"]["reporter"].items() if k != "emailAddress"}


def _unknown_extra_fields(issue: dict[str, Any]) -> None:
    issue["fields"]["customfield_99999"] = {"weird": [None]}
    issue["renderedFields"], issue["brand_new"] = None, {"x": 1}


SHAPES: dict[str, Shape] = {f.__name__.lstrip("_"): f for f in (
    _nullable_fields_null, _optional_fields_absent, _adf_with_unknown_nodes, _comment_by_a_deleted_user,
    _timestamps_iso_z, _reporter_without_email, _unknown_extra_fields)}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_jira_issue_of_a_documented_unusual_shape_is_handled_once(database_url: str, shape: Shape) -> None:
    hub = build_hub(load_settings(settings_dict(database_url, **JIRA)))
    client = create_app(hub=hub).test_client()
    issue = jira_issue(KEY, ISSUE_ID)
    shape(issue)
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.get(f"{API}/myself", json=load("myself.json"))
            api.get(f"{API}/issue/{KEY}", json=issue)
            api.put(f"{API}/issue/{KEY}", status=204)
            api.post(f"{API}/issue/{KEY}/comment", json=load("comment_create_response.json"), status=201)
            body, headers = jira_created(KEY, ISSUE_ID, "wh-shape")
            assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
            hub.jobs.drain()  # type: ignore[attr-defined]
            writes = sorted((c.request.method, c.request.url) for c in api.calls if c.request.method in ("PUT", "POST"))
        row = inbox(hub)[f"jira:{KEY}"]
        assert (row.status, row.attempts, row.last_error) == ("done", 1, None)
        assert writes == [("POST", f"{API}/issue/{KEY}/comment"), ("PUT", f"{API}/issue/{KEY}")]
    finally:
        hub.close()


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_jira_issue_of_a_documented_unusual_shape_reads_its_requester_and_text(shape: Shape) -> None:
    jira = JiraConnector(load_settings(JIRA).jira)  # type: ignore[arg-type]
    issue = jira_issue(KEY, ISSUE_ID)
    shape(issue)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        api.get(f"{API}/issue/{KEY}", json=issue)
        ticket = jira.fetch(TicketRef(Source.JIRA, KEY))
    assert ticket.text == QUESTION and ticket.subject == "Refund please"
    assert ticket.requester.external_id == issue["fields"]["reporter"]["accountId"]
    assert ticket.requester.is_self is False


def _searched(api: responses.RequestsMock) -> int:
    return len([c for c in api.calls if "/search/jql" in c.request.url])


@pytest.mark.parametrize("pages", [
    # NOTE(jira): /search/jql: "nextPageToken ... if not present, this is the last page"; "isLast" is an
    # optional field of SearchAndReconcileResults (none is required), so a page may leave it out.
    # https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-search/#api-rest-api-2-search-jql-get
    [{"issues": ["TESTKEY13-1"], "nextPageToken": "t2"}, {"issues": ["TESTKEY13-2"]}],
    # one issue a page, the last page empty but still with a token and isLast false
    [{"issues": ["TESTKEY13-1"], "nextPageToken": "t2", "isLast": False},
     {"issues": ["TESTKEY13-2"], "nextPageToken": "t3", "isLast": False}, {"issues": [], "isLast": True}],
    [{"issues": ["TESTKEY13-1"], "nextPageToken": "t2", "isLast": False}, {"issues": ["TESTKEY13-2"], "nextPageToken": None, "isLast": True}],
], ids=["isLast-absent", "empty-last-page", "token-null"])
def test_a_jira_poll_reads_every_page_of_search_jql_once(pages: list[dict[str, Any]]) -> None:
    jira = JiraConnector(load_settings(JIRA).jira)  # type: ignore[arg-type]
    found = {i["key"]: i for i in load("search_jql_page.json")["issues"] + load("search_jql_page2.json")["issues"]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        for page in pages:
            api.get(f"{API}/search/jql", json={**page, "issues": [found[k] for k in page["issues"]]})
        events, cursor = poll.poll(jira, json.dumps({"since": "2022-01-01T00:00:00+00:00", "seen": []}))
        assert _searched(api) == len(pages)
    assert sorted({e.ref.external_id for e in events}) == ["TESTKEY13-1", "TESTKEY13-2"]
    assert cursor is not None and len(json.loads(cursor)["seen"]) >= 1


@pytest.mark.parametrize("status,headers,wait", [
    (429, {"Retry-After": "7"}, 7.0),  # NOTE(jira): 429 "may be accompanied by Retry-After" (seconds). platform-apis.md 3.8
    (503, {"Retry-After": "3"}, 3.0),  # "Some 503s carry Retry-After too" (platform-apis.md 3.8)
    (503, {}, None),
])
def test_jira_rate_limits_and_outages_are_retriable_with_their_wait(status: int, headers: dict[str, str], wait: float | None) -> None:
    jira = JiraConnector(load_settings(JIRA).jira)  # type: ignore[arg-type]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        api.get(f"{API}/issue/{KEY}", json={"errorMessages": ["slow down"]}, status=status, headers=headers)
        with pytest.raises(Retriable) as raised:
            jira.fetch(TicketRef(Source.JIRA, KEY))
        assert len([c for c in api.calls if c.request.url.startswith(f"{API}/issue/")]) == 1, "the outbox waits, not the client"
    assert raised.value.retry_after == wait
