"""``GET /`` (what this server is and where its parts are), ``GET /healthz`` (liveness and readiness:
database, migrations, connectors, knowledge base) and ``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

import migrations
from core import queues
from core.telemetry import exposition
from interceptor.kb.manage import health as kb_health
from surfaces.http.dashboard.auth import admin_token
from surfaces.http.errors import public_config_error
from surfaces.http.webhooks import inbound_path
from surfaces.services import Services

PRODUCT = "helpdesk-hub"


def make_health_blueprint(services: Services) -> Blueprint:
    """Return the blueprint serving ``/``, ``/healthz`` and ``/metrics`` for ``services``."""
    bp = Blueprint("health", __name__)

    @bp.get("/")
    def index() -> Response:
        """Where things are, for the admin who opens the server's address in a browser: the API, its
        OpenAPI document, health, metrics, the dashboard (and whether it is on) and the inbound routes of the
        configured vendors. Nothing secret: no setting's value, only whether the dashboard is enabled."""
        inbound = {name: inbound_path(name) for name in sorted(services.connectors)}
        dashboard = "on" if admin_token(services.settings) else "off: set HUB_ADMIN_TOKEN to open /admin and the analytics API"
        return jsonify({
            "service": PRODUCT,
            "ask": 'POST /api/v1/ask with {"text": "How do I reset my password?"}',
            "links": {"api": "/api/v1/openapi.json", "health": "/healthz", "metrics": "/metrics", "dashboard": "/admin"},
            "dashboard": dashboard,
            "inbound": inbound,
        })

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """200 with the checks when the database answers, is at the newest migration and the work queues are
        healthy (``status: ok``) or merely degraded (rows failed or retrying: ``status: degraded``); 503 when
        the database is unreachable or behind, when vendor writes fail, when a queue's backlog is stale or
        when the decision engine cannot be built as configured (``knowledge_base.error``: an embedding model
        that cannot load)."""
        checks: dict[str, Any] = {"connectors": sorted(services.connectors)}
        ok = True
        try:
            with services.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current, head = migrations.current_revision(services.db.engine), migrations.head_revision()
            checks["migrations"] = {"current": current, "head": head, "at_head": current == head}
            ok = current == head
        except Exception as e:  # noqa: BLE001 - a health check reports, it does not raise
            checks["database"] = f"unreachable: {type(e).__name__}"
            ok = False
        try:
            queue_status, checks["work"] = queues.health_report(services.db)
        except Exception as e:  # noqa: BLE001 - a health check reports, it does not raise
            queue_status, checks["work"] = "failing", {"error": f"unreadable: {type(e).__name__}"}
        built = services.interceptor.built()
        scorer_status = getattr(built.scorer, "status", None) if built is not None else None
        served = scorer_status if isinstance(scorer_status, dict) else None
        # The stored KB's count and version, read now: an import or removal shows at once (the index
        # follows within seconds, see interceptor.kb.manage.KBWatcher); needs the migrated schema.
        checks["knowledge_base"] = served or {"retrieval": "not loaded yet"}
        if ok:
            try:
                checks["knowledge_base"] = kb_health(services.db, served)
            except Exception as e:  # noqa: BLE001 - a health check reports, it does not raise
                checks["database"], ok = f"unreachable: {type(e).__name__}", False
        failure = services.interceptor.failure()
        if failure is not None:  # every decision fails until the setting is fixed
            checks["knowledge_base"] = {**checks.get("knowledge_base", {}), "retrieval": "failing", "error": public_config_error(failure)}
            ok = False
        if not ok:
            checks["status"] = "unavailable"
        elif queue_status == "ok":
            checks["status"] = "ok"
        else:
            # Failed or retrying rows: degraded. Vendor writes failing, or a stale backlog: also 503.
            checks["status"] = "degraded"
            ok = queue_status != "failing"
        return jsonify(checks), 200 if ok else 503

    @bp.get("/metrics")
    def metrics() -> tuple[bytes, int, dict[str, str]]:
        """The counters and histograms in Prometheus text format, and the work queues' gauges."""
        try:
            gauges = queues.queue_metrics(services.db)
        except Exception:  # noqa: BLE001 - the counters are still worth serving without the database
            gauges = b""
        return exposition() + gauges, 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}

    return bp
