"""Hostile Zendesk webhook bodies through the real app (issue 11 item 1): unsigned ones are 401 before anything
reads them; signed ones of the wrong shape are 400 naming the field; nothing is stored either way."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Iterator

import pytest

from app import create_app
from connectors.zendesk import verify
from core.models import as_utc, utcnow
from tests.conftest import settings_dict
from tests.test_zendesk_connector import ZENDESK
from tests.test_zendesk_mapping import load
from tests.test_zendesk_webhook import inbox_rows


@pytest.fixture
def app_client(sqlite_url: str) -> Iterator[tuple[Any, Any]]:
    app = create_app(settings_dict(sqlite_url, **ZENDESK))
    yield app.test_client(), app.extensions["hub"]
    app.extensions["hub"].close()


def post_raw(client: Any, body: bytes, signed: bool = True, invocation: str = "inv-1") -> Any:
    ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Invocation-Id": invocation}
    if signed:
        headers.update({verify.SIGNATURE_HEADER: verify.sign("s3cret", ts, body), verify.TIMESTAMP_HEADER: ts})
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def changed(name: str, **changes: Any) -> bytes:
    body = load(name)
    body.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize("body", [b"[1,2]", b"null", b"[" * 100_000, b"\xff"])
def test_unsigned_garbage_is_401(app_client: tuple[Any, Any], body: bytes) -> None:
    client, hub = app_client
    response = post_raw(client, body, signed=False)
    assert response.status_code == 401 and "error" in response.get_json()
    assert inbox_rows(hub) == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (changed("event_comment_added.json", time="garbage"), "time"),
        (changed("event_comment_added.json", time=1e20), "time"),
        (changed("event_comment_added.json", detail="x"), "detail"),
        (changed("event_comment_added.json", detail={"id": "5158", "tags": 5}), "detail.tags"),
        (changed("event_comment_added.json", detail={"id": True}), "detail.id"),
        (changed("event_comment_added.json", event={"comment": {"author": "x"}}), "event.comment.author"),
        (changed("event_comment_added.json", event={"comment": {"is_public": "true"}}), "event.comment.is_public"),
        (changed("event_comment_added.json", id="x" * 300), "id"),
        (changed("trigger_commented.json", ticket_id={"a": 1}), "ticket_id"),
        (changed("trigger_commented.json", comment=["x"]), "comment"),
        (changed("trigger_commented.json", hub=5), "hub"),
        (b'{"type": "something else"}', "type"),
    ],
)
def test_signed_bodies_of_the_wrong_shape_are_400_naming_the_field(app_client: tuple[Any, Any], body: bytes, path: str) -> None:
    client, hub = app_client
    response = post_raw(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"zendesk payload: {path}: ")
    assert inbox_rows(hub) == []


@pytest.mark.parametrize(
    "body",
    [b"[1,2]", b"{}", b'{"hub": "zendesk-trigger/1", "ticket_id": "\\ud800"}', b"[" * 5000 + b"]" * 5000, b'{"a": Infinity}'],
)
def test_signed_non_objects_deep_nesting_and_surrogates_are_400(app_client: tuple[Any, Any], body: bytes) -> None:
    client, hub = app_client
    response = post_raw(client, body)
    assert response.status_code == 400 and response.get_json()["error"].startswith("zendesk ")
    assert inbox_rows(hub) == []


def test_ticket_ids_are_ascii_digits(app_client: tuple[Any, Any]) -> None:
    client, hub = app_client
    assert post_raw(client, changed("trigger_commented.json", ticket_id="\u00b2")).status_code == 400
    assert post_raw(client, changed("trigger_commented.json", ticket_id=5158)).get_json()["status"] == "accepted"
    assert [r.ticket_ref for r in inbox_rows(hub)] == ["zendesk:5158"]


def test_a_long_invocation_header_is_kept_as_a_hash_and_the_key_fits(database_url: str) -> None:
    app = create_app(settings_dict(database_url, **ZENDESK))
    client, hub = app.test_client(), app.extensions["hub"]
    try:
        body = changed("trigger_commented.json", comment_id=None)  # an older trigger body: keyed on the invocation
        assert post_raw(client, body, invocation="i" * 5000).get_json()["status"] == "accepted"
        assert post_raw(client, body, invocation="i" * 5000).get_json()["status"] == "duplicate"
        [row] = inbox_rows(hub)
        assert len(row.delivery_id) <= 255 and row.delivery_id.startswith("ticket:5158:invocation:header:")
        assert row.event["data"]["delivery"].startswith("header:") and len(row.event["data"]["delivery"]) < 64
    finally:
        hub.close()


@pytest.mark.parametrize("sent", ["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"])
def test_a_stored_event_is_due_from_its_arrival_not_from_the_time_in_its_body(app_client: tuple[Any, Any], sent: str) -> None:
    # Found attacking a served hub: the body's "time" became the inbox row's arrival, so a year-9999 event was
    # acknowledged and parked until then, and a 1970 one failed on its first vendor error (past the horizon).
    client, hub = app_client
    before = utcnow()
    response = post_raw(client, changed("event_ticket_created.json", time=sent))
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    [row] = inbox_rows(hub)
    assert row.event["received_at"].startswith(sent[:4])  # the event keeps the vendor's time
    for stored in (row.received_at, row.next_attempt_at):
        assert abs(as_utc(stored) - before) < timedelta(minutes=1)
