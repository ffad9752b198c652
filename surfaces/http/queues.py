"""The work queues for admins: ``GET /api/v1/queues`` (health, the failed rows, what else waits for an admin) and
``POST /api/v1/queues/retry`` (re-queue failed rows; the dashboard's action). Admin token required."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from core import queues
from surfaces.attention import held_json, notices_json
from surfaces.http.bodies import json_object
from surfaces.http.dashboard.auth import admin_token, refusal
from surfaces.http.door import MAX_ROW_ID
from surfaces.services import Services

MAX_IDS = 1000


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _row_id(value: object) -> bool:
    # NOTE(postgresql): an id past an INTEGER key's range fails the query ("integer out of range"); SQLite's past 2**63.
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID


def make_queues_blueprint(services: Services) -> Blueprint:
    """Return the blueprint of the queue endpoints for ``services``."""
    bp = Blueprint("queues_api", __name__, url_prefix="/api/v1/queues")

    @bp.before_request
    def _require_admin() -> Response | None:
        refused = refusal(request, admin_token(services.settings))
        return None if refused is None else _error(refused.message, refused.status, refused.headers)

    @bp.get("")
    def health() -> Response:
        """The queues' figures, the failed rows (newest first, at most 100 per queue) with their errors, the thread
        messages held for a follow-up of their closed ticket (``held``) and the vendor notices of the last 24 hours
        (``notices``): :mod:`surfaces.attention`."""
        status, details = queues.health_report(services.db)
        failed: dict[str, list[dict[str, Any]]] = {}
        with services.db.session() as s:
            for name, model in queues.QUEUES.items():
                rows = s.execute(
                    select(model.id, model.ticket_ref, model.attempts, model.last_error, model.finished_at)
                    .where(model.status == "failed")
                    .order_by(model.id.desc())
                    .limit(100)
                )
                failed[name] = [
                    {"id": r.id, "ticket_ref": r.ticket_ref, "attempts": r.attempts, "error": r.last_error,
                     "failed_at": r.finished_at.isoformat() if r.finished_at else None}
                    for r in rows
                ]
        response = jsonify(status=status, **details, failed=failed, held=held_json(services.db, services.connectors),
                           notices=notices_json(services.db))
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.post("/retry")
    def retry() -> Response:
        """Re-queue failed rows: ``{"queue": "inbox"|"outbox"|null, "ids": [..]|null}`` (JSON only, which a
        cross-site form cannot send: 415 otherwise; an unknown field is a 400). Answers the re-queued ids by queue."""
        body = json_object(("queue", "ids"), '{"queue": "inbox" | "outbox" | null, "ids": [row ids] | null}')
        queue, ids = body.get("queue"), body.get("ids")
        if queue is not None and (not isinstance(queue, str) or queue not in queues.QUEUES):  # [] in a dict raises
            return _error(f"'queue' must be one of {', '.join(queues.QUEUES)} or null", 400)
        if ids is not None and (not isinstance(ids, list) or len(ids) > MAX_IDS or not all(_row_id(i) for i in ids)):
            return _error(f"'ids' must be a list of at most {MAX_IDS} row ids (whole numbers from 1 to {MAX_ROW_ID}) or null", 400)
        if ids is not None and queue is None:
            return _error("'ids' needs a 'queue'", 400)
        done = queues.retry_failed(services.db, services.jobs, queue, ids)
        requeued = {name: done.get(name, []) for name in queues.QUEUES}  # the queue not asked for: none re-queued
        return jsonify(requeued=requeued, health=asdict(queues.queue_health(services.db)[queue or "outbox"]))

    return bp
