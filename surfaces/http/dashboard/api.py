"""The analytics API: ``/api/v1/stats``, ``/stats/series``, ``/decisions``, ``/decisions/<id>``, ``/content-gaps``,
``/openapi.json`` (:func:`make_analytics_blueprint`)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Callable

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
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
from core.analytics.clusters import CachingEmbed
from core.db import MAX_ROW_ID, DecisionRow
from core.models import utcnow
from surfaces.http.dashboard.auth import admin_token, refusal
from surfaces.services import Services
from surfaces.views import known_channels


def _error(message: str, status: int, **headers: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers)
    return response


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:  # "²".isdigit()
        raise PeriodError(f"'{name}' must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def _known_args(known: set[str]) -> None:
    """Refuse a query parameter the endpoint does not take, or one given twice: ``?since=2026-01-01`` (not a
    parameter) or a second ``from`` would otherwise be ignored and the figures silently cover another period.

    Raises:
        PeriodError: naming the parameter and those the endpoint takes.
    """
    for name in request.args:
        if name not in known:
            raise PeriodError(f"unknown query parameter {name!r}: {request.path} takes {', '.join(sorted(known))}")
        if len(request.args.getlist(name)) > 1:
            raise PeriodError(f"query parameter {name!r} is given {len(request.args.getlist(name))} times: give it once")


def _channel_problem(session: Session, settings: Settings, channel: str) -> str | None:
    """Return why ``?channel=`` names no channel, or ``None``. A channel is one ``/api/v1/ask`` accepts, one of
    ``SLACK_CHANNELS``, or one some decision was filed under (a Slack channel the bot answered in, a channel
    since removed from the settings): ``?channel=genral`` is refused instead of answering zeros."""
    slack = settings.slack
    known = {*known_channels(settings), *(slack.channels if slack else ())} - {"*"}
    if channel in known or session.scalar(select(DecisionRow.id).where(DecisionRow.channel == channel).limit(1)):
        return None
    return (f"unknown channel {channel[:80]!r}: no request was ever filed under it; channels are "
            f"{', '.join(sorted(known))} or a Slack channel id requests came from")


def gap_embedder(settings: Settings) -> Embed | None:
    """The sentence model as a plain (caching) function for grouping content gaps by meaning, or ``None``
    (lexical) when dense retrieval is off or not installed. The model loads on first use, shared with retrieval.
    """
    from importlib.util import find_spec

    if settings.dense == "off" or find_spec("sentence_transformers") is None or find_spec("torch") is None:
        return None  # find_spec, not import: building the app must not pay for importing torch
    from interceptor.retrieval.dense import shared_embedder

    return CachingEmbed(lambda texts: shared_embedder(settings.embedding_model, settings.embedding_precision,
                                                         settings.torch_threads).encode(texts))


def make_analytics_blueprint(services: Services, *, embed: Embed | None = None) -> Blueprint:
    """Return the analytics API's blueprint serving ``services`` (admin token required, but for the spec).

    Args:
        services: the running hub (settings and database).
        embed: texts -> vectors for grouping content gaps by meaning (``gap_embedder``); ``None`` groups them
            by shared words.
    """
    api = Blueprint("analytics_api", __name__, url_prefix="/api/v1")

    @api.before_request
    def _require_admin() -> Response | None:
        if request.endpoint == "analytics_api.openapi":
            return None
        refused = refusal(request, admin_token(services.settings))
        return None if refused is None else _error(refused.message, refused.status, **refused.headers)

    def _run(build: Callable[..., Any], *, period: bool = True, **kwargs: Any) -> Response:
        """Parse the shared query parameters, run ``build`` in a session, answer JSON (400 on bad input)."""
        now = utcnow()
        try:
            _known_args({"channel", *(("from", "to") if period else ()), *(("limit",) if "limit_arg" in kwargs else ())})
            if period:
                kwargs["period"] = parse_period(request.args.get("from"), request.args.get("to"), now=now)
            limit = kwargs.pop("limit_arg", None)
            if limit is not None:
                kwargs["limit"] = _int_arg("limit", *limit)
        except PeriodError as e:
            return _error(str(e), 400)
        channel = request.args.get("channel") or None
        with services.db.session() as session:
            problem = channel and _channel_problem(session, services.settings, channel)
            if problem:
                return _error(problem, 400)
            doc = build(session, channel=channel, **kwargs)
        response = jsonify(doc)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _costs() -> Costs:
        settings = services.settings
        return Costs(agent_ticket=float(settings.agent_ticket_cost), automated_answer=float(settings.automated_answer_cost),
                     currency=settings.currency)

    @api.get("/stats")
    def stats_view() -> Response:
        return _run(stats, costs=_costs(), now=utcnow())

    @api.get("/stats/series")
    def series_view() -> Response:
        return _run(series, now=utcnow())

    @api.get("/content-gaps")
    def gaps_view() -> Response:
        return _run(content_gaps, now=utcnow(), limit_arg=(10, 1, 50), embed=embed)

    @api.get("/decisions")
    def decisions_view() -> Response:
        return _run(lambda session, **kw: {"decisions": recent_decisions(session, **kw)}, limit_arg=(25, 1, 200))

    @api.get("/decisions/<int:decision_id>")
    def decision_view(decision_id: int) -> Response:
        """One decision in full (``core.analytics.decision_detail``); 404 when there is no such decision."""
        with services.db.session() as session:
            doc = decision_detail(session, decision_id, now=utcnow())
        if doc is None:
            return _error(f"no decision {decision_id}", 404)
        response = jsonify(doc)
        response.headers["Cache-Control"] = "no-store"
        return response

    @api.get("/decisions/<path:decision_id>")
    def decision_not_an_id(decision_id: str) -> Response:
        """``/decisions/abc``, ``/decisions/-1``: no decision, a 404 saying what an id is (as ``/decisions/7`` says
        there is no decision 7), not the generic one for a path no route takes."""
        return _error(f"no decision {decision_id[:80]!r}: a decision id is a whole number from 0 to {MAX_ROW_ID}", 404)

    @api.get("/openapi.json")
    def openapi() -> Response:
        """This document, as this hub serves it: ``AskRequest.channel`` lists the channels ``/api/v1/ask`` accepts
        here (:func:`surfaces.views.known_channels`, the list its unknown-channel check reads), with ``""`` and
        null for the default."""
        spec = json.loads(resources.files("surfaces.http.dashboard").joinpath("openapi.json").read_text(encoding="utf-8"))
        channel = spec["components"]["schemas"]["AskRequest"]["properties"]["channel"]
        channel["enum"] = [*known_channels(services.settings), "", None]
        return jsonify(spec)

    return api
