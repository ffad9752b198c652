"""Requests no route takes, found attacking a served hub: under ``/api/`` and elsewhere the JSON error says what
was wrong (the path, the method, the Host header) instead of werkzeug's generic text, and a ``Host`` werkzeug
cannot read is a 400 everywhere, ``/admin`` included (it was a 500: the dashboard's error page could not link
its stylesheet)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from app import Hub, build_hub, create_app
from config import load_settings
from tests.conftest import settings_dict

TOKEN = "routing-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html,application/xhtml+xml"}
ID_RANGE = "a decision id is a whole number from 0 to 2147483647"


@pytest.fixture
def hub(sqlite_url: str) -> Iterator[Hub]:
    built = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN, HUB_MAX_BODY_BYTES="2048")))
    yield built
    built.close()


@pytest.fixture
def client(hub: Hub) -> Any:
    return create_app(hub=hub).test_client()


@pytest.mark.parametrize("raw, shown", [("abc", "'abc'"), ("-1", "'-1'"), ("1.5", "'1.5'"), ("1/2", "'1/2'"),
                                        ("%C2%B2", "'²'"), ("x" * 500, repr("x" * 80))])
def test_a_decision_id_that_is_no_number_is_a_json_404_saying_what_an_id_is(client: Any, raw: str, shown: str) -> None:
    for accept in ({}, HTML):  # the API answers JSON whoever asks
        response = client.get(f"/api/v1/decisions/{raw}", headers={**ADMIN, **accept})
        assert response.status_code == 404 and response.content_type == "application/json"
        assert response.get_json() == {"error": f"no decision {shown}: {ID_RANGE}"}
    unauthenticated = client.get(f"/api/v1/decisions/{raw}")  # as /api/v1/decisions/7 is: the token first
    assert unauthenticated.status_code == 401 and "error" in unauthenticated.get_json()


def test_a_decision_id_in_range_keeps_its_own_404(client: Any) -> None:
    assert client.get("/api/v1/decisions/7", headers=ADMIN).get_json() == {"error": "no decision 7"}
    assert client.get("/api/v1/decisions/2147483648", headers=ADMIN).get_json() == {
        "error": "no such id: ids run from 0 to 2147483647"}


@pytest.mark.parametrize("path, error", [
    ("/api/v1/nope", "there is no route /api/v1/nope: /api/v1/openapi.json lists the API's routes"),
    ("/api/v1/stats/", "there is no route /api/v1/stats/: /api/v1/openapi.json lists the API's routes"),
    ("/api/v1/decisions/", "there is no route /api/v1/decisions/: /api/v1/openapi.json lists the API's routes"),
    ("/api", "there is no route /api: GET / lists where things are"),
    ("/nope", "there is no route /nope: GET / lists where things are"),
])
def test_a_path_no_route_takes_is_a_json_404_naming_it(client: Any, path: str, error: str) -> None:
    for accept in ({}, HTML):
        response = client.get(path, headers={**ADMIN, **accept})
        assert response.status_code == 404 and response.get_json() == {"error": error}


def test_a_wrong_method_is_a_json_405_naming_the_methods_the_route_takes(client: Any) -> None:
    response = client.get("/api/v1/ask")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert response.get_json()["error"].startswith("GET is not allowed on /api/v1/ask: it takes ")
    assert "POST" in response.get_json()["error"]
    deleted = client.delete("/webhooks/zendesk")
    assert deleted.status_code == 405 and deleted.get_json()["error"].startswith("DELETE is not allowed on /webhooks/zendesk")
    page = client.put("/admin", headers={**ADMIN, **HTML})  # the dashboard's page says it in the same words
    assert page.status_code == 405 and "PUT is not allowed on /admin: it takes " in page.get_data(as_text=True)


BAD_HOSTS = ["a" * 64, "a..b", "x" * 300 + ".example.com"]  # a label over 63 characters, an empty label: not IDNA


@pytest.mark.parametrize("host", BAD_HOSTS)
@pytest.mark.parametrize("method, path", [("GET", "/admin"), ("GET", "/admin/decisions/1"), ("GET", "/admin/nope"),
                                          ("POST", "/admin/login"), ("GET", "/admin/static/dashboard.css"),
                                          ("GET", "/api/v1/stats"), ("POST", "/webhooks/zendesk"), ("GET", "/")])
def test_a_host_header_werkzeug_cannot_read_is_a_json_400_everywhere(client: Any, host: str, method: str, path: str) -> None:
    for accept in ({}, HTML):
        response = client.open(path, method=method, headers={"Host": host, **ADMIN, **accept})
        assert response.status_code == 400, (path, accept)
        assert response.get_json() == {"error": "the Host header is not a valid host name"}


def test_a_bad_host_with_a_refused_query_or_body_under_admin_is_still_no_500(client: Any) -> None:
    host = {"Host": "a" * 64, **HTML}
    nul = client.get("/admin?x=%00", headers=host)  # refused before routing's error is raised
    assert nul.status_code == 400 and nul.get_json() == {"error": "the query string holds a NUL character (%00)"}
    large = client.post("/admin/login", data=b"x" * 4096, headers=host)  # refused by the WSGI middleware
    assert large.status_code == 413 and large.get_json() == {"error": "the body is larger than 2048 bytes (HUB_MAX_BODY_BYTES)"}
