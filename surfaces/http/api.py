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
from surfaces.http.bodies import json_object
from surfaces.services import Services
from surfaces.views import MAX_TEXT_CHARS, WEB_CHANNEL, candidate_json, channel_problem, decision_json

MAX_BODY_BYTES = 64 * 1024
MAX_SUGGEST_K = 20
ASK_FIELDS = frozenset({"text", "channel", "email", "record"})
FEEDBACK_FIELDS = frozenset({"ref", "solved"})


def _text(value: Any, name: str) -> str:
    """``value`` stripped, when it is a string with a non-blank character and at most ``MAX_TEXT_CHARS`` long.

    Raises:
        InboundError: 400 when it is missing, blank or too long: a field or query parameter over its
            ``maxLength`` is a bad request (413 is for a body over the byte limit, whatever it holds).
    """
    if not isinstance(value, str) or not value.strip():
        raise InboundError(f"{name} is required: a non-empty string", status=400)
    if len(value) > MAX_TEXT_CHARS:
        raise InboundError(f"{name} is too long: {len(value)} characters, at most {MAX_TEXT_CHARS}", status=400)
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
            InboundError: 415 not JSON, 413 a body over ``MAX_BODY_BYTES``, 400 not an object, an unknown field,
                no text or a text over ``MAX_TEXT_CHARS``, an unknown channel, a bad email or ``record`` not a boolean.
        """
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise InboundError(f"the body is too large: at most {MAX_BODY_BYTES} bytes", status=413)
        body = json_object(ASK_FIELDS, '{"text": "..."}')
        text = _text(body.get("text"), "text")
        channel = body.get("channel")
        channel = WEB_CHANNEL if channel is None or channel == "" else channel
        problem = channel_problem(channel, services.settings)
        if problem is not None:
            raise InboundError(problem, status=400)
        # NOTE: 254 characters is the longest address SMTP carries (RFC 5321 4.5.3.1.3), and it is the asker's id (255),
        # measured as stored: lower-cased, which can lengthen it ("İ" is two characters lower-cased; PostgreSQL then
        # refused the row, a 500).
        email = body.get("email")
        email = email.strip().lower() if isinstance(email, str) else email
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
        asker = Person(external_id=email if email else f"anonymous:{ref.external_id}", email=email)
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
            InboundError: 415 not JSON, 400 a bad body (an unknown field, no boolean ``solved``, a ``ref`` that
                is not ``web:...``), 404 an unknown ``ref``, 409 when the hub did not answer it.
        """
        example = '{"ref": "web:...", "solved": true}'
        body = json_object(FEEDBACK_FIELDS, example)
        if not isinstance(body.get("solved"), bool):
            raise InboundError(f"the body must be a JSON object like {example}", status=400)
        try:
            ref = TicketRef.parse(str(body.get("ref", "")))
        except ValueError:
            raise InboundError("ref must be the ref /api/v1/ask returned (web:...)", status=400) from None
        if ref.source is not Source.WEB:
            raise InboundError("ref must be the ref /api/v1/ask returned (web:...)", status=400)
        with services.db.session() as s:
            first = record.lock_request(s, ref)  # a concurrent verdict on the same request waits here
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
            InboundError: 400 when ``q`` is missing, blank or too long, or ``k`` is not a whole number in range.
        """
        q = _text(request.args.get("q"), "q")
        raw_k = request.args.get("k", "5")
        # ASCII digits only: int() also takes " 5", "+5", "1_0" and "٥", which the spec's integer does not.
        if not (raw_k.isascii() and raw_k.isdigit() and len(raw_k) <= 9) or not 1 <= int(raw_k) <= MAX_SUGGEST_K:
            raise InboundError(f"k must be a whole number from 1 to {MAX_SUGGEST_K}", status=400)
        k = int(raw_k)
        candidates = services.interceptor().suggest(q, k=k)
        return jsonify({"query": q, "articles": [candidate_json(c) for c in candidates]})

    return bp
