"""What a vendor may answer a write with that names what it made by no id: a created ticket's id of 10,000
characters (it no longer fit the follow-up writes' keys and ``tickets.escalated_to``: PostgreSQL refused the row
that records the write, at every retry, and SQLite kept the junk), a number out of range, none, an object; a
posted comment's id or message ``ts`` of the same kinds (kept as junk in the outbox row's result). The write is
made once and its row fails once, saying that it was made. Re-queued (``hub retry``), the row asks the vendor for
the write before making it again: found under a good id, it is done; under the same bad one, it fails again. A
retry whose look-up lists a comment of the hub's under no id (Jira: its key can only be asked by its id) fails the
same way, saying the write may have been made, and never posts a second copy.

Zendesk and Jira are faked at the transport with stateful `responses` callbacks, Slack by the loopback stub."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from sqlalchemy import select

from app import Hub, build_hub, create_app
from config import load_settings
from core import outbox, work
from core.db import OutboxAction, OutcomeRow
from tests.conftest import settings_dict
from tests.slack_stub import SlackStub
from tests.test_crash_recovery import JIRA, JR, ZD, ZENDESK, FakeJiraIssue, enqueue_answer, zendesk_api  # noqa: F401 (a fixture)
from tests.test_jira_mapping import load as load_jira
from tests.test_jsm_escalate_once import perform_due
from tests.test_slack_flow import CHANNEL, CREATED, ROOT_TS, ask, make_hub

BAD_IDS = {"10000-characters": ("1" * 10_000, "a text of 10000 characters"), "empty": ("", "empty"),
           "missing": (None, "missing"), "a-number-out-of-range": (10**30, "a number out of range"),
           "an-object": ({"id": 4014}, "an object")}


def made_but(source: str, kind: str, said: str) -> str:
    return f"UnreadableRecord: {source} {kind} just made is not of the documented shape: ValueError: the write was made, but its id is {said}"


def outbox_rows(hub: Hub) -> list[tuple[str, str, int, str | None]]:
    with hub.db.session() as s:
        return [(r.action, r.status, r.attempts, r.last_error) for r in s.scalars(select(OutboxAction).order_by(OutboxAction.id))]


def retry(hub: Hub, row_id: int) -> None:
    """What ``hub retry`` does to a failed row, then the worker that takes it."""
    outbox.schedule(hub.jobs, work.requeue(hub.db, OutboxAction, [row_id]))
    hub.jobs.drain()  # type: ignore[attr-defined]


class ZendeskDesk:
    """Zendesk's ticket creation and its look-up by ``external_id``, both naming the ticket by ``said``."""

    def __init__(self, api: responses.RequestsMock, said: Any) -> None:
        self.said, self.created = said, list[dict[str, Any]]()
        api.add_callback("POST", f"{ZD}/api/v2/tickets.json", callback=self.create)
        api.add_callback("GET", f"{ZD}/api/v2/tickets.json", callback=self.listed)

    def create(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.created.append(json.loads(request.body)["ticket"])
        return 201, {"Content-Type": "application/json"}, json.dumps({**CREATED, "ticket": {**CREATED["ticket"], "id": self.said}})

    def listed(self, request: Any) -> tuple[int, dict[str, str], str]:
        tickets = [{**CREATED["ticket"], "id": self.said, "external_id": t["external_id"]} for t in self.created]
        return 200, {"Content-Type": "application/json"}, json.dumps({"tickets": tickets, "count": len(tickets)})


@pytest.mark.parametrize("said,described", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_zendesk_ticket_created_under_no_id_fails_its_row_once_and_is_not_created_again(
        database_url: str, zendesk_api: responses.RequestsMock, said: Any, described: str) -> None:
    desk = ZendeskDesk(zendesk_api, said)
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK)))
    try:
        with hub.db.session() as s:
            row_id = outbox.enqueue(s, outbox.NewAction("escalate:slack:T1:C1:1700000000.000100", "zendesk", "create_ticket", {
                "subject": "Refund", "text": "Ada: I was charged twice", "tags": ["slack"], "draft": "Refund it.",
                "requester": {"external_id": "U1", "name": "Ada", "email": "ada@example.com"},
                "origin": {"connector": "zendesk", "ref": "zendesk:1"}, "notice": "A person will follow up:"}))
        assert row_id is not None
        perform_due(hub)
        failed = [("create_ticket", "failed", 1, made_but("zendesk", "ticket", described))]
        assert outbox_rows(hub) == failed, "no draft nor notice for a ticket the hub cannot name"
        retry(hub, row_id)  # asks Zendesk (external_id) first: the ticket it finds is named the same
        assert outbox_rows(hub) == failed and len(desk.created) == 1, "the ticket is opened once"
    finally:
        hub.close()


@pytest.mark.parametrize("said,described", [v for k, v in BAD_IDS.items() if k != "a-number-out-of-range"],
                         ids=[k for k in BAD_IDS if k != "a-number-out-of-range"])
def test_a_slack_answer_posted_under_no_ts_fails_its_row_once_and_a_retry_finds_it(database_url: str, said: Any, described: str) -> None:
    stub = SlackStub().start()
    hub = make_hub(database_url, stub)
    try:
        ask(create_app(hub=hub).test_client(), stub, "I forgot my password, how do I reset it?", ROOT_TS)
        stub.spoil("chat.postMessage", ts=said)
        hub.jobs.drain()  # type: ignore[attr-defined]
        [(action, status, attempts, error)] = outbox_rows(hub)
        assert (action, status, attempts, error) == ("post_reply", "failed", 1, made_but("slack", "message", described))
        with hub.db.session() as s:
            row_id = s.scalars(select(OutboxAction.id)).one()
        retry(hub, row_id)  # the thread (conversations.replies) lists the answer under its own ts
        posted = [m for m in stub.threads[(CHANNEL, ROOT_TS)] if m.get("bot_id")]
        assert len(posted) == 1 and len(stub.calls_to("chat.postMessage")) == 1, "the answer is posted once"
        with hub.db.session() as s:
            row = s.get_one(OutboxAction, row_id)
            assert (row.status, row.result) == ("done", {"external_id": posted[0]["ts"], "url": None})
            assert s.scalars(select(OutcomeRow.kind).where(OutcomeRow.kind == "answer_posted")).all() == ["answer_posted"]
    finally:
        hub.close()
        stub.stop()


class SpoiledAnswers(FakeJiraIssue):
    """Issue SUP-1, whose answer to a comment it made names that comment by ``said``."""

    def __init__(self, api: responses.RequestsMock, said: Any) -> None:
        self.said = said
        super().__init__(api)

    def add_comment(self, request: Any) -> tuple[int, dict[str, str], str]:
        status, headers, body = super().add_comment(request)
        return status, headers, json.dumps({**json.loads(body), "id": self.said})


@pytest.mark.parametrize("said,described", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_jira_answer_posted_under_no_comment_id_fails_its_row_once_and_a_retry_finds_it(
        database_url: str, zendesk_api: responses.RequestsMock, said: Any, described: str) -> None:
    issue = SpoiledAnswers(zendesk_api, said)
    hub = build_hub(load_settings(settings_dict(database_url, **JIRA)))
    try:
        row_id = enqueue_answer(hub, "jira", "jira:SUP-1")
        perform_due(hub, rounds=1)
        assert outbox_rows(hub) == [("post_reply", "failed", 1, made_but("jira", "comment", described))]
        retry(hub, row_id)  # the issue's comments list it under its own id, with the answer's key
        assert len(issue.comments) == 1, "the answer is posted once"
        with hub.db.session() as s:
            row = s.get_one(OutboxAction, row_id)
            assert (row.status, row.result["external_id"]) == ("done", "10000")  # type: ignore[index]
    finally:
        hub.close()


class ListedUnderNoId(FakeJiraIssue):
    """Issue SUP-1 (open, read whole by the retry's look at what people did meanwhile), which makes a comment but
    answers 503 (the answer to the write is lost), and whose comment list names the hub's comments by ``said``."""

    def __init__(self, api: responses.RequestsMock, said: Any) -> None:
        self.said = said
        super().__init__(api)
        issue = load_jira("issue_get.json")
        issue["fields"].update(comment={"comments": []}, status={"name": "Open", "statusCategory": {"key": "new"}})
        api.get(f"{JR}/rest/api/2/issue/SUP-1", json={**issue, "key": "SUP-1"})

    def add_comment(self, request: Any) -> tuple[int, dict[str, str], str]:
        super().add_comment(request)
        return 503, {"Content-Type": "text/html"}, "<html><body>503</body></html>"

    def list_comments(self, request: Any) -> tuple[int, dict[str, str], str]:
        status, headers, body = super().list_comments(request)
        page = json.loads(body)
        return status, headers, json.dumps({**page, "comments": [{**c, "id": self.said} for c in page["comments"]]})


@pytest.mark.parametrize("said,described", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_jira_retry_that_lists_the_hubs_comment_under_no_id_fails_its_row_and_never_posts_twice(
        database_url: str, zendesk_api: responses.RequestsMock, said: Any, described: str) -> None:
    hub = build_hub(load_settings(settings_dict(database_url, **JIRA)))
    issue, row_id = ListedUnderNoId(zendesk_api, said), enqueue_answer(hub, "jira", "jira:SUP-1")
    try:
        perform_due(hub, rounds=1)  # made, but the answer to it is a 503: the row waits
        assert [r[:3] for r in outbox_rows(hub)] == [("post_reply", "pending", 1)] and len(issue.comments) == 1
        perform_due(hub, rounds=3)  # the retry, once due, lists the issue's comments first
        failed = ("post_reply", "failed", 2, "UnreadableRecord: jira comment listed is not of the documented shape: ValueError: "
                  f"the write may have been made (a comment of the hub's is listed), but its id is {described}")
        assert outbox_rows(hub) == [failed] and len(issue.comments) == 1, "the answer is not posted again"
        retry(hub, row_id)  # re-queued, the row asks again, and fails again
        assert outbox_rows(hub)[0][:2] == ("post_reply", "failed") and len(issue.comments) == 1
    finally:
        hub.close()
