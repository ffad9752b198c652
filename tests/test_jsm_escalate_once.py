"""One JSM request per escalation, even when Jira fails the labelling that follows the request's creation.

With ``JIRA_SERVICE_DESK_ID``/``JIRA_REQUEST_TYPE_ID`` the hub opens a ticket of record with
``POST /rest/servicedeskapi/request`` and labels it (``hub_created``, the write's key label) in a second call:
the JSM request API sets no labels. The key label is what a retry looks for (``created_ticket``, by JQL), so a
retry after a failed label call found nothing and opened a second request. Jira is faked at the transport
(stateful ``responses`` callbacks: requests, labels, and a JQL search over the labels).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import select

from app import build_hub
from config import load_settings
from core import outbox, work
from core.db import OutboxAction
from core.models import utcnow
from tests.conftest import settings_dict

JR = "http://127.0.0.1:8766"
JSM = {"JIRA_URL": JR, "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": "tok", "JIRA_WEBHOOK_SECRET": "s",
       "JIRA_SERVICE_DESK_ID": "4", "JIRA_REQUEST_TYPE_ID": "25", "HUB_ESCALATION_TARGET": "jira"}
KEY = "escalate:slack:T1:C1:1700000000.000100"


class FakeServiceDesk:
    """Service desk 4 of project SUP: requests become issues SUP-43, SUP-44, ...; labels are added by PUT, the
    first ``label_failures`` PUTs answer 503; JQL ``labels = "x"`` finds the issues carrying label x."""

    def __init__(self, api: responses.RequestsMock, label_failures: int) -> None:
        self.requests: list[dict[str, Any]] = []
        self.labels: dict[str, list[str]] = {}
        self.label_failures = label_failures
        api.get(f"{JR}/rest/servicedeskapi/servicedesk/4",
                json={"id": "4", "projectId": "10002", "projectName": "Support", "projectKey": "SUP",
                      "_links": {"self": f"{JR}/rest/servicedeskapi/servicedesk/4"}})
        api.add_callback("POST", f"{JR}/rest/servicedeskapi/request", callback=self.create)
        api.add_callback("PUT", re.compile(rf"{JR}/rest/api/2/issue/SUP-\d+"), callback=self.label)
        api.add_callback("GET", re.compile(rf"{JR}/rest/api/2/search/jql.*"), callback=self.search)

    def create(self, request: Any) -> tuple[int, dict[str, str], str]:
        key = f"SUP-{43 + len(self.requests)}"
        self.requests.append(json.loads(request.body))
        self.labels[key] = []
        body = {"issueId": str(10107 + len(self.requests)), "issueKey": key, "requestTypeId": "25", "serviceDeskId": "4",
                "requestFieldValues": [], "_links": {"web": f"{JR}/servicedesk/customer/portal/4/{key}"}}
        return 201, {"Content-Type": "application/json"}, json.dumps(body)

    def label(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.label_failures > 0:
            self.label_failures -= 1
            return 503, {"Content-Type": "application/json"}, json.dumps({"errorMessages": ["Service Unavailable"]})
        key = request.url.rsplit("/", 1)[-1]
        self.labels[key].extend(op["add"] for op in json.loads(request.body)["update"]["labels"])
        return 204, {}, ""

    def search(self, request: Any) -> tuple[int, dict[str, str], str]:
        wanted = re.search(r'labels = "([^"]+)"', request.params["jql"])
        found = [{"id": "1", "key": key, "fields": {"labels": labels}} for key, labels in self.labels.items()
                 if wanted and wanted.group(1) in labels]
        return 200, {"Content-Type": "application/json"}, json.dumps({"issues": found, "isLast": True})


@pytest.fixture
def jira_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1:(?!8766)"))
        yield mock


def perform_due(hub: Any, rounds: int = 6) -> None:
    """Perform every due outbox row, moving the clock past each backoff (as the sweeper would, later)."""
    now = utcnow()
    for _ in range(rounds):
        now += timedelta(minutes=6)
        for row_id in work.due_ids(hub.db, OutboxAction, now):
            outbox.perform(hub.db, hub.jobs, row_id, hub.performers, now)


def test_a_failed_label_after_the_request_was_created_does_not_open_a_second_request(
    database_url: str, jira_api: responses.RequestsMock
) -> None:
    desk = FakeServiceDesk(jira_api, label_failures=1)
    hub = build_hub(load_settings(settings_dict(database_url, **JSM)))
    try:
        with hub.db.session() as s:
            row_id = outbox.enqueue(s, outbox.NewAction(KEY, "jira", "create_ticket", {
                "subject": "Printer on fire", "text": "alice: it burns",
                "requester": {"external_id": "U1", "name": "Alice", "email": "alice@example.com"},
                "tags": ["slack"], "draft": "Check the toner.", "origin": {"connector": "jira", "ref": "jira:SUP-1"},
                "notice": "A person will follow up:"}, "slack:T1:C1:1700000000.000100"))
        assert row_id is not None
        perform_due(hub)
        with hub.db.session() as s:
            create = s.get_one(OutboxAction, row_id)
            status, result = create.status, dict(create.result or {})
            keys = set(s.scalars(select(OutboxAction.idempotency_key)))
    finally:
        hub.close()
    assert len(desk.requests) == 1  # one ticket of record, not one per attempt
    assert (status, result["ref"]) == ("done", "jira:SUP-43")
    # The labels still reach the request (they are what marks it as the hub's and as this write's).
    from connectors.jira.connector import key_label

    assert {"hub_created", "slack", key_label(KEY)} <= set(desk.labels["SUP-43"])
    assert "draft:jira:SUP-43" in keys
