"""``/api/v1/stats`` and friends over HTTP: auth, defaults, bad dates, agreement with the computation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterator

import pytest

from app import Hub, build_hub, create_app
from config import load_settings
from core.analytics import Costs, parse_period, stats
from core.models import utcnow
from test_analytics_seed import Seed, seed_demo

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_hub(sqlite_url: str) -> Iterator[Hub]:
    from conftest import settings_dict

    built = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN, HUB_AGENT_TICKET_COST=12,
                                                  HUB_AUTOMATED_ANSWER_COST=0.5)))
    yield built
    built.close()


@pytest.fixture
def api(admin_hub: Hub) -> Any:
    return create_app(hub=admin_hub).test_client()


ENDPOINTS = ["/api/v1/stats", "/api/v1/stats/series", "/api/v1/content-gaps", "/api/v1/decisions"]


@pytest.mark.parametrize("path", [*ENDPOINTS, "/api/v1/decisions/1", "/api/v1/queues"])
def test_without_an_admin_token_configured_the_api_is_off(client: Any, path: str) -> None:
    # No credential: 401 with the Bearer challenge (RFC 9110 15.5.2); the message says the API is off and what to set.
    missing = client.get(path)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "set HUB_ADMIN_TOKEN" in missing.get_json()["error"]
    # A bearer token while the API is off: no token can open it, 403.
    sent = client.get(path, headers=AUTH)
    assert sent.status_code == 403 and "HUB_ADMIN_TOKEN" in sent.get_json()["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_the_api_needs_the_admin_token(api: Any, path: str, headers: dict[str, str]) -> None:
    response = api.get(path, headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "admin token" in response.get_json()["error"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2026-13-01", "'from' must be an ISO date"),
        ("to=yesterday", "'to' must be an ISO date"),
        ("from=2026-11-10&to=2026-11-01", "'from' must be before 'to'"),
        ("from=2020-01-01&to=2026-01-01", "at most"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/stats", "/api/v1/stats/series", "/api/v1/content-gaps"])
def test_bad_dates_are_a_clear_400(api: Any, path: str, query: str, message: str) -> None:
    response = api.get(f"{path}?{query}", headers=AUTH)
    assert response.status_code == 400 and message in response.get_json()["error"]


@pytest.mark.parametrize("limit", ["0", "201", "ten", "-1"])
def test_bad_limits_are_a_400(api: Any, limit: str) -> None:
    response = api.get(f"/api/v1/decisions?limit={limit}", headers=AUTH)
    assert response.status_code == 400 and "'limit'" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/api/v1/stats", "since=2026-01-01", "unknown query parameter 'since': /api/v1/stats takes channel, from, to"),
        ("/api/v1/stats/series", "days=7", "unknown query parameter 'days'"),
        ("/api/v1/stats", "limit=5", "unknown query parameter 'limit'"),
        ("/api/v1/decisions", "from=2026-11-01&from=2026-01-01", "'from' is given 2 times"),
        ("/api/v1/content-gaps", "channel=web&channel=slack", "'channel' is given 2 times"),
    ],
)
def test_a_parameter_the_endpoint_would_ignore_is_a_400_not_other_figures(api: Any, path: str, query: str, message: str) -> None:
    response = api.get(f"{path}?{query}", headers=AUTH)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert api.get(f"{path}?from=2026-11-01&channel=web", headers=AUTH).status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_channel_no_request_was_filed_under_is_a_400_not_zeros(api: Any, admin_hub: Hub, path: str) -> None:
    seed_demo(admin_hub.db, utcnow())  # its Slack requests are filed under channel C1
    refused = api.get(f"{path}?channel=C1x", headers=AUTH)
    assert refused.status_code == 400
    assert "unknown channel 'C1x'" in refused.get_json()["error"] and "jira, slack, web, zendesk" in refused.get_json()["error"]
    # A channel some request was filed under (not in any setting), and a source with no request yet, are channels.
    assert api.get(f"{path}?channel=C1", headers=AUTH).status_code == 200
    assert api.get(f"{path}?channel=jira", headers=AUTH).status_code == 200


def test_defaults_to_the_last_30_days_and_matches_the_computation(api: Any, admin_hub: Hub) -> None:
    now = utcnow()
    seed_demo(admin_hub.db, now)
    with admin_hub.db.session() as session:  # a request 40 days ago is outside the default period
        seed = Seed(session)
        seed.ask(seed.person("slack", "old@example.com"), now - timedelta(days=40))
    doc = api.get("/api/v1/stats", headers=AUTH).get_json()
    assert doc["period"]["to"] == now.date().isoformat()
    assert doc["period"]["from"] == (now - timedelta(days=29)).date().isoformat()
    with admin_hub.db.session() as session:
        expected = stats(session, parse_period(None, None, now=now), channel=None, costs=Costs(12.0, 0.5), now=now)
    for key in ("counts", "split", "rates", "csat", "cost"):
        assert doc[key] == expected[key], key
    assert sum(doc["split"].values()) == doc["counts"]["requests"] > 40
    assert doc["cost"]["agent_ticket_cost"] == 12.0 and doc["cost"]["automated_answer_cost"] == 0.5


def test_series_gaps_and_decisions(api: Any, admin_hub: Hub) -> None:
    now = utcnow()
    seed_demo(admin_hub.db, now)
    q = f"from={(now - timedelta(days=14)).date()}&to={now.date()}&channel=zendesk"
    total = api.get(f"/api/v1/stats?{q}", headers=AUTH).get_json()
    days = api.get(f"/api/v1/stats/series?{q}", headers=AUTH).get_json()["days"]
    assert len(days) == 15 and sum(d["requests"] for d in days) == total["counts"]["requests"] > 0
    assert {c["channel"] for c in total["channels"]} == {"zendesk"}
    gaps = api.get(f"/api/v1/content-gaps?{q}", headers=AUTH).get_json()
    assert gaps["method"] == "lexical"  # dense retrieval is off in tests
    first = gaps["groups"][0]  # two phrasings of one topic, named by the more typical one
    assert first["label"] == "Expense report approval is stuck" and first["count"] >= 4
    assert set(first["examples"]) == {"Expense report approval is stuck", "Expense approval pending for two weeks"}
    assert [g["count"] for g in gaps["groups"]] == sorted((g["count"] for g in gaps["groups"]), reverse=True)
    assert sum(g["count"] for g in gaps["groups"]) + gaps["unclear"] == gaps["requests"]
    decisions = api.get("/api/v1/decisions?limit=5", headers=AUTH).get_json()["decisions"]
    assert len(decisions) == 5 and decisions[0]["created_at"] >= decisions[-1]["created_at"]
    assert {"confidence", "threshold", "reasons", "verdict", "dry_run", "subject"} <= set(decisions[0])


def test_content_gaps_hold_only_escalations_no_article_could_answer(api: Any, admin_hub: Hub) -> None:
    now = utcnow()
    seed_demo(admin_hub.db, now)  # it has refunds (a sensitive topic), a "hello" and answered requests too
    with admin_hub.db.session() as session:
        seed = Seed(session)
        someone = seed.person("zendesk", "late@example.com")
        answered = seed.ask(someone, now - timedelta(hours=5), subject="Reset my VPN token", confidence=0.95)
        seed.outcome(answered, "not_solved", now - timedelta(hours=4))  # answered at 0.95: not a gap
        human = seed.ask(someone, now - timedelta(hours=2), verdict="escalate", confidence=0.1,
                         subject="Let me talk to a person about the VPN", reasons=["asked_for_human", "confidence_below_threshold"])
        shadow_gap = seed.ask(someone, now - timedelta(hours=1), verdict="escalate", dry_run=True, confidence=0.1,
                              subject="Printer on floor 2 is jammed", reasons=["confidence_below_threshold"])
        held_back = seed.ask(someone, now - timedelta(minutes=30), verdict="escalate", dry_run=True, confidence=0.95,
                             subject="Reset my VPN token please", reasons=["dry_run", "confident"])
        answered_ref, human_ref = answered.ticket_ref, human.ticket_ref
        shadow_gap_ref, held_back_ref = shadow_gap.ticket_ref, held_back.ticket_ref
    doc = api.get("/api/v1/content-gaps?limit=50", headers=AUTH).get_json()
    refs = {ref for g in doc["groups"] for ref in g["ticket_refs"]}
    labels = " ".join(g["label"] + " " + " ".join(g["examples"]) for g in doc["groups"]).lower()
    assert answered_ref not in refs and human_ref not in refs and held_back_ref not in refs
    assert shadow_gap_ref in refs  # shadow mode (the recommended start) still shows what no article answers
    assert "refund" not in labels and "hello" not in labels and doc["unclear"] == 1
    assert len(refs) + doc["unclear"] == doc["requests"] and doc["requests"] > 10


def test_decisions_follow_the_period_and_channel(api: Any, admin_hub: Hub) -> None:
    now = utcnow()
    seed_demo(admin_hub.db, now)
    day = (now - timedelta(days=6)).date()
    rows = api.get(f"/api/v1/decisions?from={day}&to={day}&channel=zendesk&limit=200", headers=AUTH).get_json()["decisions"]
    assert rows and all(r["created_at"][:10] == day.isoformat() and r["channel"] == "zendesk" for r in rows)
    everything = api.get("/api/v1/decisions?limit=200", headers=AUTH).get_json()["decisions"]
    assert len(everything) > len(rows)


def test_one_decision_in_full(api: Any, admin_hub: Hub) -> None:
    from core.db import OutboxAction

    now = utcnow()
    with admin_hub.db.session() as session:
        seed = Seed(session)
        who = seed.person("zendesk", "d@example.com")
        d = seed.ask(who, now - timedelta(hours=1), verdict="escalate", confidence=0.31, subject="Printer jammed",
                     reasons=["confidence_below_threshold"])
        seed.outcome(d, "escalated", now - timedelta(hours=1), reason="confidence_below_threshold")
        seed.outcome(d, "agent_reply", now - timedelta(minutes=30))
        session.add(OutboxAction(idempotency_key=f"draft:{d.ticket_ref}:{d.id}", connector="zendesk", action="add_internal_note",
                                 ticket_ref=d.ticket_ref, payload={"ref": d.ticket_ref, "text": "Suggested reply: power-cycle it.",
                                                                   "decision_id": d.id}, status="done"))
        decision_id = d.id
    doc = api.get(f"/api/v1/decisions/{decision_id}", headers=AUTH).get_json()
    assert doc["request"]["subject"] == "Printer jammed" and doc["verdict"] == "escalate" and doc["bucket"] == "escalated"
    assert doc["confidence"] == 0.31 and doc["reasons"] == ["confidence_below_threshold"] and doc["content_gap"] is True
    assert doc["candidates"][0]["title"] == "Resetting your password"
    assert [(w["kind"], w["text"], w["status"]) for w in doc["writes"]] == [("draft", "Suggested reply: power-cycle it.", "done")]
    assert [o["kind"] for o in doc["outcomes"]] == ["escalated", "agent_reply"]
    assert api.get("/api/v1/decisions/999999", headers=AUTH).status_code == 404
    assert api.get("/api/v1/decisions/99999999999999999999999", headers=AUTH).status_code == 404
    assert api.get(f"/api/v1/decisions/{decision_id}").status_code == 401
    page = api.get(f"/admin/decisions/{decision_id}", headers=AUTH)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Printer jammed" in html and "Suggested reply: power-cycle it." in html
    assert "0.31" in html and "confidence_below_threshold" in html and "Resetting your password" in html
    assert api.get("/admin/decisions/999999", headers=AUTH).status_code == 404


def test_costs_carry_the_configured_currency(sqlite_url: str) -> None:
    from conftest import settings_dict

    hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN, HUB_CURRENCY="eur")))
    try:
        doc = create_app(hub=hub).test_client().get("/api/v1/stats", headers=AUTH).get_json()
    finally:
        hub.close()
    assert doc["cost"]["currency"] == "EUR"
    with pytest.raises(Exception, match="HUB_CURRENCY"):
        load_settings(settings_dict(sqlite_url, HUB_CURRENCY="euros"))


def test_openapi_documents_every_analytics_route(api: Any, admin_hub: Hub) -> None:
    spec = api.get("/api/v1/openapi.json").get_json()  # public: no token
    assert spec["openapi"].startswith("3.")
    app = create_app(hub=admin_hub)
    ours = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules() if r.endpoint.startswith("analytics_api.")}
    assert ours <= set(spec["paths"])  # the web channel's routes are there too (tests/test_openapi.py)
    for path in ENDPOINTS:
        operation = spec["paths"][path]["get"]
        assert {"200", "401", "403"} <= set(operation["responses"])
        assert operation["security"] == [{"adminToken": []}]
    assert {p["name"] for p in spec["paths"]["/api/v1/stats"]["get"]["parameters"]} == {"from", "to", "channel"}
    refs = [v for v in _walk(spec) if isinstance(v, str) and v.startswith("#/")]
    for ref in refs:  # every $ref resolves
        node: Any = spec
        for part in ref[2:].split("/"):
            node = node[part]


def _undeclared(value: Any, schema: dict[str, Any], spec: dict[str, Any], path: str = "$") -> list[str]:
    """Paths of ``value`` that its OpenAPI schema does not declare (objects with ``properties`` only)."""
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    if isinstance(value, dict) and "properties" in schema:
        out = [f"{path}.{k}" for k in value if k not in schema["properties"]]
        for k, v in value.items():
            if k in schema["properties"]:
                out += _undeclared(v, schema["properties"][k], spec, f"{path}.{k}")
        return out
    if isinstance(value, list) and "items" in schema:
        return [p for i, v in enumerate(value[:3]) for p in _undeclared(v, schema["items"], spec, f"{path}[{i}]")]
    return []


def test_every_field_the_analytics_api_returns_is_in_the_spec(api: Any, admin_hub: Hub) -> None:
    seed_demo(admin_hub.db, utcnow())
    spec = api.get("/api/v1/openapi.json").get_json()
    decision_id = api.get("/api/v1/decisions?limit=1", headers=AUTH).get_json()["decisions"][0]["id"]
    for path, template in [("/api/v1/stats", "/api/v1/stats"), ("/api/v1/stats/series", "/api/v1/stats/series"),
                           ("/api/v1/content-gaps", "/api/v1/content-gaps"), ("/api/v1/decisions", "/api/v1/decisions"),
                           (f"/api/v1/decisions/{decision_id}", "/api/v1/decisions/{decision_id}")]:
        response = api.get(path, headers=AUTH)
        schema = spec["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert response.status_code == 200 and _undeclared(response.get_json(), schema, spec) == [], path


def _walk(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


def test_web_asks_and_their_feedback_are_in_the_stats(admin_hub: Hub, api: Any) -> None:
    from dataclasses import replace

    from interceptor.engine import Interceptor, LazyInterceptor
    from test_engine import FakeScorer

    engine = Interceptor(admin_hub.settings, FakeScorer(0.99))
    api = create_app(hub=replace(admin_hub, interceptor=LazyInterceptor(lambda: engine))).test_client()
    solved = api.post("/api/v1/ask", json={"text": "how do I reset my password?"}).get_json()["ref"]
    api.post("/api/v1/ask", json={"text": "how do I reset my password?"})  # answered, no word back yet
    api.post("/api/v1/ask", json={"text": "I want a refund"})  # escalated: sensitive topic
    assert api.post("/api/v1/feedback", json={"ref": solved, "solved": True}).status_code == 200

    doc = api.get("/api/v1/stats?channel=web", headers=AUTH).get_json()
    [web] = doc["channels"]
    assert web["channel"] == "web" and web["requests"] == 3 and web["answered"] == 2
    assert web["confirmed_solved"] == 1 and web["escalated"] == 1 and web["pending"] == 1


def test_with_dense_retrieval_on_gaps_are_grouped_by_the_sentence_model(sqlite_url: str) -> None:
    from conftest import settings_dict

    hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN, HUB_DENSE="on")))
    now = utcnow()
    try:
        with hub.db.session() as session:
            seed = Seed(session)
            for i, subject in enumerate(["I can't log in to my account", "Sign-in fails with my credentials",
                                         "The printer on floor 3 is jammed", "Paper stuck in the office printer"]):
                seed.ask(seed.person("web", f"p{i}@example.com"), now - timedelta(hours=5 - i), verdict="escalate",
                         confidence=0.1, subject=subject, reasons=["confidence_below_threshold"])
        doc = create_app(hub=hub).test_client().get("/api/v1/content-gaps", headers=AUTH).get_json()
    finally:
        hub.close()
    assert doc["method"] == "embeddings"
    groups = sorted(sorted(g["examples"]) for g in doc["groups"])
    # no word in common, one meaning: only the model can put these two together
    assert ["I can't log in to my account", "Sign-in fails with my credentials"] in groups
    assert len(groups) == 2


def test_decision_detail_on_both_databases(database_url: str) -> None:
    from core.analytics import decision_detail
    from core.db import Database

    db, now = Database(database_url), utcnow()
    try:
        with db.session() as session:
            seed = Seed(session)
            d = seed.ask(seed.person("jira", "j@example.com"), now - timedelta(days=3), subject="Board columns missing")
            seed.outcome(d, "solved", now - timedelta(days=2))  # ``ask`` recorded its answer_posted
            decision_id = d.id
        with db.session() as session:
            doc = decision_detail(session, decision_id, now=now)
            assert doc is not None and doc["bucket"] == "verified" and doc["request"]["subject"] == "Board columns missing"
            assert doc["content_gap"] is False and doc["shadow"] is False
            assert [o["kind"] for o in doc["outcomes"]] == ["answer_posted", "solved"]
            assert decision_detail(session, 2**40, now=now) is None and decision_detail(session, 0, now=now) is None
    finally:
        db.dispose()
