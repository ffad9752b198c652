from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import app as app_module
from config.settings import vendor_specs
from surfaces.http.webhooks import inbound_path
from tests.conftest import settings_dict


def test_healthz_reports_database_migrations_and_connectors(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["migrations"]["at_head"] is True
    assert body["connectors"] == []


def test_healthz_is_503_when_the_database_is_not_migrated(tmp_path: Any) -> None:
    flask_app = app_module.create_app(settings_dict(f"sqlite:///{tmp_path / 'empty.db'}"))
    response = flask_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["migrations"]["at_head"] is False


def test_unknown_routes_and_unconfigured_webhooks_answer_json_4xx(client: Any) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert "error" in missing.get_json()
    webhook = client.post("/webhooks/zendesk", data=b"{}")
    assert webhook.status_code == 404
    assert "not configured" in webhook.get_json()["error"]
    wrong_method = client.get("/webhooks/zendesk")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.get_json()


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path, message", [
    ("/slack/events",  # "there is no route /slack/events": the route the README and Slack's set-up name
     "slack is not configured on this hub: set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and restart it "
     "(docs/connectors/slack.md)"),
    ("/webhooks/zendesk", "zendesk is not configured on this hub: set ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN "
     "and restart it (docs/connectors/zendesk.md)"),
    ("/webhooks/jira", "jira is not configured on this hub: set JIRA_URL, JIRA_EMAIL, JIRA_API_TOKEN "
     "and restart it (docs/connectors/jira.md)"),
    ("/webhooks/zendsk",  # "no zendsk webhook here: the connector is not configured"
     "no vendor is named 'zendsk': the vendors post to /slack/events, /webhooks/zendesk, /webhooks/jira"),
])
def test_a_vendors_route_without_its_settings_names_them(client: Any, path: str, message: str) -> None:
    response = client.post(path, data=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 404 and message in response.get_json()["error"], response.get_json()


def test_every_vendors_route_points_at_its_own_set_up_page(client: Any) -> None:
    for spec in vendor_specs():  # a vendor added later needs its page under docs/connectors/ too
        error = client.post(inbound_path(spec.name), data=b"{}", headers={"Content-Type": "application/json"})
        page = error.get_json()["error"].rsplit("(", 1)[1].rstrip(")")
        assert (ROOT / page).is_file() and (ROOT / page).parent == ROOT / "docs" / "connectors", error.get_json()


def test_metrics_is_prometheus_text(client: Any) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert b"# HELP" in response.data


def test_healthz_reports_the_knowledge_base_once_it_is_loaded(client: Any, hub: Any) -> None:
    before = client.get("/healthz").get_json()["knowledge_base"]
    assert (before["retrieval"], before["articles"], before["index"]) == ("not loaded yet", 0, None)
    hub.interceptor()  # what `hub serve` does in the background at boot
    kb = client.get("/healthz").get_json()["knowledge_base"]
    assert kb["retrieval"] == "lexical" and kb["articles"] == 0  # HUB_DENSE=off in the test settings


def test_healthz_logs_nothing(client: Any, caplog: Any) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


def test_the_root_says_where_things_are_and_every_link_answers(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    body = response.get_json()
    assert body["service"] == "helpdesk-hub" and body["inbound"] == {}  # no vendor configured in this app
    assert body["dashboard"].startswith("off: set HUB_ADMIN_TOKEN")
    statuses = {name: client.get(path).status_code for name, path in body["links"].items()}
    assert statuses == {"api": 200, "health": 200, "metrics": 200, "dashboard": 401}  # the dashboard is off here
    asked = client.post("/api/v1/ask", json={"text": "How do I reset my password?", "record": False})
    assert asked.status_code == 200 and body["ask"].startswith("POST /api/v1/ask")


def test_the_root_lists_the_configured_vendors_inbound_routes_and_no_secret(sqlite_url: str) -> None:
    secrets = {"ZENDESK_URL": "http://127.0.0.1:1", "ZENDESK_EMAIL": "bot@x.example", "ZENDESK_API_TOKEN": "zd-secret",
               "SLACK_BOT_TOKEN": "xoxb-secret", "SLACK_SIGNING_SECRET": "signing-secret", "HUB_ADMIN_TOKEN": "admin-secret"}
    client = app_module.create_app(settings_dict(sqlite_url, **secrets)).test_client()
    response = client.get("/")
    body = response.get_json()
    assert body["inbound"] == {"slack": "/slack/events", "zendesk": "/webhooks/zendesk"}
    assert body["dashboard"] == "on"
    assert not any(secret in response.get_data(as_text=True) for secret in ("zd-secret", "xoxb-secret", "signing-secret", "admin-secret"))
    assert client.post("/webhooks/zendesk", data=b"{}").status_code != 404  # the listed route is the live one
