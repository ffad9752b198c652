"""The web channel: ``POST /api/v1/ask`` (a decision on one question, recorded as a ``web`` request like any
other channel's unless ``"record": false``), ``POST /api/v1/feedback`` (the asker's "did this solve it?") and
``GET /api/v1/suggest?q=`` (articles to suggest while a ticket form is typed; not recorded).

Bad input is an :class:`~core.errors.InboundError` with a 4xx status; the app's error handler turns it into
``{"error": ...}``. The routes use the services' interceptor, built on first use (building loads the KB index).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request

from core.errors import InboundError
from core.models import Person, Source, Ticket, TicketRef
from interceptor import record
from interceptor.act import is_answer
from surfaces.services import Services
from surfaces.views import MAX_TEXT_CHARS, WEB_CHANNEL, candidate_json, channel_problem, decision_json

MAX_BODY_BYTES = 64 * 1024
MAX_SUGGEST_K = 20


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InboundError(f"{name} is required: a non-empty string", status=400)
    if len(value) > MAX_TEXT_CHARS:
        raise InboundError(f"{name} is too long: {len(value)} characters, at most {MAX_TEXT_CHARS}", status=413)
    return value.strip()


def make_api_blueprint(services: Services) -> Blueprint:
    """Return the web channel's blueprint (``/api/v1/ask``, ``/feedback``, ``/suggest``) serving ``services``."""
    bp = Blueprint("interceptor_api", __name__, url_prefix="/api/v1")

    @bp.post("/ask")
    def ask() -> Response:
        """Decide on one question: ``{"text": ..., "channel"?, "email"?, "record"?}`` -> the decision as JSON,
        with the agents' ``draft`` when it goes to a person and the ``ref`` to send feedback for (``None`` when
        ``"record": false``: nothing is stored, as for ``hub ask``).

        Raises:
            InboundError: 415 not JSON, 413 too large, 400 not an object, no text, an unknown channel, a bad
                email or ``record`` not a boolean.
        """
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise InboundError(f"the body is too large: at most {MAX_BODY_BYTES} bytes", status=413)
        if not request.is_json:
            raise InboundError("the body must be JSON (Content-Type: application/json)", status=415)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InboundError('the body must be a JSON object like {"text": "..."}', status=400)
        text = _text(body.get("text"), "text")
        channel = body.get("channel")
        channel = WEB_CHANNEL if channel is None or channel == "" else channel
        problem = channel_problem(channel, services.settings)
        if problem is not None:
            raise InboundError(problem, status=400)
        email = body.get("email")
        # NOTE: 254 characters is the longest address SMTP carries (RFC 5321 4.5.3.1.3), and it is the asker's id (255).
        if email is not None and (not isinstance(email, str) or "@" not in email or len(email) > 254):
            raise InboundError("email must be an email address", status=400)
        keep = body.get("record", True)
        if not isinstance(keep, bool):
            raise InboundError("record must be true or false", status=400)
        decision = services.interceptor().decide(text, channel=channel)
        if not keep:
            return jsonify({**decision_json(decision), "ref": None})
        ref = TicketRef(Source.WEB, uuid.uuid4().hex)
        # Without an email every request is its own person: anonymous askers must not count as one re-contacting.
        asker = Person(external_id=email.strip().lower() if email else f"anonymous:{ref.external_id}", email=email)
        with services.db.session() as s:
            decided = record.record_request(s, Ticket(ref, text[:200], text, asker), decision, inbox_event_id=None)
            decided.channel = channel
            if is_answer(decision):
                record.record_outcome(s, ref, "answer_posted", decision_id=decided.id)  # the response carries it
        return jsonify({**decision_json(decision), "ref": str(ref)})

    @bp.post("/feedback")
    def feedback() -> Response:
        """Record the asker's verdict on an answer: ``{"ref": "web:...", "solved": true|false}``.

        ``solved`` is a verified resolution; ``false`` records ``not_solved`` and hands the request to a person
        (``escalated``), as "I still need help" does in Slack. Only the first verdict counts.

        Raises:
            InboundError: 415 not JSON, 400 a bad body, 404 an unknown ``ref``, 409 when the hub did not answer it.
        """
        if not request.is_json:
            raise InboundError("the body must be JSON (Content-Type: application/json)", status=415)
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("solved"), bool):
            raise InboundError('the body must be a JSON object like {"ref": "web:...", "solved": true}', status=400)
        try:
            ref = TicketRef.parse(str(body.get("ref", "")))
        except ValueError:
            raise InboundError("ref must be the ref /api/v1/ask returned (web:...)", status=400) from None
        if ref.source is not Source.WEB:
            raise InboundError("ref must be the ref /api/v1/ask returned (web:...)", status=400)
        with services.db.session() as s:
            first = record.first_decision(s, ref)
            if first is None:
                raise InboundError(f"no request {ref}", status=404)
            if not record.was_answered(s, ref):
                raise InboundError(f"the hub did not answer {ref}: there is no answer to rate", status=409)
            if record.has_outcome(s, ref, "solved") or record.has_outcome(s, ref, "not_solved"):
                return jsonify({"ref": str(ref), "recorded": False})
            if body["solved"]:
                record.record_outcome(s, ref, "solved", decision_id=first.id, via="web")
            else:
                record.record_outcome(s, ref, "not_solved", decision_id=first.id, via="web")
                record.record_outcome(s, ref, "escalated", decision_id=first.id, reason="not_solved")
        return jsonify({"ref": str(ref), "recorded": True})

    @bp.get("/suggest")
    def suggest() -> Response:
        """Suggest articles for ``q`` (optional ``k``, 1 to 20): ``{"query": q, "articles": [...]}``.

        Raises:
            InboundError: 400 when ``q`` is missing or blank or ``k`` is not a number in range, 413 when
                ``q`` is too long.
        """
        q = _text(request.args.get("q"), "q")
        try:
            k = int(request.args.get("k", "5"))
        except ValueError:
            raise InboundError(f"k must be a whole number from 1 to {MAX_SUGGEST_K}", status=400) from None
        if not 1 <= k <= MAX_SUGGEST_K:
            raise InboundError(f"k must be a whole number from 1 to {MAX_SUGGEST_K}", status=400)
        candidates = services.interceptor().suggest(q, k=k)
        return jsonify({"query": q, "articles": [candidate_json(c) for c in candidates]})

    return bp
