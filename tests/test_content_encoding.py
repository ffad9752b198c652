"""A content-coded body (``Content-Encoding: gzip``, ``deflate``, ``br``, ...) is a 415 on every route that takes a
body, decided at the door (:func:`surfaces.http.door.install`) before the body is read or its signature checked;
``identity`` and no header change nothing. Nothing is stored for a 415.

Webhook bodies are the fixtures' own, signed over the bytes sent. ``br`` bodies are bytes labelled ``br`` (no
brotli encoder is installed): the door refuses them on the header and never reads them.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
import zlib
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from app import Hub, build_hub, create_app
from config import load_settings
from core.db import InboxEvent, OutcomeRow
from interceptor.engine import Interceptor, LazyInterceptor
from tests.conftest import settings_dict
from tests.slack_stub import fixture as slack_fixture
from tests.test_engine import FakeScorer
from tests.fuzz_bodies import FIXTURES, signers
from tests.test_fuzz_webhooks import CONNECTORS
from tests.test_reply_while_deciding import Later

TOKEN = "encoding-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MESSAGE = "Content-Encoding is not supported: send the body unencoded (no Content-Encoding, or identity)"


def _json(name: str, vendor: str) -> bytes:
    body = json.loads((FIXTURES / vendor / name).read_text())
    if vendor == "jira":
        body["timestamp"] = int(time.time() * 1000)  # inside the replay window
    return json.dumps(body).encode()


def _signed(vendor: str) -> Callable[[bytes], dict[str, str]]:
    return signers()[vendor]


def _none(body: bytes) -> dict[str, str]:
    return {}


FORM = "application/x-www-form-urlencoded"
CLICK = urlencode({"payload": json.dumps(slack_fixture("block_actions_feedback"))}).encode()
# name: (path, content type, plain body, headers from the bytes sent, the status of the plain body, stored rows)
ENDPOINTS: dict[str, tuple[str, str, bytes, Callable[[bytes], dict[str, str]], int, int]] = {
    "ask": ("/api/v1/ask", "application/json", b'{"text": "how do I reset my password?", "record": false}', _none, 200, 0),
    "feedback": ("/api/v1/feedback", "application/json", b'{"ref": "web:nope", "solved": true}', _none, 404, 0),
    "queues-retry": ("/api/v1/queues/retry", "application/json", b'{"queue": null, "ids": null}', lambda b: AUTH, 200, 0),
    "zendesk": ("/webhooks/zendesk", "application/json", _json("event_ticket_created.json", "zendesk"), _signed("zendesk"), 200, 1),
    "jira": ("/webhooks/jira", "application/json", _json("webhook_issue_created.json", "jira"), _signed("jira"), 200, 1),
    "slack-event": ("/slack/events", "application/json", _json("event_message_channel.json", "slack"), _signed("slack"), 200, 1),
    "slack-click": ("/slack/events", FORM, CLICK, _signed("slack"), 200, 1),
    "admin-login": ("/admin/login", FORM, f"token={TOKEN}".encode(), lambda b: {"Accept": "application/json"}, 303, 0),
    "admin-simulate": ("/admin/simulate", FORM, b"text=hello", lambda b: {"Accept": "application/json"}, 401, 0),
    "admin-logout": ("/admin/logout", FORM, b"", lambda b: {"Accept": "application/json"}, 303, 0),
}
ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,  # HTTP's deflate is the zlib format (RFC 9110 8.4.1.2)
    "br": lambda body: b"\x8b\x02\x80" + body + b"\x03",  # labelled br; never read
    "GZIP": gzip.compress,
    "gzip, identity": gzip.compress,
}


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[Hub, Any]]:
    """Every connector and the admin pages; stored events are handed to nobody (their rows stay to be counted)."""
    hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN, **CONNECTORS)))
    engine = Interceptor(hub.settings, FakeScorer(0.99))
    app = create_app(hub=dataclasses.replace(hub, jobs=Later(), interceptor=LazyInterceptor(lambda: engine)))
    yield hub, app.test_client()
    hub.close()


def inbox_rows(hub: Hub) -> int:
    with hub.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def send(client: Any, name: str, coding: str | None, *, signed: bool = True) -> Any:
    path, content_type, plain, headers_for, _, _ = ENDPOINTS[name]
    body = ENCODINGS[coding](plain) if coding in ENCODINGS else plain
    headers = {"Content-Type": content_type, **(headers_for(body) if signed else {})}
    if coding is not None:
        headers["Content-Encoding"] = coding
    return client.post(path, data=body, headers=headers)


@pytest.mark.parametrize("coding", sorted(ENCODINGS))
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_a_content_coded_body_is_415_and_nothing_is_stored(served: tuple[Hub, Any], name: str, coding: str) -> None:
    hub, client = served
    response = send(client, name, coding)
    assert response.status_code == 415, response.get_data()[:200]
    assert response.get_json() == {"error": MESSAGE}
    assert response.headers["Accept-Encoding"] == "identity"  # RFC 9110 15.5.16
    assert inbox_rows(hub) == 0
    with hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutcomeRow)) == 0


@pytest.mark.parametrize("coding", [None, "identity", "IDENTITY", " identity , identity", ""])
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_identity_or_no_content_encoding_changes_nothing(served: tuple[Hub, Any], name: str, coding: str | None) -> None:
    hub, client = served
    _, _, _, _, status, stored = ENDPOINTS[name]
    response = send(client, name, coding)
    assert response.status_code == status, response.get_data()[:200]
    assert inbox_rows(hub) == stored


@pytest.mark.parametrize("name", ["zendesk", "jira", "slack-event", "slack-click"])
def test_the_415_comes_before_the_signature_check_as_the_413_does(served: tuple[Hub, Any], name: str) -> None:
    hub, client = served
    assert send(client, name, None, signed=False).status_code == 401  # unsigned and unencoded: as before
    refused = send(client, name, "gzip", signed=False)
    assert refused.status_code == 415 and refused.get_json() == {"error": MESSAGE}
    assert inbox_rows(hub) == 0


def test_an_admin_form_posted_content_coded_gets_the_dashboards_html_415(served: tuple[Hub, Any]) -> None:
    _, client = served
    page = client.post("/admin/login", data=gzip.compress(b"token=x"), content_type=FORM,
                       headers={"Content-Encoding": "gzip", "Accept": "text/html"})
    assert page.status_code == 415 and page.content_type == "text/html; charset=utf-8"
    assert MESSAGE in page.get_data(as_text=True)


def test_routing_errors_and_bodies_nobody_reads_are_left_alone(served: tuple[Hub, Any]) -> None:
    _, client = served
    coded = {"Content-Encoding": "gzip"}
    assert client.post("/nope", data=gzip.compress(b"{}"), headers=coded).status_code == 404
    assert client.put("/api/v1/ask", data=gzip.compress(b"{}"), headers=coded).status_code == 405
    assert client.get("/api/v1/suggest?q=reset", data=gzip.compress(b"x"), headers=coded).status_code == 200
    assert client.get("/healthz", headers=coded).status_code in (200, 503)
