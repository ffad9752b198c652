"""The OpenAPI document covers every ``/api/v1`` route, and real responses (successes and errors) match the
schemas it declares for their status."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Iterator

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
    call("post", "/api/v1/ask", json={"text": "x" * 8001})
    call("post", "/api/v1/ask", data="hello")
    call("post", "/api/v1/feedback", json={"ref": answered["ref"], "solved": True})
    call("post", "/api/v1/feedback", json={"ref": escalated["ref"], "solved": True})
    call("post", "/api/v1/feedback", json={"ref": "web:nope", "solved": True})
    call("post", "/api/v1/feedback", json={"ref": answered["ref"]})
    call("post", "/api/v1/feedback", data="x")
    call("get", "/api/v1/suggest?q=reset&k=2")
    call("get", "/api/v1/suggest?q=reset&k=99")
    call("get", "/api/v1/suggest?q=" + "z" * 8001)
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
