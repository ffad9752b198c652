"""POST /webhooks/zendesk through the real app, and the polling fallback across a restart."""

from __future__ import annotations

import copy
import json
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.zendesk import poll, scheduled_jobs, verify
from core.cursors import get_cursor
from core.db import InboxEvent
from core.models import utcnow
from tests.conftest import settings_dict
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_mapping import FIXTURES, load


@pytest.fixture
def app_client(sqlite_url: str) -> Iterator[tuple[Any, Any]]:
    app = create_app(settings_dict(sqlite_url, **ZENDESK))
    yield app.test_client(), app.extensions["hub"]
    app.extensions["hub"].close()


def inbox_rows(hub: Any) -> list[InboxEvent]:
    with hub.db.session() as s:
        return list(s.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars())


def post(client: Any, name: str, secret: str = "s3cret", invocation: str = "8350205582", ts: str | None = None,
         comment: str | None = None, at: str | None = None) -> Any:
    """Post fixture ``name`` to the webhook, signed; with ``comment`` as its comment's body and ``at`` as the
    event's time (ISO 8601), if given."""
    body = (FIXTURES / name).read_bytes()
    if comment is not None or at is not None:
        payload = json.loads(body)
        if comment is not None:
            payload["event"]["comment"]["body"] = comment
        if at is not None:
            payload["time"] = at
        body = json.dumps(payload).encode()
    ts = ts or utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {verify.SIGNATURE_HEADER: verify.sign(secret, ts, body), verify.TIMESTAMP_HEADER: ts,
               "X-Zendesk-Webhook-Invocation-Id": invocation, "Content-Type": "application/json"}
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def test_signed_event_is_stored_once(app_client: tuple[Any, Any]) -> None:
    client, hub = app_client
    first = post(client, "event_ticket_created.json")
    again = post(client, "event_ticket_created.json")
    assert first.status_code == 200 and first.get_json()["status"] == "accepted"
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    rows = inbox_rows(hub)
    assert len(rows) == 1 and rows[0].ticket_ref == "zendesk:5158" and rows[0].kind == "created"
    assert rows[0].delivery_id == "ticket:5158:created" and rows[0].duplicates == 1
    assert rows[0].event["data"]["delivery"] == "8350205582"


def test_trigger_body_is_accepted(app_client: tuple[Any, Any]) -> None:
    client, hub = app_client
    assert post(client, "trigger_commented.json").get_json()["status"] == "accepted"
    assert inbox_rows(hub)[0].kind == "commented"


@pytest.mark.parametrize("kwargs", [{"secret": "wrong"}, {"ts": "2020-01-01T00:00:00Z"}])
def test_bad_or_stale_signature_is_401_and_nothing_is_stored(app_client: tuple[Any, Any], kwargs: dict[str, str]) -> None:
    client, hub = app_client
    assert post(client, "event_ticket_created.json", **kwargs).status_code == 401
    assert inbox_rows(hub) == []


def test_ignored_events_store_nothing(app_client: tuple[Any, Any]) -> None:
    client, hub = app_client
    response = post(client, "event_status_changed.json")
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert inbox_rows(hub) == []


def test_malformed_body_is_400(app_client: tuple[Any, Any]) -> None:
    client, hub = app_client
    body, ts = b"not json", utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {verify.SIGNATURE_HEADER: verify.sign("s3cret", ts, body), verify.TIMESTAMP_HEADER: ts}
    assert client.post("/webhooks/zendesk", data=body, headers=headers).status_code == 400
    assert inbox_rows(hub) == []


def test_without_a_secret_webhooks_are_refused_and_polling_is_scheduled_when_asked(sqlite_url: str) -> None:
    settings = {**{k: v for k, v in ZENDESK.items() if k != "ZENDESK_WEBHOOK_SECRET"}, "ZENDESK_POLL": "true"}
    app = create_app(settings_dict(sqlite_url, **settings))
    hub = app.extensions["hub"]
    try:
        assert post(app.test_client(), "event_ticket_created.json").status_code == 401
        assert [name for name, _, _ in scheduled_jobs(hub)] == ["zendesk.poll"]
    finally:
        hub.close()
    with_secret = build_hub(load_settings(settings_dict(sqlite_url, **ZENDESK)))
    assert scheduled_jobs(with_secret) == []
    with_secret.close()


def mock_tickets(api: responses.RequestsMock) -> None:
    api.get(f"{API}/users/me.json", json=load("users_me.json"))
    api.get(f"{API}/users/show_many.json", json=load("users_show_many.json"))
    api.get(f"{API}/tickets/1.json", json=load("ticket_show.json"))
    listed = load("ticket_comments.json")  # the requester's reply (104) written just now, in the poll's window
    listed["comments"][-1]["created_at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    api.get(f"{API}/tickets/1/comments.json", json=listed)
    second = load("ticket_show.json")
    second["ticket"].update(id=2, status="new")
    comments = load("ticket_comments.json")
    comments["comments"] = [copy.deepcopy(comments["comments"][0]) | {"id": 201}]
    api.get(f"{API}/tickets/2.json", json=second)
    api.get(f"{API}/tickets/2/comments.json", json=comments)


def test_polling_resumes_after_a_restart_without_gaps_or_repeats(sqlite_url: str) -> None:
    settings = load_settings(settings_dict(sqlite_url, **ZENDESK, ZENDESK_POLL="true"))
    export = f"{API}/incremental/tickets/cursor.json"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        mock_tickets(api)
        api.get(export, json=load("incremental_tickets_page1.json"))
        api.get(export, json=load("incremental_tickets_page2.json"))
        api.get(export, json=load("incremental_tickets_page2.json"))

        hub = build_hub(settings)
        (_, job, _), = scheduled_jobs(hub)
        assert job() == 1
        assert json.loads(get_cursor(hub.db, poll.CURSOR_NAME) or "{}")["export"] == "CURSOR-A"
        hub.close()

        hub = build_hub(settings)  # a restart
        (_, job, _), = scheduled_jobs(hub)
        assert job() == 1
        assert job() == 0  # the same changes seen again: nothing new
        calls = [c.request.params for c in api.calls if "/incremental/tickets/cursor.json" in c.request.url]
        assert "start_time" in calls[0] and calls[1]["cursor"] == "CURSOR-A" and calls[2]["cursor"] == "CURSOR-B"
        rows = inbox_rows(hub)
        hub.close()
    assert [(r.kind, r.delivery_id) for r in rows] == [("commented", "ticket:1:comment:104"), ("created", "ticket:2:created")]
    assert json.loads(rows[0].raw_body)["ref"] == "zendesk:1"
