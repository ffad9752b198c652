"""At most once after a crash: the worker dies between the vendor's success and the hub's commit.

The fault is injected in the commit path of a real worker thread (a SQLAlchemy ``before_commit`` hook that
raises in the transaction marking the write done), never by patching the code under test. The row is left
``running`` with a short lease; once the lease lapses the sweeper hands it out again, the retry asks the
vendor whether the write already happened (``already_wrote``), and the vendor ends with one public answer.
Vendors are faked at the transport: the Slack stub server, and stateful ``responses`` callbacks for Zendesk
and Jira that keep what was written (tags, comments and their properties) the way the vendors do.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app import Hub, build_hub
from config import load_settings
from core import outbox
from core.db import OutboxAction, OutcomeRow
from tests.conftest import settings_dict
from tests.slack_stub import SlackStub, slack_settings
from tests.test_jira_mapping import load as load_jira
from tests.test_zendesk_mapping import load as load_zendesk

FAST = {"HUB_LEASE_SECONDS": "3"}  # short, yet long enough that a loaded machine sweeps inside it


class CrashAfterVendor:
    """Raises once in the commit that would mark an outbox write done: the process 'dies' right after the
    vendor accepted the write and before the hub recorded it."""

    def __init__(self, hub: Hub) -> None:
        self.fired = 0
        event.listen(hub.db.sessions, "before_commit", self)

    def __call__(self, session: Session) -> None:
        for obj in session.identity_map.values():
            if isinstance(obj, OutboxAction) and obj.status == "done" and self.fired == 0:
                self.fired += 1
                raise RuntimeError("killed between the vendor's success and the commit")


def crash_then_recover(hub: Hub, row_id: int) -> OutboxAction:
    crash = CrashAfterVendor(hub)
    hub.jobs.submit("outbox", row_id)  # a real worker thread performs it and crashes in the commit
    hub.jobs.drain()  # type: ignore[attr-defined]
    assert crash.fired == 1
    with hub.db.session() as s:
        left = s.get_one(OutboxAction, row_id)
        assert (left.status, left.attempts) == ("running", 1)  # the worker's lease is all that is left
    assert hub.sweep() == 0  # the lease still holds: nobody takes it yet
    time.sleep(3.1)  # the lease lapses (nothing renews it: its worker is gone)
    assert hub.sweep() == 1
    hub.jobs.drain()  # type: ignore[attr-defined]
    with hub.db.session() as s:
        return s.get_one(OutboxAction, row_id)


def enqueue_answer(hub: Hub, connector: str, ref: str) -> int:
    with hub.db.session() as s:
        row_id = outbox.enqueue(s, outbox.NewAction(f"answer:{ref}", connector, "post_reply",
                                                    {"ref": ref, "text": "Use the reset link.", "kind": "answer"}, ref))
    assert row_id is not None
    return row_id


# -- Slack -------------------------------------------------------------------------------------------


def test_slack_one_answer_after_a_crash_between_post_and_commit(sqlite_url: str) -> None:
    stub = SlackStub().start()
    stub.seed_thread("C1", {"type": "message", "user": "U1", "text": "How do I reset my password?", "ts": "1700000000.000100"})
    hub = build_hub(load_settings(slack_settings(sqlite_url, stub, **FAST)))
    try:
        row = crash_then_recover(hub, enqueue_answer(hub, "slack", "slack:T1:C1:1700000000.000100"))
        replies = [m for m in stub.threads[("C1", "1700000000.000100")][1:]]
        assert len(replies) == 1 and len(stub.calls_to("chat.postMessage")) == 1
        assert (row.status, row.attempts, row.result) == ("done", 2, {"external_id": replies[0]["ts"], "url": None})
        assert len(stub.calls_to("conversations.replies")) == 1  # the retry looked before posting
    finally:
        hub.close()
        stub.stop()


# -- Zendesk -----------------------------------------------------------------------------------------

ZD = "http://127.0.0.1:8765"
ZENDESK = {"ZENDESK_URL": ZD, "ZENDESK_EMAIL": "hub@example.com", "ZENDESK_API_TOKEN": "tok", "ZENDESK_WEBHOOK_SECRET": "s"}


class FakeZendeskTicket:
    """Ticket 1: a ticket update adds its comment and its tags together, as Zendesk does."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.shown = load_zendesk("ticket_show.json")
        self.comments: list[dict[str, Any]] = []
        api.add_callback("GET", f"{ZD}/api/v2/tickets/1.json", callback=self.show)
        api.add_callback("PUT", f"{ZD}/api/v2/tickets/1.json", callback=self.update)

    def show(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps(self.shown)

    def update(self, request: Any) -> tuple[int, dict[str, str], str]:
        ticket = json.loads(request.body)["ticket"]
        self.comments.append(ticket["comment"])
        tags = self.shown["ticket"]["tags"]
        tags.extend(t for t in ticket.get("additional_tags", ()) if t not in tags)
        return 200, {"Content-Type": "application/json"}, json.dumps(load_zendesk("ticket_update_response.json"))


@pytest.fixture
def zendesk_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1:(?!8765|8766)"))
        yield mock


def test_zendesk_one_answer_after_a_crash_between_update_and_commit(database_url: str, zendesk_api: responses.RequestsMock) -> None:
    ticket = FakeZendeskTicket(zendesk_api)
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK, **FAST)))
    try:
        row = crash_then_recover(hub, enqueue_answer(hub, "zendesk", "zendesk:1"))
        assert [c["public"] for c in ticket.comments] == [True]  # one public answer
        assert row.status == "done" and row.attempts == 2 and row.result is not None
        assert "hub_answered" in ticket.shown["ticket"]["tags"]
    finally:
        hub.close()


# -- Jira --------------------------------------------------------------------------------------------

JR = "http://127.0.0.1:8766"
JIRA = {"JIRA_URL": JR, "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": "tok", "JIRA_WEBHOOK_SECRET": "s"}


class FakeJiraIssue:
    """Issue SUP-1: comments keep the properties they were created with; labels are added by PUT."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.comments: list[dict[str, Any]] = []
        self.labels: list[str] = []
        api.get(f"{JR}/rest/api/2/myself", json=load_jira("myself.json"))
        api.add_callback("POST", f"{JR}/rest/api/2/issue/SUP-1/comment", callback=self.add_comment)
        api.add_callback("GET", f"{JR}/rest/api/2/issue/SUP-1/comment", callback=self.list_comments)
        api.add_callback("GET", re.compile(rf"{JR}/rest/api/2/comment/\d+/properties/hub_key"), callback=self.property)
        api.add_callback("PUT", f"{JR}/rest/api/2/issue/SUP-1", callback=self.label)

    def add_comment(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        comment = {"id": str(10000 + len(self.comments)), "author": load_jira("myself.json"), "body": body["body"],
                   "properties": body.get("properties", [])}
        self.comments.append(comment)
        return 201, {"Content-Type": "application/json"}, json.dumps({k: v for k, v in comment.items() if k != "properties"})

    def list_comments(self, request: Any) -> tuple[int, dict[str, str], str]:
        shown = [{k: v for k, v in c.items() if k != "properties"} for c in self.comments]
        page = {"startAt": 0, "maxResults": 100, "total": len(shown), "comments": shown}
        return 200, {"Content-Type": "application/json"}, json.dumps(page)

    def property(self, request: Any) -> tuple[int, dict[str, str], str]:
        comment_id = request.url.split("/comment/")[1].split("/")[0]
        for c in self.comments:
            for p in c["properties"]:
                if c["id"] == comment_id and p["key"] == "hub_key":
                    return 200, {"Content-Type": "application/json"}, json.dumps(p)
        return 404, {"Content-Type": "application/json"}, json.dumps({"errorMessages": ["The property was not found"]})

    def label(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.labels.extend(op["add"] for op in json.loads(request.body)["update"]["labels"])
        return 204, {}, ""


def test_jira_one_answer_after_a_crash_between_comment_and_commit(database_url: str, zendesk_api: responses.RequestsMock) -> None:
    issue = FakeJiraIssue(zendesk_api)
    hub = build_hub(load_settings(settings_dict(database_url, **JIRA, **FAST)))
    try:
        row = crash_then_recover(hub, enqueue_answer(hub, "jira", "jira:SUP-1"))
        assert len(issue.comments) == 1  # one public answer, found by its property on the retry
        assert issue.comments[0]["properties"] == [{"key": "hub_key", "value": {"key": "answer:jira:SUP-1"}}]
        assert (row.status, row.attempts, row.result["external_id"]) == ("done", 2, "10000")  # type: ignore[index]
        assert issue.labels == ["hub_answered"]  # after the comment, once
    finally:
        hub.close()
