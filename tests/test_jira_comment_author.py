"""Who wrote a comment on a request that started in Jira, through the real app: no comment webhook names the
issue's reporter (Cloud's partial ``issue`` leaves it out, Server/DC sends no ``issue``; see the captures in
shared/fixtures/payloads/), so the job reads it (``GET /issue/{id or key}?fields=reporter,creator``) before the
pipeline reads the comment. An agent's public comment is an agent's reply (the agents' response on an escalated
request, never the requester's "that solved it"); the reporter's own comment is the requester's follow-up.

Jira is mocked at the transport with `responses`; webhook bodies are the captures, re-addressed and signed now.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import select, update

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.jira import events
from core.db import InboxEvent, OutcomeRow
from core.models import utcnow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.sync_world import jira_comment_created_signed
from tests.test_jira_connector import API, BASE, JIRA
from tests.test_jira_mapping import fresh_body, load
from tests.test_slack_flow import ARTICLES

KEY, ISSUE_ID = "KAN-3", "10033"  # tests/fixtures/jira/webhook_issue_created.json
REPORTER = load("webhook_issue_created.json")["issue"]["fields"]["reporter"]  # a Jira user ("atlassian"), not a JSM customer
AGENT = {"self": f"{BASE}/rest/api/2/user?accountId=agent-7", "accountId": "agent-7", "displayName": "Grace Hopper",
         "accountType": "atlassian"}
CAPTURES = Path(__file__).parent.parent.parent / "shared/fixtures/payloads"


class Desk:
    """A hub with Jira only, and issue KAN-3 as Jira serves it (``reporter`` reported it)."""

    def __init__(self, hub: Hub, api: responses.RequestsMock) -> None:
        self.hub, self.api, self.client = hub, api, create_app(hub=hub).test_client()

    def serve(self, summary: str, reporter: dict[str, Any]) -> None:
        issue = load("issue_get.json")
        issue.update(key=KEY, id=ISSUE_ID)
        issue["fields"].update(summary=summary, description=summary, reporter=reporter, creator=reporter, labels=[],
                               comment={"comments": [], "total": 0})
        for name in (KEY, ISSUE_ID):  # the REST API takes the issue id wherever it takes the key
            self.api.upsert(responses.GET, f"{API}/issue/{name}", json=issue)

    def post(self, raw: bytes, headers: dict[str, str]) -> None:
        assert self.client.post("/webhooks/jira", data=raw, headers=headers).get_json()["status"] == "accepted"
        self.hub.jobs.drain()  # type: ignore[attr-defined]

    def created(self) -> None:
        raw = fresh_body("webhook_issue_created.json")
        self.post(raw, {"X-Hub-Signature": events.sign("s3cret", raw), "Content-Type": "application/json"})

    def cloud_comment(self, comment_id: str, author: dict[str, Any], text: str) -> None:
        """Jira Cloud's ``comment_created`` (the 2024 capture: a partial issue, no reporter), ``jsdPublic: true``."""
        comment = {"id": comment_id, "author": author, "body": text, "jsdPublic": True}
        self.post(*jira_comment_created_signed(comment, key=KEY, issue_id=ISSUE_ID, base=BASE))

    def server_comment(self, comment_id: str, username: str, text: str) -> None:
        """Jira Server/DC's ``comment_created`` as captured: no ``issue`` (its id is in ``comment.self``), no
        ``jsdPublic``, and an author who carries no ``name``/``key``, only a ``self`` link naming them."""
        body = json.loads((CAPTURES / "jira_server_webhook_comment_created.json").read_text())
        body["timestamp"] = int(time.time() * 1000)
        user = {**body["comment"]["author"], "self": f"{BASE}/rest/api/2/user?username={username}", "displayName": username}
        body["comment"].update(id=comment_id, self=f"{BASE}/rest/api/2/issue/{ISSUE_ID}/comment/{comment_id}", author=user,
                               updateAuthor=user, body=text)
        raw = json.dumps(body).encode()
        self.post(raw, {"X-Hub-Signature": events.sign("s3cret", raw), "Content-Type": "application/json"})

    def outcomes(self) -> list[tuple[str, dict[str, Any]]]:
        with self.hub.db.session() as s:
            return [(o.kind, dict(o.detail or {})) for o in s.scalars(select(OutcomeRow).order_by(OutcomeRow.id))]


@pytest.fixture
def desk(sqlite_url: str) -> Iterator[Desk]:
    hub = build_hub(load_settings(settings_dict(sqlite_url, **JIRA, HUB_CHANNEL_POLICIES={"jira": {"threshold": 0.5}})))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        api.put(f"{API}/issue/{KEY}", status=204)
        api.post(f"{API}/issue/{KEY}/comment", json=load("comment_create_response.json"), status=201)
        yield Desk(hub, api)
    hub.close()


def test_an_agents_that_solved_it_is_not_the_requesters_word_but_the_reporters_is(desk: Desk) -> None:
    desk.serve("I forgot my password, how do I reset it?", REPORTER)
    desk.created()
    assert [kind for kind, _ in desk.outcomes()] == ["answer_posted"]

    desk.cloud_comment("20001", AGENT, "Great, that solved it.")  # an agent on the issue, not its reporter
    assert "solved" not in [kind for kind, _ in desk.outcomes()], "an agent's words are not the requester's verdict"
    assert any(c.request.params.get("fields") == "reporter,creator" for c in desk.api.calls), "the reporter was read"

    desk.cloud_comment("20002", REPORTER, "That solved it, thanks!")  # the reporter: the requester
    [(kind, detail)] = [(k, d) for k, d in desk.outcomes() if k == "solved"]
    assert detail.get("via") == "reply"


def test_a_server_agents_public_reply_counts_as_the_agents_response_and_the_reporters_word_does_not(desk: Desk) -> None:
    ada = {"self": f"{BASE}/rest/api/2/user?username=ada", "name": "ada", "key": "JIRAUSER10300", "displayName": "Ada"}
    desk.serve("I was charged twice and I want a refund", ada)
    desk.created()
    assert [kind for kind, _ in desk.outcomes()] == ["escalated"]
    desk.api.upsert(responses.GET, f"{API}/comment/20001/properties/sd.public.comment", status=404,
                    json={"errorMessages": ["The property with key 'sd.public.comment' does not exist."], "errors": {}})
    desk.api.upsert(responses.GET, f"{API}/comment/20001/properties", json={"keys": []})

    desk.server_comment("20001", "grace", "We refunded the second charge.")
    desk.server_comment("20002", "ada", "I still need help from a person")
    replies = [detail for kind, detail in desk.outcomes() if kind == "agent_reply"]
    assert [r.get("author") for r in replies] == ["grace"], "the agent's public reply, not the reporter's word"
    assert [kind for kind, _ in desk.outcomes()].count("escalated") == 1
    asked = {c.request.url.split("/comment/")[1].split("/")[0] for c in desk.api.calls if "/properties" in c.request.url}
    assert asked == {"20001"}, "the requester's own words are never looked up"


def test_a_server_agents_reply_whose_look_up_failed_is_counted_when_the_retry_can_tell(desk: Desk) -> None:
    # Jira answers 503 to "who sees comment 20001?": nothing is decided, so nothing may be counted yet, and the
    # event waits for its retry rather than leaving the agents' response uncounted for good.
    ada = {"self": f"{BASE}/rest/api/2/user?username=ada", "name": "ada", "key": "JIRAUSER10300", "displayName": "Ada"}
    desk.serve("I was charged twice and I want a refund", ada)
    desk.created()
    desk.api.upsert(responses.GET, f"{API}/comment/20001/properties/sd.public.comment", status=503, json={})
    desk.server_comment("20001", "grace", "We refunded the second charge.")
    assert [kind for kind, _ in desk.outcomes()] == ["escalated"]
    with desk.hub.db.session() as s:
        [event] = [e for e in s.scalars(select(InboxEvent).order_by(InboxEvent.id)) if e.delivery_id.endswith("20001")]
        assert event.status == "pending" and "who sees it" in (event.last_error or "")
        s.execute(update(InboxEvent).where(InboxEvent.id == event.id).values(next_attempt_at=utcnow() - timedelta(seconds=1)))

    desk.api.upsert(responses.GET, f"{API}/comment/20001/properties/sd.public.comment",
                    json={"key": "sd.public.comment", "value": {"internal": False}})
    assert desk.hub.sweep() >= 1
    desk.hub.jobs.drain()  # type: ignore[attr-defined]
    assert [(kind, detail.get("author")) for kind, detail in desk.outcomes()] == [("escalated", None), ("agent_reply", "grace")]


def test_the_reporters_new_question_after_the_answer_goes_to_agents_with_a_draft(desk: Desk) -> None:
    desk.serve("I forgot my password, how do I reset it?", REPORTER)
    desk.created()
    desk.cloud_comment("20003", REPORTER, "Thanks! Also, how do I export a report to CSV?")
    assert [(kind, detail.get("reason")) for kind, detail in desk.outcomes()] == [("answer_posted", None), ("escalated", "new_ask")]
    answer, draft = [json.loads(c.request.body) for c in desk.api.calls
                     if c.request.method == "POST" and c.request.url.endswith(f"/issue/{KEY}/comment")]
    assert "Forgot password" in json.dumps(answer) and "Export reports to CSV" in json.dumps(draft)
    assert draft["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]  # an internal comment
