"""A Jira issue whose description is an Atlassian Document Format body (REST v3 shape) of a shape people make
and Jira sends: a mention whose ``attrs`` is not an object, a table, a numbered list continued from 3, a date,
an expand. Through the real app: the webhook, the job that fetches the issue (Jira faked at the transport by
``responses``), and the ticket row the hub keeps: its text is what a person sees in Jira, and the request is
decided, not failed (found by the second red-team pass)."""

from __future__ import annotations

from typing import Any

import responses
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.jira import events
from core.db import DecisionRow, TicketRow
from tests.conftest import settings_dict
from tests.test_jira_connector import API, JIRA, inbox_rows
from tests.test_jira_mapping import fresh_body, load


def _p(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def _t(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _cells(kind: str, *cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "tableRow", "content": [{"type": kind, "content": c} for c in cells]}


DESCRIPTION = {"type": "doc", "version": 1, "content": [
    _p(_t("Which plan do I need? "), {"type": "mention", "attrs": "557058:f58131cb"}),  # failed the whole issue
    {"type": "table", "content": [_cells("tableHeader", [_p(_t("Plan"))], [_p(_t("Price"))]),
                                  _cells("tableCell", [_p(_t("Pro")), _p(_t("yearly"))], [_p(_t("10"))])]},
    {"type": "orderedList", "attrs": {"order": 3}, "content": [
        {"type": "listItem", "content": [_p(_t("Open Billing"))]}, {"type": "listItem", "content": [_p(_t("Pick a plan"))]}]},
    _p(_t("Needed by "), {"type": "date", "attrs": {"timestamp": "1700000000000"}}),
    {"type": "expand", "attrs": {"title": "Logs"}, "content": [_p(_t("error 42"))]},
]}
TEXT = "Which plan do I need? @\n\nPlan | Price\nPro yearly | 10\n\n3. Open Billing\n4. Pick a plan\n\nNeeded by 2023-11-14\n\nLogs\n\nerror 42"


def test_an_adf_description_reads_as_jira_shows_it_and_the_request_is_decided(sqlite_url: str) -> None:
    hub = build_hub(load_settings(settings_dict(sqlite_url, **JIRA)))
    client = create_app(hub=hub).test_client()
    issue = load("issue_get.json")
    issue.update(key="KAN-3")
    issue["fields"].update(summary="Plans", description=DESCRIPTION, comment={"comments": []})
    body = fresh_body("webhook_issue_created.json")
    headers = {"X-Hub-Signature": events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": "wh-adf",
               "Content-Type": "application/json"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/myself", json=load("myself.json"))
        api.get(f"{API}/issue/KAN-3", json=issue)
        api.put(f"{API}/issue/KAN-3", status=204)
        api.post(f"{API}/issue/KAN-3/comment", json=load("comment_create_response.json"), status=201)
        response = client.post("/webhooks/jira", data=body, headers=headers)
        hub.jobs.drain()  # type: ignore[attr-defined]
    assert (response.status_code, response.get_json()["status"]) == (200, "accepted")
    assert [r.status for r in inbox_rows(hub)] == ["done"]
    with hub.db.session() as s:
        [ticket] = s.scalars(select(TicketRow)).all()
        assert ticket.text == TEXT
        assert len(s.scalars(select(DecisionRow)).all()) == 1
    hub.close()
