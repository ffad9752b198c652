"""Jira is as strict as the others (issue 11 item 2): keys checked before any URL, a secret required unless
the admin opts out, and neither old nor already-seen deliveries stored again. Through the real app; Jira is a
`responses` mock that fails the test if the hub calls it."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Iterator

import pytest
import responses

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.jira import JiraConnector, events
from core.errors import Fatal
from core.models import Source, TicketRef
from tests.conftest import settings_dict
from tests.test_jira_connector import API, JIRA, inbox_rows
from tests.test_jira_mapping import fresh_body, load

NOW_MS = int(time.time() * 1000)
INJECTION = {"webhookEvent": "jira:issue_created", "timestamp": NOW_MS, "issue": {"key": "../../../../internal/admin?x="}}


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    """Jira's API; no route is registered, so any call the hub makes fails loudly and is recorded."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def serve(database_url: str, **overrides: Any) -> tuple[Hub, Any]:
    hub = build_hub(load_settings(settings_dict(database_url, **{**JIRA, **overrides})))
    return hub, create_app(hub=hub).test_client()


def post(client: Any, body: bytes, secret: str | None = "s3cret", **headers: str) -> Any:
    signed = {"X-Hub-Signature": events.sign(secret, body)} if secret else {}
    return client.post("/webhooks/jira", data=body, headers={"Content-Type": "application/json", **signed, **headers})


def test_a_path_in_an_issue_key_is_refused_and_nothing_reaches_jira(sqlite_url: str, api: responses.RequestsMock) -> None:
    hub, client = serve(sqlite_url)
    try:
        response = post(client, json.dumps(INJECTION).encode())
        assert response.status_code == 400 and "issue.key" in response.get_json()["error"]
        comment = json.loads(fresh_body("webhook_comment_created.json"))
        comment.pop("issue")
        comment["comment"]["self"] = "https://x.atlassian.net/rest/api/2/issue/..%2F..%2Fadmin/comment/1"
        response = post(client, json.dumps(comment).encode())
        assert response.status_code == 400 and "comment.self" in response.get_json()["error"]
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert inbox_rows(hub) == [] and len(api.calls) == 0
    finally:
        hub.close()


@pytest.mark.parametrize("key", ["../admin", "SUP-1/../../admin", "sup-1", "SUP-01", "SUP-1\n", "SUP-1?x=", "SUP-1#x", "1e3"])
def test_connector_writes_refuse_a_ref_that_is_not_an_issue_key(api: responses.RequestsMock, key: str) -> None:
    jira = JiraConnector(load_settings(JIRA).jira)  # type: ignore[arg-type]
    ref = TicketRef(Source.JIRA, key)
    for write in (lambda: jira.fetch(ref), lambda: jira.post_reply(ref, "hi", idempotency_key="k"),
                  lambda: jira.add_internal_note(ref, "draft"), lambda: jira.ticket_url(ref)):
        with pytest.raises(Fatal, match="not a Jira issue key"):
            write()
    assert len(api.calls) == 0


def test_issue_keys_and_numeric_ids_are_still_taken(api: responses.RequestsMock) -> None:
    jira = JiraConnector(load_settings(JIRA).jira)  # type: ignore[arg-type]
    for key in ("SUP-12", "MY_PROJ2-9", "10002"):
        api.put(f"{API}/issue/{key}", status=204)
        api.post(f"{API}/issue/{key}/comment", json=load("comment_create_response.json"), status=201)
        jira.add_internal_note(TicketRef(Source.JIRA, key), "draft")
    assert [c.request.url.rsplit("/rest/api/2/", 1)[1] for c in api.calls] == [
        "issue/SUP-12/comment", "issue/SUP-12", "issue/MY_PROJ2-9/comment", "issue/MY_PROJ2-9", "issue/10002/comment", "issue/10002"]


def test_without_a_secret_webhooks_are_refused_unless_the_admin_opts_out(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    body = fresh_body("webhook_issue_created.json")
    caplog.set_level(logging.WARNING, logger="connectors.jira")
    hub, client = serve(sqlite_url, JIRA_WEBHOOK_SECRET=None)
    try:
        assert any("jira.webhook.no-secret" in r.getMessage() for r in caplog.records)
        response = post(client, body, secret=None)
        assert response.status_code == 401 and "JIRA_WEBHOOK_SECRET" in response.get_json()["error"]
        assert inbox_rows(hub) == []
    finally:
        hub.close()
    caplog.clear()
    hub, client = serve(sqlite_url, JIRA_WEBHOOK_SECRET=None, JIRA_ALLOW_UNSIGNED_WEBHOOKS="true")
    try:
        assert any("jira.webhook.unsigned-allowed" in r.getMessage() for r in caplog.records)
        assert post(client, body, secret=None).get_json()["status"] == "accepted"
        assert [r.ticket_ref for r in inbox_rows(hub)] == ["jira:KAN-3"]
    finally:
        hub.close()


def test_with_a_secret_an_unsigned_delivery_is_401_even_with_the_opt_out(sqlite_url: str) -> None:
    hub, client = serve(sqlite_url, JIRA_ALLOW_UNSIGNED_WEBHOOKS="true")
    try:
        assert post(client, fresh_body("webhook_issue_created.json"), secret=None).status_code == 401
        assert inbox_rows(hub) == []
    finally:
        hub.close()


def test_a_replay_with_a_new_identifier_is_a_duplicate_and_old_deliveries_are_refused(database_url: str) -> None:
    hub, client = serve(database_url)
    try:
        body = fresh_body("webhook_issue_created.json")
        assert post(client, body, **{"X-Atlassian-Webhook-Identifier": "wh-1"}).get_json()["status"] == "accepted"
        replay = post(client, body, **{"X-Atlassian-Webhook-Identifier": "wh-2-forged"})
        assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
        spaced = json.dumps(json.loads(body), indent=2).encode()  # the same delivery, re-serialised
        assert post(client, spaced).get_json()["status"] == "duplicate"
        year_old = fresh_body("webhook_issue_created.json", timestamp=NOW_MS - 365 * 86400 * 1000)
        assert post(client, year_old).status_code == 401
        ahead = fresh_body("webhook_issue_created.json", timestamp=NOW_MS + 3600 * 1000)
        assert post(client, ahead).status_code == 401
        [row] = inbox_rows(hub)
        assert row.duplicates == 2 and row.delivery_id == events.event_key(json.loads(body)) == "issue:10033:created"
    finally:
        hub.close()


def test_the_replay_window_is_a_setting(sqlite_url: str) -> None:
    hub, client = serve(sqlite_url, JIRA_WEBHOOK_MAX_AGE_SECONDS="600")
    now_ms = int(time.time() * 1000)  # not NOW_MS: the suite may reach this test minutes after importing it
    try:
        assert post(client, fresh_body("webhook_issue_created.json", timestamp=now_ms - 900 * 1000)).status_code == 401
        assert post(client, fresh_body("webhook_issue_created.json", timestamp=now_ms - 300 * 1000)).status_code == 200
    finally:
        hub.close()


@pytest.mark.parametrize(
    ("change", "path"),
    [({"issue": "x"}, "issue"), ({"issue": {"key": "KAN-3", "fields": "x"}}, "issue.fields"),
     ({"issue": {"key": "KAN-3", "fields": {"labels": 5}}}, "issue.fields.labels"),
     ({"timestamp": 1e20}, "timestamp"), ({"timestamp": "yesterday"}, "timestamp"), ({"timestamp": None}, "timestamp"),
     ({"webhookEvent": 7}, "webhookEvent"), ({"user": []}, "user"),
     ({"issue": {"key": "KAN-3", "fields": {"reporter": {"accountId": {"a": 1}}}}}, "issue.fields.reporter.accountId")],
)
def test_wrong_types_are_400_naming_the_field(sqlite_url: str, change: dict[str, Any], path: str) -> None:
    hub, client = serve(sqlite_url)
    try:
        body = json.loads(fresh_body("webhook_issue_created.json"))
        body.update(change)
        response = post(client, json.dumps(body).encode())
        assert response.status_code == 400
        assert response.get_json()["error"].startswith(f"jira payload: {path}:")
        assert inbox_rows(hub) == []
    finally:
        hub.close()
