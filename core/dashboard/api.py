"""The analytics API: ``/api/v1/stats``, ``/stats/series``, ``/decisions``, ``/decisions/<id>``, ``/content-gaps``,
``/openapi.json``. The content-gap grouping uses the embedding function ``register`` was given, if any."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Callable

from flask import Blueprint, Response, current_app, jsonify, request

from core.analytics import (
    Costs,
    Embed,
    PeriodError,
    content_gaps,
    decision_detail,
    parse_period,
    recent_decisions,
    series,
    stats,
)
from core.dashboard.auth import NOT_CONFIGURED, admin_token, authenticated
from core.models import utcnow

api = Blueprint("analytics_api", __name__, url_prefix="/api/v1")


def _error(message: str, status: int, **headers: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers)
    return response


@api.before_request
def _require_admin() -> Response | None:
    if request.endpoint == "analytics_api.openapi":
        return None
    token = admin_token()
    if token is None:
        return _error(NOT_CONFIGURED, 403)
    if not authenticated(request, token):
        return _error("admin token required: send 'Authorization: Bearer <HUB_ADMIN_TOKEN>'", 401,
                      **{"WWW-Authenticate": 'Bearer realm="hub-admin"'})
    return None


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise PeriodError(f"'{name}' must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def _run(build: Callable[..., Any], *, period: bool = True, **kwargs: Any) -> Response:
    """Parse the shared query parameters, run ``build`` in a session, answer JSON (400 on bad input)."""
    hub = current_app.extensions["hub"]
    now = utcnow()
    try:
        if period:
            kwargs["period"] = parse_period(request.args.get("from"), request.args.get("to"), now=now)
        limit = kwargs.pop("limit_arg", None)
        if limit is not None:
            kwargs["limit"] = _int_arg("limit", *limit)
    except PeriodError as e:
        return _error(str(e), 400)
    channel = request.args.get("channel") or None
    with hub.db.session() as session:
        doc = build(session, channel=channel, **kwargs)
    response = jsonify(doc)
    response.headers["Cache-Control"] = "no-store"
    return response


def _costs() -> Costs:
    settings = current_app.extensions["hub"].settings
    return Costs(
        agent_ticket=float(settings.agent_ticket_cost),
        automated_answer=float(settings.automated_answer_cost),
        currency=str(getattr(settings, "currency", "USD")),
    )


def _embed() -> Embed | None:
    embed: Embed | None = current_app.extensions.get("analytics.embed")
    return embed


@api.get("/stats")
def stats_view() -> Response:
    return _run(stats, costs=_costs(), now=utcnow())


@api.get("/stats/series")
def series_view() -> Response:
    return _run(series, now=utcnow())


@api.get("/content-gaps")
def gaps_view() -> Response:
    return _run(content_gaps, now=utcnow(), limit_arg=(10, 1, 50), embed=_embed())


@api.get("/decisions")
def decisions_view() -> Response:
    return _run(lambda session, **kw: {"decisions": recent_decisions(session, **kw)}, limit_arg=(25, 1, 200))


@api.get("/decisions/<int:decision_id>")
def decision_view(decision_id: int) -> Response:
    """One decision in full (``core.analytics.decision_detail``); 404 when there is no such decision."""
    with current_app.extensions["hub"].db.session() as session:
        doc = decision_detail(session, decision_id, now=utcnow())
    if doc is None:
        return _error(f"no decision {decision_id}", 404)
    response = jsonify(doc)
    response.headers["Cache-Control"] = "no-store"
    return response


@api.get("/openapi.json")
def openapi() -> Response:
    spec = json.loads(resources.files("core.dashboard").joinpath("openapi.json").read_text(encoding="utf-8"))
    return jsonify(spec)
