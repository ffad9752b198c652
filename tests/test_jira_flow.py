"""Jira/JSM end to end through the real app, the pipeline and the outbox: a request the hub must not answer
(a refund) is let through with a JSM internal comment holding the draft, and labelled for agents.

Jira is mocked at the transport with `responses` (the jira client speaks requests).
"""

from __future__ import annotations

import json

import responses
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.jira import events
from core.db import DecisionRow, OutcomeRow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.test_jira_connector import API, JIRA, inbox_rows
from tests.test_jira_mapping import fresh_body, load
from tests.test_slack_flow import ARTICLES


def test_a_refund_request_gets_an_internal_draft_and_no_public_answer(sqlite_url: str) -> None:
    hub = build_hub(load_settings(settings_dict(sqlite_url, **JIRA)))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    client = create_app(hub=hub).test_client()
    issue = load("issue_get.json")
    issue.update(key="KAN-3")
    issue["fields"].update(summary="Refund please", description="I was charged twice, please refund me", comment={"comments": []})
    body = fresh_body("webhook_issue_created.json")
    headers = {"X-Hub-Signature": events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": "wh-9", "Content-Type": "application/json"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        api.get(f"{API}/issue/KAN-3", json=issue)
        api.put(f"{API}/issue/KAN-3", status=204)
        api.post(f"{API}/issue/KAN-3/comment", json=load("comment_create_response.json"), status=201)
        assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        writes = [(c.request.method, json.loads(c.request.body)) for c in api.calls if c.request.method in ("PUT", "POST")]

    method, comment = writes[0]  # the internal note first, then the label (connectors/jira/connector.py)
    assert method == "POST" and comment["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
    assert writes[1] == ("PUT", {"update": {"labels": [{"add": "hub_escalated"}]}})
    assert "sensitive topic (refund)" in comment["body"]
    assert len(writes) == 2, "no public comment"
    assert [r.status for r in inbox_rows(hub)] == ["done"]
    with hub.db.session() as s:
        [decision] = s.scalars(select(DecisionRow)).all()
        assert decision.verdict == "escalate" and decision.reasons[0] == "sensitive_topic:refund"
        assert [o.kind for o in s.scalars(select(OutcomeRow))] == ["escalated"]
    hub.close()
