"""``/admin``: without a token the page saying to set it (401 without a credential, 403 with one), the login form,
the session cookie, security headers, no network."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from app import Hub, build_hub, create_app
from config import load_settings
from conftest import settings_dict
from surfaces.http.dashboard.auth import COOKIE, session_cookie

TOKEN = "dashboard-admin-token"
HTML = {"Accept": "text/html,application/xhtml+xml"}
STATIC = Path(__file__).resolve().parent.parent / "surfaces" / "http" / "dashboard"


@pytest.fixture
def admin(sqlite_url: str) -> Iterator[Any]:
    hub: Hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN)))
    yield create_app(hub=hub).test_client()
    hub.close()


def test_without_a_token_configured_the_dashboard_says_to_set_it(client: Any) -> None:
    # No credential sent: a 401 with the Bearer challenge (RFC 9110 15.5.2), whose message says what to set.
    page = client.get("/admin", headers=HTML)
    assert page.status_code == 401 and "set HUB_ADMIN_TOKEN" in page.get_data(as_text=True)
    assert page.headers["WWW-Authenticate"].startswith("Bearer") and 'type="password"' not in page.get_data(as_text=True)
    api = client.get("/admin/decisions/1", headers={"Accept": "application/json"})
    assert api.status_code == 401 and "set HUB_ADMIN_TOKEN" in api.get_json()["error"]
    assert api.headers["WWW-Authenticate"].startswith("Bearer")
    # A credential sent while the dashboard is off: nothing can accept it, 403.
    refused = client.get("/admin", headers={"Authorization": "Bearer guess", "Accept": "application/json"})
    assert refused.status_code == 403 and "set HUB_ADMIN_TOKEN" in refused.get_json()["error"]
    assert "WWW-Authenticate" not in refused.headers
    client.set_cookie(COOKIE, "1999999999.abc")  # a session cookie from when a token was set
    assert client.get("/admin", headers={"Accept": "application/json"}).status_code == 403
    assert client.post("/admin/login", data={"token": ""}).status_code == 403  # the form offers one, whatever it holds


def test_a_browser_without_a_session_gets_the_login_form(admin: Any) -> None:
    page = admin.get("/admin", headers=HTML)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'type="password"' in body and 'id="tiles"' not in body
    script = admin.get("/admin")  # a script gets a JSON 401 with the challenge
    assert script.status_code == 401 and script.headers["WWW-Authenticate"].startswith("Bearer")
    assert "admin token required" in script.get_json()["error"]


def test_bearer_token_shows_the_dashboard_with_strict_headers(admin: Any) -> None:
    page = admin.get("/admin", headers={**HTML, "Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and 'id="tiles"' in page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"


def test_login_sets_a_strict_http_only_cookie_that_opens_the_api(admin: Any) -> None:
    wrong = admin.post("/admin/login", data={"token": "guess"}, headers=HTML)
    assert wrong.status_code == 401 and "not the admin token" in wrong.get_data(as_text=True)
    assert admin.get("/api/v1/stats").status_code == 401
    ok = admin.post("/admin/login", data={"token": TOKEN})
    assert ok.status_code == 303 and ok.headers["Location"].endswith("/admin")
    cookie = ok.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    assert admin.get("/admin", headers=HTML).get_data(as_text=True).count('id="tiles"') == 1
    assert admin.get("/api/v1/stats").status_code == 200
    out = admin.post("/admin/logout")
    assert out.status_code == 303
    assert admin.get("/api/v1/stats").status_code == 401


@pytest.mark.parametrize("headers, message", [
    ({"Authorization": "Bearer guess"}, "that token is not the admin token: send the value of HUB_ADMIN_TOKEN as "
                                        "'Authorization: Bearer <token>'"),
    ({"Authorization": TOKEN}, "the Authorization header is not 'Bearer <token>'"),  # the right token, no scheme
    ({COOKIE: session_cookie(TOKEN, now=time.time() - 13 * 3600)[0]},  # a cookie of yesterday's sign-in
     "the session has ended (after 12 hours, or when HUB_ADMIN_TOKEN changed): sign in again at /admin"),
    ({}, "admin token required: send 'Authorization: Bearer <HUB_ADMIN_TOKEN>'"),
])
def test_a_refused_credential_is_told_what_was_wrong_with_it(admin: Any, headers: dict[str, str], message: str) -> None:
    # each said "admin token required: send 'Authorization: Bearer <HUB_ADMIN_TOKEN>'", the wrong token too
    if COOKIE in headers:
        admin.set_cookie(COOKIE, headers.pop(COOKIE))
    for path in ("/api/v1/stats", "/admin/decisions/1"):
        refused = admin.get(path, headers={**headers, "Accept": "application/json"})
        assert refused.status_code == 401 and message in refused.get_json()["error"], refused.get_json()
        assert refused.headers["WWW-Authenticate"].startswith("Bearer") and TOKEN not in refused.get_json()["error"]


@pytest.mark.parametrize(
    "value",
    [
        "9999999999.deadbeef",  # forged signature
        session_cookie(TOKEN, now=time.time() - 13 * 3600)[0],  # expired
        session_cookie("the-previous-token")[0],  # signed with a rotated-out token
        "garbage",
    ],
)
def test_bad_session_cookies_are_refused(admin: Any, value: str) -> None:
    admin.set_cookie(COOKIE, value)
    assert admin.get("/api/v1/stats").status_code == 401
    assert 'type="password"' in admin.get("/admin", headers=HTML).get_data(as_text=True)


def test_assets_are_served_and_reach_nothing_off_the_host(admin: Any) -> None:
    for name in ("dashboard.js", "queues.js", "dashboard.css"):
        assert admin.get(f"/admin/static/{name}").status_code == 200
    files = [*STATIC.glob("static/*"), *STATIC.glob("templates/dashboard/*.html")]
    assert len(files) >= 8  # the assets and every page template, where they live now
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path  # no CDN, no network


def test_signing_in_from_a_decision_link_returns_to_it(admin: Any) -> None:
    form = admin.get("/admin/decisions/7", headers=HTML).get_data(as_text=True)
    assert 'name="next" value="/admin/decisions/7"' in form
    back = admin.post("/admin/login", data={"token": TOKEN, "next": "/admin/decisions/7"})
    assert back.status_code == 303 and back.headers["Location"].endswith("/admin/decisions/7")
    for elsewhere in ("https://evil.example/admin", "//evil.example/admin", "/api/v1/stats", "/admin\\evil"):
        out = admin.post("/admin/login", data={"token": TOKEN, "next": elsewhere})
        assert out.status_code == 303 and out.headers["Location"].endswith("/admin"), elsewhere


@pytest.mark.parametrize("path, message", [
    ("/admin/decisions/999", "There is no decision 999."),
    ("/admin/decisions/0", "There is no decision 0."),
    ("/admin/decisions/abc", "There is no page at /admin/decisions/abc."),
    ("/admin/decisions/-1", "There is no page at /admin/decisions/-1."),
    ("/admin/decisions/2147483648", "no such id: ids run from 0 to 2147483647"),
    ("/admin/decisions/99999999999999999999999", "no such id: ids run from 0 to 2147483647"),
    ("/admin/nope", "There is no page at /admin/nope."),
])
def test_a_missing_admin_page_is_an_html_404_in_the_dashboards_style(admin: Any, path: str, message: str) -> None:
    for accept in ({}, {"Accept": "*/*"}, HTML):  # curl, a browser: the page; only a JSON client gets JSON
        page = admin.get(path, headers={"Authorization": f"Bearer {TOKEN}", **accept})
        body = page.get_data(as_text=True)
        assert page.status_code == 404 and page.content_type == "text/html; charset=utf-8", (path, accept)
        assert f'<p id="message">{message}</p>' in body and "404 Not Found" in body
        assert "/admin/static/dashboard.css" in body and 'href="/admin">← Dashboard</a>' in body
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    wants_json = admin.get(path, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})
    assert wants_json.status_code == 404 and wants_json.get_json()["error"]


def test_admin_pages_answer_other_http_errors_as_pages_and_the_api_keeps_json(admin: Any) -> None:
    put = admin.put("/admin", headers={"Authorization": f"Bearer {TOKEN}"})
    assert put.status_code == 405 and put.content_type.startswith("text/html") and "GET" in put.headers["Allow"]
    nul = admin.get("/admin?from=%00", headers={"Authorization": f"Bearer {TOKEN}"})
    assert nul.status_code == 400 and "the query string holds a NUL character" in nul.get_data(as_text=True)
    for path in ("/api/v1/decisions/999", "/api/v1/decisions/2147483648", "/nope", "/administrator"):
        response = admin.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404 and response.get_json()["error"], path
    script = admin.get("/admin/decisions/999")  # no credential: still the script's JSON 401 with the challenge
    assert script.status_code == 401 and script.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_decision_page_shows_a_confidence_under_its_threshold_as_under_it(admin: Any, sqlite_url: str) -> None:
    from core.db import Database
    from core.models import utcnow
    from test_analytics_seed import Seed

    db = Database(sqlite_url)
    try:
        with db.session() as session:  # the sample KB when no threshold backs the target: 0.997 against 1.0
            row = Seed(session).ask(None, utcnow(), verdict="escalate", confidence=0.997, threshold=1.0,
                                    reasons=["confidence_below_threshold", "target_not_backed"])
            decision_id = row.id
    finally:
        db.dispose()
    page = admin.get(f"/admin/decisions/{decision_id}", headers={**HTML, "Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200
    assert '<dd id="confidence">0.997 (threshold 1.000: not reached)</dd>' in page.get_data(as_text=True)  # was 1.00 / 1.00
