"""Property: no body and no headers make a webhook route answer 5xx; every 4xx is JSON ``{"error": ...}``
(issue 11 item 1).

Bodies are the real fixtures' shapes, mutated (types swapped, fields dropped, values replaced by deep nesting,
lone surrogates, huge numbers, path fragments), sent signed (so they reach the parser) and unsigned, plus raw
bytes. A fixed seed (``derandomize``) keeps ``make test`` repeatable; ``HUB_FUZZ_EXAMPLES=5000`` runs a larger
search. Processing is replaced by a no-op: the property is about the door, not the job runner.
"""

from __future__ import annotations

import copy
import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.jira import events as jira_events
from connectors.zendesk import verify as zendesk_verify
from core import inbox
from core.db import InboxEvent
from core.models import utcnow
from tests.conftest import _postgres_schema, settings_dict
from tests.slack_stub import BOT_TOKEN, SIGNING_SECRET
from tests.slack_stub import sign as slack_sign

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "100"))  # per route and database
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECRETS = {"ZENDESK_WEBHOOK_SECRET": "s3cret", "JIRA_WEBHOOK_SECRET": "s3cret"}
CONNECTORS = {
    "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": "http://127.0.0.1:9/api/",
    "ZENDESK_URL": "http://127.0.0.1:9", "ZENDESK_EMAIL": "hub@example.com", "ZENDESK_API_TOKEN": "tok",
    "JIRA_URL": "http://127.0.0.1:9", "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": "tok", **SECRETS,
}


def fixtures(vendor: str, prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / vendor).glob("*.json")) if p.name.startswith(prefixes)]


SLACK = fixtures("slack", ("event_", "url_verification", "app_rate", "block_actions"))
ZENDESK = fixtures("zendesk", ("event_", "trigger_"))
JIRA = fixtures("jira", ("webhook_",))


def _status_change(created: dict[str, Any]) -> dict[str, Any]:
    """An issue the hub opened changing status (``jira:issue_updated``), made from an ``issue_created`` capture."""
    body = copy.deepcopy(created)
    body["webhookEvent"] = "jira:issue_updated"
    body["issue"]["fields"]["labels"] = ["hub_created"]
    body["changelog"] = {"id": "10050", "items": [{"field": "status", "toString": "Done"}]}
    return body


JIRA.append(_status_change(next(b for b in JIRA if b["webhookEvent"] == "jira:issue_created")))

# -- values and mutations ------------------------------------------------------------------------------------

NASTY = st.sampled_from([
    "\ud800", "a\udfffb", 1e20, -1e308, 10**30, -(2**63), 0, True, None, "", " ", "../../../../internal/admin?x=",
    "SUP-1/../x", "\u00b2", "x" * 5000, "1719209506.817929", "garbage", "2025-01-08T14:25:30Z", "9999-12-31T23:59:59Z",
    "zen:ticket:5158", "<@U123>", "a\u0000b", "a" * 290 + "@example.com", "C" * 300, "9" * 128, "C" * 64, [], {}, [[[[[[[[]]]]]]]], {"a": {"b": {"c": None}}},
])
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
VALUES = NASTY | NASTY | st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


DEEP_MARK = "\u0000deep\u0000"


def deep(levels: int) -> Any:
    value: Any = "x"
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:5]):
            found += paths(inner, prefix + (index,))
    return found


def mutate(data: st.DataObject, body: Any) -> Any:
    """Apply one to three mutations at paths of ``body``: replace, drop, or wrap in deep nesting."""
    body = copy.deepcopy(body)
    for _ in range(data.draw(st.integers(1, 3))):
        where = paths(body)
        if not where:
            return copy.deepcopy(data.draw(VALUES))
        path = data.draw(st.sampled_from(where))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        kind = data.draw(st.sampled_from(["replace", "replace", "drop", "deep", "stringify"]))
        if kind == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == "deep":
            levels = data.draw(st.sampled_from([10, 70, 500, 5000]))
            parent[path[-1]] = deep(levels) if levels < 1000 else DEEP_MARK  # too deep for json.dumps itself
        elif kind == "stringify":
            parent[path[-1]] = json.dumps(parent[path[-1]])
        else:
            parent[path[-1]] = copy.deepcopy(data.draw(VALUES))  # NASTY holds mutable samples
    return body


def encoded(data: st.DataObject, body: Any) -> bytes:
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(st.binary(max_size=200) | st.sampled_from([b"[" * 100_000, b"", b"null", b'{"a": NaN}', b"\xff\xfe{}", b"payload={}&x=\x00"]))
    return json.dumps(body).encode().replace(json.dumps(DEEP_MARK).encode(), b"[" * 5000 + b"]" * 5000)


def header_text() -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)


# -- the app -------------------------------------------------------------------------------------------------


def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for a module: SQLite, or a private PostgreSQL schema (what one stores, the other
    may refuse: PostgreSQL text holds no NUL, its keys are 255 characters at most)."""
    import migrations

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'hub.db'}"
        migrations.upgrade(url)
        yield url
    else:
        yield from _postgres_schema()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Any]]:
    for url in database(request, tmp_path_factory):
        hub = build_hub(load_settings(settings_dict(url, **CONNECTORS)))
        hub.handlers["inbox"] = partial(inbox.process, hub.db, handler=lambda event, row_id: None, max_attempts=1)
        yield hub, create_app(hub=hub).test_client()
        hub.close()


def check(response: Any) -> None:
    assert response.status_code < 500, response.get_data()[:300]
    if response.status_code >= 400:
        body = response.get_json(silent=True)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], response.get_data()[:300]


def slack_request(data: st.DataObject, raw: bytes) -> tuple[bytes, dict[str, str]]:
    form = data.draw(st.booleans())
    if form:
        from urllib.parse import urlencode

        raw = urlencode({"payload": raw.decode("utf-8", "replace")}).encode()
    return raw, {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json"}


def signers() -> dict[str, Callable[[bytes], dict[str, str]]]:
    def zendesk(body: bytes) -> dict[str, str]:
        ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        return {zendesk_verify.SIGNATURE_HEADER: zendesk_verify.sign("s3cret", ts, body), zendesk_verify.TIMESTAMP_HEADER: ts}

    return {"slack": slack_sign, "zendesk": zendesk, "jira": lambda body: {"X-Hub-Signature": jira_events.sign("s3cret", body)}}


ROUTES = {"slack": ("/slack/events", SLACK), "zendesk": ("/webhooks/zendesk", ZENDESK), "jira": ("/webhooks/jira", JIRA)}


@pytest.mark.parametrize("vendor", sorted(ROUTES))
def test_no_webhook_body_gives_a_5xx(served: tuple[Hub, Any], vendor: str) -> None:
    hub, client = served
    route, samples = ROUTES[vendor]
    sign = signers()[vendor]
    statuses: list[int] = []

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        body = copy.deepcopy(data.draw(st.sampled_from(samples)))
        if vendor == "jira":
            body["timestamp"] = int(time.time() * 1000)  # inside the replay window, so the parser is reached
        raw = encoded(data, mutate(data, body) if data.draw(st.integers(0, 5)) else body)
        headers: dict[str, str] = {"Content-Type": "application/json"}
        if vendor == "slack":
            raw, headers = slack_request(data, raw)
        signing = data.draw(st.sampled_from(["signed", "signed", "signed", "unsigned", "forged"]))
        if signing == "signed":
            headers.update(sign(raw))
        elif signing == "forged":
            headers.update({k: data.draw(header_text()) for k in sign(raw)})
        response = client.post(route, data=raw, headers=headers)
        check(response)
        statuses.append(response.status_code)

    run()
    hub.jobs.drain()  # type: ignore[attr-defined]
    # The search reached every stage: refused at the signature, refused by the parser, and stored.
    assert {200, 400, 401} <= set(statuses), sorted(set(statuses))
    with hub.db.session() as s:  # what PostgreSQL would refuse, SQLite stores: the keys fit their columns
        keys = s.execute(select(InboxEvent.delivery_id, InboxEvent.ticket_ref)).all()
    assert all(len(delivery) <= 255 and len(ref) <= 255 for delivery, ref in keys)


def test_a_status_change_named_by_two_long_ids_is_stored_once_not_a_500(served: tuple[Hub, Any]) -> None:
    """Found by a live attack: a signed ``jira:issue_updated`` on an issue the hub opened, whose issue id and
    changelog id are each 128 characters (the most an id may be), made an inbox key of 270 characters:
    PostgreSQL answered 500, SQLite stored a key longer than its column."""
    hub, client = served
    body = copy.deepcopy(next(b for b in JIRA if b["webhookEvent"] == "jira:issue_updated"))
    body["timestamp"] = int(time.time() * 1000)
    body["issue"].update(id="9" * 128, key="SUP-7")
    body["changelog"]["id"] = "8" * 128
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": jira_events.sign("s3cret", raw)}
    first, again = client.post("/webhooks/jira", data=raw, headers=headers), client.post("/webhooks/jira", data=raw, headers=headers)
    assert (first.status_code, first.get_json()["status"]) == (200, "accepted"), first.get_data()[:300]
    assert (again.get_json()["status"], again.get_json()["id"]) == ("duplicate", first.get_json()["id"])
    with hub.db.session() as s:
        assert len(s.get_one(InboxEvent, first.get_json()["id"]).delivery_id) <= 255
