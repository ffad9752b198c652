"""Property: no request to the web API, the dashboard, ``/healthz`` or ``/metrics`` gives a 5xx, and every 4xx
a script sees is JSON ``{"error": ...}`` (issue 11 item 1). Bodies start from the documented shapes and are
mutated as in :mod:`tests.fuzz_bodies`; query strings and cookies are arbitrary bytes. A browser
(``Accept: text/html``) may get an HTML page instead; it still never gets a 5xx.
"""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import Hub, build_hub, create_app
from config import load_settings
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.fuzz_bodies import FUZZ, encoded, header_text, mutate
from tests.test_fuzz_webhooks import database
from tests.test_slack_flow import ARTICLES

TOKEN = "fuzz-admin-token"
ASK = {"text": "How do I export a report?", "channel": "web", "email": "ann@example.com"}
FEEDBACK = {"ref": "web:0123456789abcdef0123456789abcdef", "solved": True}
GETS = {
    "/api/v1/suggest": ("q", "k"), "/api/v1/stats": ("from", "to", "channel"), "/api/v1/stats/series": ("from", "to", "channel"),
    "/api/v1/content-gaps": ("from", "to", "limit"), "/api/v1/decisions": ("limit", "channel"), "/api/v1/openapi.json": (),
    "/admin": (), "/healthz": (), "/metrics": (),
}
PARAMS = ["q", "k", "from", "to", "channel", "limit"]
PARAM_VALUES = st.sampled_from([
    b"9999-12-31", b"0001-01-01T00:00:00+14:00", b"\xc2\xb2", b"2026-11-01", b"2026-11-01T00:00:00Z", b"-1", b"0", b"5",
    b"99999999999999999999", b"\xff", b"\xed\xa0\x80", b"", b"web", b"x" * 9000, b"how do I export", b"2026-13-45", b"\x00",
]) | st.binary(max_size=30)
COOKIES = st.sampled_from(["hub_admin=1999999999.\u00e9", "hub_admin=1999999999.", "hub_admin=.", "hub_admin=99999999999999999999999.ab",
                           "hub_admin=%ff", "hub_admin"]) | header_text().map(lambda v: f"hub_admin={v}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Any]]:
    for url in database(request, tmp_path_factory):
        hub = build_hub(load_settings(settings_dict(url, HUB_ADMIN_TOKEN=TOKEN, HUB_RATE_LIMIT="off")))
        import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
        yield hub, create_app(hub=hub).test_client()
        hub.close()


def check(response: Any, browser: bool) -> None:
    assert response.status_code < 500, response.get_data()[:300]
    if response.status_code >= 400 and not browser:
        body = response.get_json(silent=True)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], response.get_data()[:300]


def headers(data: st.DataObject) -> tuple[dict[str, str], bool]:
    sent: dict[str, str] = {}
    auth = data.draw(st.sampled_from(["bearer", "bearer", "bearer", "none", "cookie", "junk"]))
    if auth == "bearer":
        sent["Authorization"] = f"Bearer {TOKEN}"
    elif auth == "cookie":
        sent["Cookie"] = data.draw(COOKIES)
    elif auth == "junk":
        sent["Authorization"] = data.draw(header_text())
    browser = data.draw(st.integers(0, 4)) == 0
    sent["Accept"] = "text/html" if browser else "application/json"
    return sent, browser


def _posts(data: st.DataObject, client: Any) -> None:
    if data.draw(st.integers(0, 5)) == 0:  # the login form
        token = data.draw(PARAM_VALUES | st.sampled_from([TOKEN.encode(), b"\xed\xa0\x80"]))
        sent, browser = headers(data)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
        form = b"token=" + quote_from_bytes(token).encode()
        check(client.post(data.draw(st.sampled_from(["/admin/login", "/admin/logout"])), data=form, headers=sent), browser)
        return
    route, shape = data.draw(st.sampled_from([("/api/v1/ask", ASK), ("/api/v1/feedback", FEEDBACK)]))
    body = encoded(data, mutate(data, shape) if data.draw(st.integers(0, 4)) else shape)
    sent, browser = headers(data)
    sent["Content-Type"] = data.draw(st.sampled_from(["application/json", "application/json", "text/plain", "application/x-www-form-urlencoded"]))
    check(client.post(route, data=body, headers=sent), browser)


def _gets(data: st.DataObject, client: Any) -> None:
    route = data.draw(st.sampled_from(sorted(GETS)))
    names = [name for name in GETS[route] if data.draw(st.integers(0, 3))] + data.draw(st.lists(st.sampled_from(PARAMS), max_size=1))
    if route in ("/admin", "/api/v1/decisions") and data.draw(st.booleans()):  # the one-decision views
        route += "/decisions" if route == "/admin" else ""
        route += f"/{data.draw(st.integers(min_value=0) | st.sampled_from([2**31, 2**63, 10**30]))}"
    query = "&".join(f"{name}={quote_from_bytes(data.draw(PARAM_VALUES))}" for name in names)
    sent, browser = headers(data)
    check(client.get(f"{route}?{query}" if query else route, headers=sent), browser)


def test_no_api_post_gives_a_5xx(served: tuple[Hub, Any]) -> None:
    FUZZ(given(st.data())(lambda data: _posts(data, served[1])))()


def test_no_get_gives_a_5xx(served: tuple[Hub, Any]) -> None:
    FUZZ(given(st.data())(lambda data: _gets(data, served[1])))()


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/api/v1/stats?to=9999-12-31", {}),
        ("get", "/api/v1/stats?from=0001-01-01T00:00:00%2B14:00", {}),
        ("get", "/api/v1/decisions?limit=%C2%B2", {}),
        ("get", "/api/v1/stats?channel=%00", {}),
        ("post", "/api/v1/ask", {"data": b'{"text": "a\\u0000b"}'}),
        ("post", "/api/v1/ask", {"data": b'{"text": "hi", "email": "' + b"a" * 290 + b'@example.com"}'}),
        ("post", "/api/v1/ask", {"data": b'{"text": "\\ud800"}'}),
        ("post", "/api/v1/feedback", {"data": b'{"ref": ' * 5000 + b"1" + b"}" * 5000}),
        ("post", "/api/v1/ask", {"data": b"[" * 10_000}),
    ],
)
def test_the_requests_the_issue_found_are_400s(served: tuple[Hub, Any], method: str, path: str, kwargs: dict[str, Any]) -> None:
    _, client = served
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}, **kwargs)
    assert response.status_code == 400 and response.get_json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/decisions/99999999999999999999999", "/api/v1/decisions/2147483648", "/admin/decisions/2147483648"])
def test_ids_beyond_an_integer_key_are_404_not_500(served: tuple[Hub, Any], path: str) -> None:
    _, client = served
    response = client.get(path, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})
    assert response.status_code == 404 and response.get_json()["error"].startswith("no such id")


@pytest.mark.parametrize("path", ["/admin", "/api/v1/stats", "/api/v1/decisions"])
def test_a_bad_cookie_without_a_token_is_401_not_500(served: tuple[Hub, Any], path: str) -> None:
    _, client = served
    response = client.get(path, headers={"Cookie": "hub_admin=1999999999.\u00e9", "Accept": "application/json"})
    assert response.status_code == 401 and "admin token required" in response.get_json()["error"]


def test_json_error_bodies_for_unknown_routes_and_methods(served: tuple[Hub, Any]) -> None:
    _, client = served
    for response, status in ((client.get("/nope"), 404), (client.delete("/api/v1/ask"), 405)):
        assert response.status_code == status and json.loads(response.get_data())["error"]
        assert response.mimetype == "application/json"
    allow = client.delete("/api/v1/ask").headers["Allow"]  # RFC 9110 15.5.6: werkzeug's header is kept
    assert {m.strip() for m in allow.split(",")} == {"OPTIONS", "POST"}
