"""Every delivery of one vendor event is stored once, whatever delivery id it comes under; two different events
are never merged. Through the real app on SQLite and PostgreSQL.

Zendesk: a replay of a signed body inside the signature window under a new ``X-Zendesk-Webhook-Invocation-Id``
(the header is not signed, so anyone holding one delivery can mint new ones, and Zendesk itself may invoke a
webhook more than once for one action) is a duplicate. Jira: one comment delivered twice with bodies that
differ (the same event from a second registered webhook, a Data Center double fire) is a duplicate.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any, Iterator

import pytest

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.jira import events as jira_events
from connectors.zendesk import verify
from core.models import utcnow
from tests.conftest import settings_dict
from tests.test_jira_connector import JIRA
from tests.test_jira_mapping import load as jira_load
from tests.test_zendesk_connector import ZENDESK
from tests.test_zendesk_mapping import load as zendesk_load
from tests.test_zendesk_webhook import inbox_rows


@pytest.fixture
def hub(database_url: str) -> Iterator[Hub]:
    built = build_hub(load_settings(settings_dict(database_url, **ZENDESK, **JIRA)))
    yield built
    built.close()


@pytest.fixture
def client(hub: Hub) -> Any:
    return create_app(hub=hub).test_client()


# -- Zendesk --------------------------------------------------------------------------------------


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A body and the signature headers Zendesk sends with it (without the invocation id)."""
    raw = json.dumps(body).encode()
    ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    return raw, {verify.SIGNATURE_HEADER: verify.sign("s3cret", ts, raw), verify.TIMESTAMP_HEADER: ts, "Content-Type": "application/json"}


def deliver(client: Any, delivery: tuple[bytes, dict[str, str]], invocation: str) -> str:
    raw, headers = delivery
    response = client.post("/webhooks/zendesk", data=raw, headers={**headers, "X-Zendesk-Webhook-Invocation-Id": invocation})
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["status"])


def comment_added(comment_id: int, event_id: str, text: str = "It still does not work, I need a person") -> dict[str, Any]:
    body = copy.deepcopy(zendesk_load("event_comment_added.json"))
    body["id"] = event_id
    body["event"]["comment"].update(id=comment_id, body=text)
    return body


def trigger_comment(text: str, updated_at: str | None = None, comment_id: str | None = None) -> dict[str, Any]:
    body = copy.deepcopy(zendesk_load("trigger_commented.json"))
    body.update(comment=text, tags="mobile")
    del body["comment_id"]
    if updated_at is not None:
        body["updated_at"] = updated_at
    if comment_id is not None:
        body["comment_id"] = comment_id
    return body


def test_a_trigger_body_naming_its_comment_is_keyed_on_the_comment(hub: Hub, client: Any) -> None:
    first = signed(trigger_comment("still broken", comment_id="9876543210"))
    assert deliver(client, first, "inv-1") == "accepted"
    assert deliver(client, first, "inv-2-replayed") == "duplicate"
    # The same words in a later comment: another comment id, another event.
    assert deliver(client, signed(trigger_comment("still broken", comment_id="9876543211")), "inv-3") == "accepted"
    # The event webhook's view of the first comment (both webhooks on): the same comment.
    assert deliver(client, signed(comment_added(9876543210, "evt-a")), "inv-4") == "duplicate"
    rows = inbox_rows(hub)
    assert [(r.delivery_id, r.duplicates) for r in rows] == [("ticket:5158:comment:9876543210", 2), ("ticket:5158:comment:9876543211", 0)]
    assert [r.event["message"]["external_id"] for r in rows] == ["9876543210", "9876543211"]


def test_a_trigger_body_without_a_comment_id_is_keyed_on_the_ticket_and_its_update(hub: Hub, client: Any) -> None:
    first = signed(trigger_comment("still broken", "2026-01-08T14:25:30Z"))
    assert deliver(client, first, "inv-1") == "accepted"
    assert deliver(client, first, "inv-2-replayed") == "duplicate"
    # The requester writes the same words again in a later update: a second comment.
    assert deliver(client, signed(trigger_comment("still broken", "2026-01-08T15:02:11Z")), "inv-3") == "accepted"
    assert [(r.kind, r.duplicates) for r in inbox_rows(hub)] == [("commented", 1), ("commented", 0)]


def test_a_trigger_body_naming_neither_its_comment_nor_its_update_never_merges_two_comments(hub: Hub, client: Any) -> None:
    # An older or hand-written trigger body: nothing in it tells "still not working" from the requester's
    # next "still not working". Zendesk's retries of one invocation repeat its invocation id; another
    # comment is another invocation.
    legacy = signed(trigger_comment("still not working"))
    assert deliver(client, legacy, "inv-1") == "accepted"
    assert deliver(client, legacy, "inv-1") == "duplicate", "Zendesk retrying the invocation"
    assert deliver(client, signed(trigger_comment("still not working")), "inv-2") == "accepted", "the second comment"
    rows = inbox_rows(hub)
    assert [(r.delivery_id, r.duplicates) for r in rows] == [("ticket:5158:invocation:inv-1", 1), ("ticket:5158:invocation:inv-2", 0)]
    assert [r.event["message"]["text"] for r in rows] == ["still not working", "still not working"]


@pytest.mark.parametrize("body, field", [
    (trigger_comment("still not working"), "comment_id: missing"),  # no invocation id to tell it by either
    (trigger_comment("still not working", comment_id="{{ticket.latest_public_comment_id}}"), "comment_id: Not a comment id"),
])
def test_a_trigger_comment_that_cannot_be_told_apart_is_refused_naming_comment_id(hub: Hub, client: Any, body: dict[str, Any],
                                                                                   field: str) -> None:
    raw, headers = signed(body)
    if "missing" not in field:
        headers = {**headers, "X-Zendesk-Webhook-Invocation-Id": "inv-1"}
    response = client.post("/webhooks/zendesk", data=raw, headers=headers)
    assert response.status_code == 400 and field in response.get_json()["error"]
    assert "{{ticket.latest_public_comment.id}}" in response.get_json()["error"]
    assert inbox_rows(hub) == []


def test_a_ticket_is_created_once_whichever_webhook_says_so(hub: Hub, client: Any) -> None:
    assert deliver(client, signed(zendesk_load("event_ticket_created.json")), "inv-1") == "accepted"
    trigger = {**zendesk_load("trigger_created.json"), "updated_at": "2025-01-08T10:12:07Z"}
    assert deliver(client, signed(trigger), "inv-2") == "duplicate"  # the trigger and the event webhook, both on
    assert [r.kind for r in inbox_rows(hub)] == ["created"]


def test_each_status_change_of_a_ticket_of_record_is_its_own_event(hub: Hub, client: Any) -> None:
    def solved(event_id: str, updated_at: str) -> dict[str, Any]:
        body = copy.deepcopy(zendesk_load("event_status_changed.json"))
        body["id"] = event_id
        body["detail"].update(tags=["hub_created"], updated_at=updated_at)
        body["event"] = {"current": "SOLVED", "previous": "OPEN"}
        return body

    first = signed(solved("evt-solved-1", "2026-01-08T10:00:00Z"))
    assert deliver(client, first, "inv-1") == "accepted"
    assert deliver(client, first, "inv-2-replayed") == "duplicate"
    # Reopened, then solved again: a second solve.
    assert deliver(client, signed(solved("evt-solved-2", "2026-01-09T10:00:00Z")), "inv-3") == "accepted"
    assert [(r.kind, r.duplicates) for r in inbox_rows(hub)] == [("updated", 1), ("updated", 0)]


# -- Jira -----------------------------------------------------------------------------------------


def jira_post(client: Any, body: dict[str, Any], identifier: str) -> str:
    raw = json.dumps(body).encode()
    headers = {"X-Hub-Signature": jira_events.sign("s3cret", raw), "Content-Type": "application/json",
               "X-Atlassian-Webhook-Identifier": identifier}
    response = client.post("/webhooks/jira", data=raw, headers=headers)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["status"])


def jira_comment(comment_id: str, timestamp: int) -> dict[str, Any]:
    body = jira_load("webhook_comment_created.json")
    body["timestamp"] = timestamp
    body["comment"]["id"] = comment_id
    body["comment"]["self"] = f"https://peteririri.atlassian.net/rest/api/2/issue/10002/comment/{comment_id}"
    return body


def test_one_jira_comment_delivered_twice_with_different_bodies_is_stored_once(hub: Hub, client: Any) -> None:
    now = int(time.time() * 1000)
    assert jira_post(client, jira_comment("10003", now), "wh-1") == "accepted"
    # The same comment from a second registered webhook: its own identifier, its body names the webhook and
    # was rendered a moment later.
    again = {**jira_comment("10003", now + 7), "matchedWebhookIds": [2]}
    assert jira_post(client, again, "wh-2") == "duplicate"
    # Another comment on the same issue in the same millisecond is another event.
    assert jira_post(client, jira_comment("10004", now), "wh-3") == "accepted"
    assert [(r.ticket_ref, r.duplicates) for r in inbox_rows(hub)] == [("jira:SB-1", 1), ("jira:SB-1", 0)]


def test_each_jira_status_change_is_its_own_event(hub: Hub, client: Any) -> None:
    def changed(changelog_id: str, timestamp: int) -> dict[str, Any]:
        body = jira_load("webhook_issue_created.json")
        body.update(webhookEvent="jira:issue_updated", issue_event_type_name="issue_generic", timestamp=timestamp)
        body["issue"]["fields"]["labels"] = ["hub_created"]
        body["changelog"] = {"id": changelog_id, "items": [{"field": "status", "fieldtype": "jira", "toString": "Done"}]}
        return body

    now = int(time.time() * 1000)
    assert jira_post(client, changed("20001", now), "wh-1") == "accepted"
    assert jira_post(client, {**changed("20001", now + 3), "matchedWebhookIds": [2]}, "wh-2") == "duplicate"
    assert jira_post(client, changed("20002", now), "wh-3") == "accepted"  # the same millisecond, another change
    assert [(r.kind, r.duplicates) for r in inbox_rows(hub)] == [("updated", 1), ("updated", 0)]

