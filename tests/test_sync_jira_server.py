"""Issue 12 on Jira Server/DC, end to end through the real app: Server sends no ``jsdPublic``, so an agent's
comment on the ticket of record is judged by its JSM property ``sd.public.comment``, looked up with
``GET /rest/api/2/comment/{id}/properties/sd.public.comment``. No property (404) or ``{"internal": false}``
reaches the Slack thread; ``{"internal": true}`` or anything else never does; a look-up that fails withholds
the comment without marking it mirrored, and the event's retry posts it once Jira answers. Cloud comments
carry ``jsdPublic`` and cost no look-up.

Most tests trigger the read with Cloud's webhook (the hub trusts nothing it claims about visibility): what is
under test is the hub's judgment of the issue as read back, Server-shaped (users with ``name``/``key``, no
``accountId``, no ``jsdPublic``). The last one delivers Server's own capture, which names the issue by id only.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import responses
from sqlalchemy import update

from connectors.jira import events
from core import queues
from core.db import InboxEvent, OutboxAction, OutcomeRow
from core.errors import Retriable
from core.models import utcnow
from tests.slack_stub import SlackStub
from tests.sync_world import (
    stub,  # noqa: F401 - stub is a fixture
    running,
    JIRA_AGENT, RECORD_KEY, THREAD, World, jira_comment, jira_comment_created, jira_world, serve_issue,
)
from tests.test_jira_connector import API, BASE
from tests.test_slack_flow import CHANNEL, ROOT_TS

SD = "sd.public.comment"
SERVER_HUB = {"self": f"{BASE}/rest/api/2/user?username=helpdesk-hub", "name": "helpdesk-hub", "key": "JIRAUSER10100",
              "emailAddress": "hub@example.com", "displayName": "Help-desk hub", "active": True, "timeZone": "Europe/Berlin"}
SERVER_AGENT = {"self": f"{BASE}/rest/api/2/user?username=grace", "name": "grace", "key": "JIRAUSER10200",
                "emailAddress": "grace@example.com", "displayName": "Grace Hopper", "active": True, "timeZone": "Europe/Moscow"}
REPLY = "We found the double charge and refunded it."


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    with running(jira_world, database_url, stub, myself=SERVER_HUB) as built:
        yield built


def serve_server_issue(api: responses.RequestsMock, comments: list[dict[str, Any]], updated: str | None = None) -> dict[str, Any]:
    """Serve SUP-42 as Jira Server/DC does: the hub (a ``name``/``key`` user) reported it and wrote the
    internal draft, and no comment carries ``jsdPublic``; return the issue as served."""
    issue = serve_issue(api, comments, updated=updated)
    fields = issue["fields"]
    fields["reporter"] = fields["creator"] = SERVER_HUB
    draft = fields["comment"]["comments"][0]
    draft["author"] = SERVER_HUB
    del draft["jsdPublic"]
    for name in (RECORD_KEY, issue["id"]):  # the REST API takes the issue id wherever it takes the key
        api.upsert(responses.GET, f"{API}/issue/{name}", json=issue)
    return issue


def server_comment(comment_id: str, body: str, author: dict[str, Any] = SERVER_AGENT, **fields: Any) -> dict[str, Any]:
    """A REST v2 comment on SUP-42 as Server/DC returns it (no ``jsdPublic``)."""
    return {"self": f"{BASE}/rest/api/2/issue/10000/comment/{comment_id}", **jira_comment(comment_id, author, body, **fields)}


def server_comment_created(world: World, comment: dict[str, Any]) -> Any:
    """Deliver Jira Server's ``comment_created`` for ``comment`` as the real capture has it: no ``issue``, the
    issue named by id in ``comment.self`` only; signed now."""
    capture = Path(__file__).parent.parent.parent / "shared/fixtures/payloads/jira_server_webhook_comment_created.json"
    body = json.loads(capture.read_text())
    body["timestamp"] = int(time.time() * 1000)
    body["comment"].update({k: comment[k] for k in ("id", "self", "author", "body")})
    body["comment"]["updateAuthor"] = comment["author"]
    raw = json.dumps(body).encode()
    headers = {"X-Hub-Signature": events.sign("s3cret", raw), "Content-Type": "application/json"}
    return world.client.post("/webhooks/jira", data=raw, headers=headers)


def property_url(comment_id: str) -> str:
    return f"{API}/comment/{comment_id}/properties/{SD}"


def serve_property(api: responses.RequestsMock, comment_id: str, value: Any = None, status: int = 200, **kwargs: Any) -> None:
    """Answer the comment's ``sd.public.comment`` look-up: the property (``value``), or ``status`` (404: the
    comment has no such property; its property keys, which the hub then lists, are there without it)."""
    if status == 200 and "body" not in kwargs:
        kwargs["json"] = {"key": SD, "value": value}
    elif status != 200:
        kwargs.setdefault("json", {"errorMessages": [f"The property with key '{SD}' does not exist."], "errors": {}})
    api.upsert(responses.GET, property_url(comment_id), status=status, **kwargs)
    if status == 404:
        api.upsert(responses.GET, f"{API}/comment/{comment_id}/properties", json={"keys": []})


def serve_deleted(api: responses.RequestsMock, comment_id: str) -> None:
    """Answer as Jira does for a comment deleted since the issue was read: both the property and the property
    keys are a 404 (``errorMessages`` in the API user's language; the hub reads the status, not the text)."""
    gone = {"errorMessages": ["The comment does not exist."], "errors": {}}
    api.upsert(responses.GET, property_url(comment_id), status=404, json=gone)
    api.upsert(responses.GET, f"{API}/comment/{comment_id}/properties", status=404, json=gone)


def lookups(world: World) -> list[str]:
    """The ``sd.public.comment`` look-ups the hub made, by comment id (not the property-key listings)."""
    return [c.request.url.split("/comment/")[1].split("/")[0] for c in world.api.calls if c.request.url.endswith(f"/properties/{SD}")]


def deliver(world: World, comment: dict[str, Any]) -> None:
    assert jira_comment_created(world, comment).get_json()["status"] == "accepted"
    world.drain()


def mirrored(world: World) -> list[str]:
    """The texts posted in the thread after the hub's own escalation notice."""
    return [p.args["text"] for p in world.posts()[1:]]


def test_an_agents_reply_with_no_internal_property_reaches_the_thread(world: World) -> None:
    reply = server_comment("20001", REPLY)
    serve_server_issue(world.api, [reply])
    serve_property(world.api, "20001", status=404)
    deliver(world, reply)
    [text] = mirrored(world)
    assert "Grace Hopper" in text and REPLY in text and f"{BASE}/browse/{RECORD_KEY}" in text
    assert [p.args["channel"] for p in world.posts()[1:]] == [CHANNEL]
    assert lookups(world) == ["20001"], "the agent's comment only: the hub's own draft is not looked up"
    [row] = [o for o in world.rows(OutcomeRow) if o.kind == "agent_reply"]
    assert row.ticket_ref == THREAD and row.detail["comment"] == "20001"


def test_a_property_saying_internal_false_is_public(world: World) -> None:
    reply = server_comment("20001", REPLY)
    serve_server_issue(world.api, [reply])
    serve_property(world.api, "20001", {"internal": False})
    deliver(world, reply)
    assert len(mirrored(world)) == 1


@pytest.mark.parametrize(
    "value",
    [{"internal": True}, {"internal": "false"}, {"internal": None}, {}, None, "internal", [{"internal": False}]],
    ids=["internal", "string-false", "null", "empty", "no-value", "a-string", "a-list"],
)
def test_an_internal_or_unreadable_property_is_never_mirrored(world: World, value: Any) -> None:
    note = server_comment("20002", "internal: check the fraud queue")
    serve_server_issue(world.api, [note])
    serve_property(world.api, "20002", value)
    deliver(world, note)
    assert mirrored(world) == [] and lookups(world) == ["20002"]
    assert "fraud queue" not in json.dumps([p.args for p in world.posts()])
    [event] = [e for e in world.rows(InboxEvent) if "20002" in json.dumps(e.event)]
    assert event.status == "done", "decided: internal, nothing to ask again"


def test_a_property_answer_for_another_key_is_not_taken_for_public(world: World) -> None:
    note = server_comment("20002", "internal: check the fraud queue")
    serve_server_issue(world.api, [note])
    serve_property(world.api, "20002", body=json.dumps({"key": "hub_key", "value": {"internal": False}}))
    deliver(world, note)
    assert mirrored(world) == []


def test_comments_already_marked_are_not_looked_up(world: World) -> None:
    restricted = server_comment("20003", "admins only", visibility={"type": "role", "value": "Administrators"})
    flagged = server_comment("20004", "flagged internal", properties=[{"key": SD, "value": {"internal": True}}])
    malformed = server_comment("20005", "jsdPublic present but null", jsdPublic=None)
    serve_server_issue(world.api, [restricted, flagged, malformed])
    deliver(world, malformed)
    assert mirrored(world) == [] and lookups(world) == []


@pytest.mark.parametrize(
    "failure",
    [{"status": 503}, {"status": 429, "headers": {"Retry-After": "1"}}, {"status": 200, "body": requests.exceptions.ConnectTimeout("slow")}],
    ids=["503", "429", "timeout"],
)
def test_a_failed_look_up_withholds_the_reply_until_jira_answers(world: World, failure: dict[str, Any]) -> None:
    reply = server_comment("20001", REPLY)
    serve_server_issue(world.api, [reply])
    serve_property(world.api, "20001", **failure)
    deliver(world, reply)
    assert mirrored(world) == [], "not decided: not public this time"
    assert not [a for a in world.rows(OutboxAction) if a.idempotency_key.startswith("mirror:")], "and not marked mirrored"
    [event] = [e for e in world.rows(InboxEvent) if "20001" in json.dumps(e.event)]
    assert event.status == "pending" and "visibility" in (event.last_error or ""), "the event is retried"

    serve_property(world.api, "20001", status=404)  # Jira answers again
    with world.hub.db.session() as s:
        s.execute(update(InboxEvent).where(InboxEvent.id == event.id).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert world.hub.sweep() >= 1
    world.drain()
    [text] = mirrored(world)
    assert REPLY in text
    assert [e.status for e in world.rows(InboxEvent) if e.id == event.id] == ["done"]

    note = server_comment("20007", "internal: refund approved")  # a later comment: the issue is read again
    serve_server_issue(world.api, [reply, note])
    serve_property(world.api, "20007", {"internal": True})
    deliver(world, note)
    assert len(mirrored(world)) == 1, "the reply is posted once"


def test_a_failed_look_up_does_not_hold_back_a_reply_already_decided(world: World) -> None:
    first, second = server_comment("20001", REPLY), server_comment("20006", "And the receipt is attached.")
    serve_server_issue(world.api, [first, second])
    serve_property(world.api, "20001", status=404)
    serve_property(world.api, "20006", status=503)
    deliver(world, second)
    [text] = mirrored(world)
    assert REPLY in text and "receipt" not in text


def test_each_comment_is_looked_up_once_across_reads_of_the_issue(world: World) -> None:
    replies = [server_comment("20001", REPLY), server_comment("20002", "internal: check the fraud queue"),
               server_comment("20003", "And the receipt is attached.")]
    serve_server_issue(world.api, replies)
    serve_property(world.api, "20001", status=404)
    serve_property(world.api, "20002", {"internal": True})
    serve_property(world.api, "20003", {"internal": False})
    deliver(world, replies[2])
    assert sorted(lookups(world)) == ["20001", "20002", "20003"]

    later = server_comment("20004", "Anything else I can do?")  # the next event: the issue is read again
    serve_server_issue(world.api, [*replies, later])
    serve_property(world.api, "20004", status=404)
    deliver(world, later)
    assert sorted(lookups(world)) == ["20001", "20002", "20003", "20004"], "the second read asks about the new comment only"
    assert len(mirrored(world)) == 3 and "fraud queue" not in json.dumps(mirrored(world))


def test_a_comment_deleted_before_its_look_up_is_never_posted(world: World) -> None:
    reply, gone = server_comment("20001", REPLY), server_comment("20008", "internal: card 4111 1111 1111 1111 on file")
    serve_server_issue(world.api, [reply, gone])  # the issue read still lists the comment ...
    serve_property(world.api, "20001", status=404)
    serve_deleted(world.api, "20008")  # ... deleted before the hub asks who may see it
    deliver(world, reply)
    deliver(world, gone)  # its own event comes too
    [text] = mirrored(world)
    assert REPLY in text and "4111" not in json.dumps([p.args for p in world.posts()])
    assert not [a for a in world.rows(OutboxAction) if a.idempotency_key.endswith(":20008")]
    assert [e.status for e in world.rows(InboxEvent) if e.ticket_ref == f"jira:{RECORD_KEY}"] == ["done", "done"], "gone: nothing to retry"


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_look_up_fails_the_event_naming_the_cause_and_hub_retry_posts_the_reply_once_fixed(world: World, status: int) -> None:
    reply = server_comment("20001", REPLY)
    serve_server_issue(world.api, [reply])
    refused = {"errorMessages": ["You do not have the permission to see the specified issue."], "errors": {}}
    serve_property(world.api, "20001", status=status, json=refused)
    deliver(world, reply)
    assert mirrored(world) == [] and not [a for a in world.rows(OutboxAction) if a.idempotency_key.startswith("mirror:")]
    [event] = [e for e in world.rows(InboxEvent) if "20001" in json.dumps(e.event)]
    assert event.status == "failed", "not retried for the whole retry horizon: asking again will not help"
    assert f"({status})" in event.last_error and "hub retry" in event.last_error
    assert ("JIRA_API_TOKEN" if status == 401 else "Browse projects") in event.last_error
    assert lookups(world) == ["20001"]

    serve_property(world.api, "20001", status=404)  # the admin fixed the API user's permission
    assert queues.retry_failed(world.hub.db, world.hub.jobs, "inbox", [event.id]) == {"inbox": [event.id]}
    world.drain()
    [text] = mirrored(world)
    assert REPLY in text
    assert [e.status for e in world.rows(InboxEvent) if e.id == event.id] == ["done"]


def test_cloud_comments_carry_jsdPublic_and_cost_no_look_up(world: World) -> None:
    public = jira_comment("20001", JIRA_AGENT, REPLY, jsdPublic=True)
    internal = jira_comment("20002", JIRA_AGENT, "internal: check the fraud queue", jsdPublic=False)
    serve_issue(world.api, [public, internal])
    deliver(world, public)
    [text] = mirrored(world)
    assert REPLY in text and "fraud queue" not in text
    assert lookups(world) == [] and not [c for c in world.api.calls if "/properties/" in c.request.url]
    assert world.posts()[-1].args["thread_ts"] == ROOT_TS


def test_servers_own_webhook_naming_the_issue_by_id_only_reaches_the_thread(world: World) -> None:
    reply = server_comment("20001", REPLY)
    serve_server_issue(world.api, [reply])
    serve_property(world.api, "20001", status=404)
    assert server_comment_created(world, reply).get_json()["status"] == "accepted"
    world.drain()
    [text] = mirrored(world)
    assert REPLY in text and f"{BASE}/browse/{RECORD_KEY}" in text
    [named] = [c for c in world.api.calls if c.request.url.startswith(f"{API}/issue/10000")]
    assert named.request.params["fields"] == "reporter,creator", "the issue id resolved to its key (and reporter), cheaply"
    [row] = [o for o in world.rows(OutcomeRow) if o.kind == "agent_reply"]
    assert row.ticket_ref == THREAD and row.detail["on"] == f"jira:{RECORD_KEY}"


def test_without_webhooks_a_servers_agent_reply_is_judged_and_reaches_the_thread(database_url: str, stub: SlackStub) -> None:
    from connectors.jira import scheduled_jobs

    updated = (utcnow() - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        world = jira_world(database_url, stub, api, myself=SERVER_HUB, JIRA_POLL="true")
        reply, note = server_comment("20001", REPLY), server_comment("20002", "internal: finance approved it")
        issue = serve_server_issue(api, [reply, note], updated=updated)
        api.get(f"{API}/search/jql", status=404, json={"errorMessages": ["null for uri: /rest/api/2/search/jql"], "errors": {}})
        api.get(f"{API}/search", json={"startAt": 0, "maxResults": 50, "total": 1, "issues": [issue]})
        serve_property(api, "20001", status=503)
        serve_property(api, "20002", {"internal": True})
        (_, job, _), = scheduled_jobs(world.hub)
        with pytest.raises(Retriable):
            job()  # who may see the reply cannot be told yet: the cursor stays, nothing is lost
        assert mirrored(world) == []
        serve_property(api, "20001", status=404)
        assert job() == 1
        world.drain()
        [text] = mirrored(world)
        assert REPLY in text and "finance" not in text
        assert job() == 0 and sorted(lookups(world)) == ["20001", "20001", "20002"], "asked until answered, then held"
        world.hub.close()
