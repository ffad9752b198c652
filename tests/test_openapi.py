"""The OpenAPI document covers every ``/api/v1`` route, and real responses (successes and errors) match the
schemas it declares for their status."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from openapi_schema_validator import OAS30Validator

from app import Hub, build_hub, create_app
from config import load_settings
from interceptor.engine import Interceptor, LazyInterceptor
from tests.conftest import settings_dict
from tests.test_engine import FakeScorer

TOKEN = "openapi-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_hub(sqlite_url: str) -> Iterator[Hub]:
    built = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN)))
    engine = Interceptor(built.settings, FakeScorer(0.99))
    yield replace(built, interceptor=LazyInterceptor(lambda: engine))
    built.close()


@pytest.fixture
def client(admin_hub: Hub) -> Any:
    return create_app(hub=admin_hub).test_client()


def _spec(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_every_api_route_is_documented(client: Any, admin_hub: Hub) -> None:
    spec = _spec(client)
    app = create_app(hub=admin_hub)
    routes = {(_openapi_path(r.rule), m.lower()) for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")
              for m in r.methods or () if m not in ("HEAD", "OPTIONS")}
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes == documented


def _check(spec: dict[str, Any], path: str, method: str, response: Any) -> None:
    """Validate ``response``'s JSON body against the schema the spec declares for its status."""
    declared = spec["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in declared, f"{method.upper()} {path} answered {status}, which the spec does not declare"
    doc = declared[status]
    if "$ref" in doc:
        doc = spec["components"]["responses"][doc["$ref"].rsplit("/", 1)[1]]
    schema = doc["content"]["application/json"]["schema"]
    validator = OAS30Validator({**schema, "components": spec["components"]}, format_checker=OAS30Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.get_json())]
    assert errors == [], f"{method.upper()} {path} {status}: {errors}"


def test_real_responses_match_the_spec(client: Any) -> None:
    spec = _spec(client)
    seen: set[tuple[str, str, str]] = set()

    def call(method: str, path: str, documented: str | None = None, **kwargs: Any) -> Any:
        response = getattr(client, method)(path, **kwargs)
        documented = documented or path.split("?")[0]
        _check(spec, documented, method, response)
        seen.add((documented, method, str(response.status_code)))
        return response

    answered = call("post", "/api/v1/ask", json={"text": "how do I reset my password?", "email": "ada@example.com"}).get_json()
    escalated = call("post", "/api/v1/ask", json={"text": "I want a refund", "channel": "slack"}).get_json()
    assert answered["draft"] is None and escalated["draft"]
    assert call("post", "/api/v1/ask", json={"text": "reset", "record": False}).get_json()["ref"] is None
    call("post", "/api/v1/ask", json={"text": "hello", "channel": "nowhere"})
    call("post", "/api/v1/ask", json={"text": "x" * 8001})  # 400: a field over its maxLength
    call("post", "/api/v1/ask", json={"text": "x" * 70_000})  # 413: the body over 64 KiB
    call("post", "/api/v1/ask", json={"text": "hello", "chanel": "web"})  # 400: additionalProperties false
    call("post", "/api/v1/ask", data="hello")
    call("post", "/api/v1/feedback", json={"ref": answered["ref"], "solved": True})
    call("post", "/api/v1/feedback", json={"ref": escalated["ref"], "solved": True})
    call("post", "/api/v1/feedback", json={"ref": "web:nope", "solved": True})
    call("post", "/api/v1/feedback", json={"ref": answered["ref"]})
    call("post", "/api/v1/feedback", json={"ref": answered["ref"], "solved": True, "note": "thanks"})
    call("post", "/api/v1/feedback", data="x")
    call("get", "/api/v1/suggest?q=reset&k=2")
    call("get", "/api/v1/suggest?q=reset&k=99")
    assert call("get", "/api/v1/suggest?q=" + "z" * 8001).status_code == 400  # a query parameter: 413 is for bodies
    for path in ("/api/v1/stats", "/api/v1/stats/series", "/api/v1/content-gaps", "/api/v1/decisions"):
        call("get", path, headers=AUTH)
        call("get", path)
        call("get", path + "?limit=0&from=yesterday", headers=AUTH)
    call("get", "/api/v1/openapi.json")
    decisions = call("get", "/api/v1/decisions", headers=AUTH).get_json()["decisions"]
    one = "/api/v1/decisions/{decision_id}"
    call("get", f"/api/v1/decisions/{decisions[0]['id']}", one, headers=AUTH)
    call("get", f"/api/v1/decisions/{decisions[0]['id']}", one)
    call("get", "/api/v1/decisions/999999", one, headers=AUTH)
    call("get", "/api/v1/queues", headers=AUTH)
    call("get", "/api/v1/queues")
    call("post", "/api/v1/queues/retry", json={"queue": None, "ids": None}, headers=AUTH)
    call("post", "/api/v1/queues/retry", json={"queue": "elsewhere"}, headers=AUTH)
    call("post", "/api/v1/queues/retry", json={"queue": "inbox"}, headers=AUTH)  # both queues in `requeued`
    call("post", "/api/v1/queues/retry", data="queue=inbox", headers=AUTH)

    ok = {(path, method) for path, method, status in seen if status == "200"}
    assert ok == {(path, method) for path, ops in spec["paths"].items() for method in ops}  # every operation, once OK
    statuses = {status for _, _, status in seen}
    assert statuses == {"200", "400", "401", "404", "409", "413", "415"}


def test_the_checker_catches_a_body_that_breaks_the_schema(client: Any) -> None:
    spec = _spec(client)

    class Fake:
        status_code = 200

        @staticmethod
        def get_json() -> dict[str, Any]:
            return {"verdict": "maybe", "confidence": 2}

    with pytest.raises(AssertionError, match="maybe"):
        _check(spec, "/api/v1/ask", "post", Fake())


def test_a_405_names_the_methods_the_route_allows(client: Any) -> None:
    """RFC 9110 15.5.6: a 405 carries ``Allow``; the JSON error handler keeps werkzeug's headers."""
    spec = _spec(client)
    for path, ops in spec["paths"].items():
        concrete = path.replace("{decision_id}", "1")
        response = client.open(concrete, method="TRACE", headers=AUTH)
        assert response.status_code == 405 and response.get_json()["error"], path
        allowed = {m.strip().lower() for m in response.headers["Allow"].split(",")}
        assert allowed - {"head", "options"} == set(ops), path
        assert response.mimetype == "application/json"


def test_the_served_channel_enum_is_what_ask_accepts(sqlite_url: str) -> None:
    """The document a hub serves lists its own channels (HUB_CHANNEL_POLICIES included): each is accepted by
    ``/api/v1/ask``, and a channel outside the list is a 400."""
    built = build_hub(load_settings(settings_dict(sqlite_url, HUB_CHANNEL_POLICIES={"C0HELP": {"threshold": 0.5}})))
    engine = Interceptor(built.settings, FakeScorer(0.99))
    client = create_app(hub=replace(built, interceptor=LazyInterceptor(lambda: engine))).test_client()
    try:
        channel = _spec(client)["components"]["schemas"]["AskRequest"]["properties"]["channel"]
        assert channel["enum"] == ["C0HELP", "jira", "slack", "web", "zendesk", "", None]
        for value in channel["enum"]:
            response = client.post("/api/v1/ask", json={"text": "how do I reset my password?", "channel": value, "record": False})
            assert response.status_code == 200, value
        refused = client.post("/api/v1/ask", json={"text": "reset", "channel": "C0OTHER", "record": False})
        assert refused.status_code == 400 and "unknown channel" in refused.get_json()["error"]
    finally:
        built.close()


def test_the_static_document_lists_the_built_in_channels() -> None:
    """Without a hub's settings the file lists the channels every hub accepts (no HUB_CHANNEL_POLICIES)."""
    from surfaces.views import known_channels

    spec = json.loads((Path(__file__).resolve().parent.parent / "surfaces/http/dashboard/openapi.json").read_text(encoding="utf-8"))
    channel = spec["components"]["schemas"]["AskRequest"]["properties"]["channel"]
    assert channel["enum"] == [*known_channels(load_settings(settings_dict("sqlite://"))), "", None]
    assert spec["components"]["schemas"]["AskRequest"]["additionalProperties"] is False


def test_the_patterns_say_what_the_door_refuses(client: Any) -> None:
    """The spec's ``pattern``s compile, and they exclude NUL: the door refuses a NUL in a query string or a body."""
    spec = _spec(client)
    patterns = [v for k, v in _items(spec) if k == "pattern"]
    assert len(patterns) >= 10
    for pattern in patterns:
        assert re.search(pattern, "a\x00b") is None, pattern
    period = next(p for p in spec["paths"]["/api/v1/stats"]["get"]["parameters"] if p["name"] == "from")["schema"]["pattern"]
    for good in ("2026-11-01", "2024-02-29", "2026-11-01T10:00", "2026-11-01T10:00:00.5Z", "2026-11-01T10:00:00+05:30"):
        assert re.fullmatch(period, good) and client.get(f"/api/v1/stats?to={quote(good)}", headers=AUTH).status_code == 200, good
    for bad in ("2026-02-29", "2026-04-31", "2026-13-01", "yesterday", "1969-12-31", "2200-01-01"):
        assert not re.fullmatch(period, bad) and client.get(f"/api/v1/stats?to={bad}", headers=AUTH).status_code == 400, bad
    assert client.get("/api/v1/stats?channel=%00", headers=AUTH).status_code == 400


def _items(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _items(value)
    elif isinstance(node, list):
        for value in node:
            yield from _items(value)


def test_a_body_over_the_limit_is_a_declared_413_on_every_operation(admin_hub: Hub) -> None:
    # Found attacking a served hub: /feedback, /queues/retry and every GET answered such a body 413, which the
    # spec declared only for /ask.
    small = create_app(hub=replace(admin_hub, settings=replace(admin_hub.settings, edge=replace(admin_hub.settings.edge, max_body_bytes=1024))))
    client = small.test_client()
    spec = _spec(client)
    for path, ops in spec["paths"].items():
        for method in ops:
            url = path.replace("{decision_id}", "1")
            response = client.open(url, method=method.upper(), data=b"{" + b" " * 2048 + b"}", content_type="application/json", headers=AUTH)
            assert response.status_code == 413, (method, path)
            _check(spec, path, method, response)


def test_a_content_coded_body_is_a_declared_415_on_every_operation_that_takes_a_body(client: Any) -> None:
    """The door refuses ``Content-Encoding`` (anything but ``identity``) on every route that reads a body; the spec
    declares that 415 wherever it declares a ``requestBody``, and nowhere else is it answered."""
    import gzip

    spec = _spec(client)
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            url = path.replace("{decision_id}", "1")
            response = client.open(url, method=method.upper(), data=gzip.compress(b"{}"), content_type="application/json",
                                   headers={**AUTH, "Content-Encoding": "gzip"})
            assert (response.status_code == 415) == ("requestBody" in op), (method, path, response.status_code)
            _check(spec, path, method, response)
            if "requestBody" in op:
                assert "Content-Encoding" in response.get_json()["error"] and response.headers["Accept-Encoding"] == "identity"
