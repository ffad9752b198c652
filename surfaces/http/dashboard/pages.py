"""The ``/admin`` pages: the dashboard, one decision, the Slack simulation, login and logout
(:func:`make_pages_blueprint`)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadHost, HTTPException, NotFound
from werkzeug.wrappers import Response as ResponseBase

from connectors.slack import mrkdwn
from core.analytics import decision_detail
from core.models import utcnow
from core.words import plural
from interceptor.compose import shown_against
from surfaces.http.dashboard.auth import (
    CHALLENGE,
    COOKIE,
    NOT_CONFIGURED,
    admin_token,
    refusal,
    session_cookie,
    token_matches,
)
from surfaces.services import Services
from surfaces.simulate.replies import MAX_REPLIES_CHARS, replies_field
from surfaces.http.door import is_https
from surfaces.http.errors import routing_error

MAX_SIMULATED_CHARS = 4000
NEXT = re.compile(r"/admin/[a-z]+(/[0-9]+)?")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _wants_html() -> bool:
    """Whether the client prefers HTML to JSON (a browser): who gets the login form rather than a 401."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def _wants_json() -> bool:
    """Whether the client prefers JSON to HTML (``Accept: application/json``): an ``/admin`` page's errors are
    HTML for anyone else, ``*/*`` and no ``Accept`` included."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _page(template: str, status: int = 200, **context: object) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _refuse(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    if _wants_html():
        response = _page("dashboard/message.html", status, message=message)
    else:
        response = jsonify(error=message)
        response.status_code = status
    response.headers.update(headers or {})
    return response


def admin_error_page(e: HTTPException) -> Response | None:
    """The HTML page, in the dashboard's style, for an HTTP error (404, 405, 400, ...) under ``/admin``, with the
    headers the error carries (a 405's ``Allow``); ``None`` elsewhere, for a client asking for JSON, or for a
    request whose ``Host`` werkzeug cannot read (the JSON error then). For :func:`surfaces.http.errors.register_errors`."""
    if not (request.path == "/admin" or request.path.startswith("/admin/")) or _wants_json():
        return None
    if isinstance(request.routing_exception, BadHost):
        # No URL can be built for a Host werkzeug cannot read (``url_for`` has no adapter), and the page links its
        # stylesheet: rendering it raised, a 500. No browser sends such a Host; the JSON error says what is wrong.
        return None
    routing = type(e).description == e.description  # werkzeug's own words: no route, or no such method
    message = f"There is no page at {request.path}." if routing and isinstance(e, NotFound) else routing_error(e)
    response = _page("dashboard/message.html", e.code or 500, message=message, title=f"{e.code} {e.name}", back=True)
    response.headers.extend((name, value) for name, value in e.get_headers() if name.lower() != "content-type")
    return response


def _next() -> str | None:
    """The admin page the login form came from (only a path under ``/admin/``: never another site)."""
    value = request.form.get("next") or ""
    return value if NEXT.fullmatch(value) else None


def make_pages_blueprint(services: Services) -> Blueprint:
    """Return the blueprint of ``/admin`` (page, one decision's page, login, logout, static files) for the admin
    token in ``services.settings``; the decision page reads ``services.db``."""
    settings = services.settings
    bp = Blueprint(
        "dashboard",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/admin/static",
    )
    bp.add_app_template_global(shown_against, "shown_against")  # a confidence beside its threshold, as drafts show it
    bp.add_app_template_filter(plural, "plural")  # "1 message", "2 messages"
    bp.add_app_template_filter(mrkdwn.to_text, "slack_text")  # mrkdwn as Slack shows it: "#channel", "label (url)"

    def gate() -> Response | None:
        """``None`` for an authenticated admin; else the login form (browsers) or a 401 with the ``Bearer``
        challenge. Without a configured token, the page saying to set it: 401 without a credential, 403 with
        one (:func:`~surfaces.http.dashboard.auth.refusal`)."""
        token = admin_token(settings)
        refused = refusal(request, token)
        if refused is None:
            return None
        if token is None:
            return _refuse(refused.message, refused.status, refused.headers)
        if _wants_html():
            return _page("dashboard/login.html", 200, error=None, next=request.path)
        return _refuse(f"{refused.message} or log in at /admin", refused.status, refused.headers)

    @bp.get("/admin")
    def dashboard() -> Response:
        """The dashboard for an authenticated admin; else the login form (browsers) or a 401 (``gate``)."""
        return gate() or _page("dashboard/admin.html")

    @bp.get("/admin/decisions/<int:decision_id>")
    def decision(decision_id: int) -> Response:
        """One decision: the request, the answer or draft, candidates, confidence, reasons and outcome (404 if none)."""
        refused = gate()
        if refused is not None:
            return refused
        with services.db.session() as session:
            doc = decision_detail(session, decision_id, now=utcnow())
        if doc is None:
            if _wants_json():
                return _refuse(f"There is no decision {decision_id}.", 404)
            return _page("dashboard/message.html", 404, message=f"There is no decision {decision_id}.",
                         title="404 Not Found", back=True)
        return _page("dashboard/decision.html", d=doc)

    @bp.get("/admin/simulate")
    def simulate_form() -> Response:
        """A form: type a Slack message, see what the hub would post (``hub simulate slack`` in the browser)."""
        return gate() or _page("dashboard/simulate.html", text="", replies="", sim=None, error=None, button=None)

    @bp.post("/admin/simulate")
    def simulate_run() -> Response:
        """Run the simulation on the typed text, then each line of the replies field as the asker's reply in the
        thread (``hub simulate slack --reply``), and show every decision and Slack message it led to."""
        refused = gate()
        if refused is not None:
            return refused
        from surfaces.simulate.slack import simulate_slack  # late: it builds an app, which imports this module

        text = (request.form.get("text") or "").strip()
        typed = request.form.get("replies") or ""
        replies, error = replies_field(typed)
        if not text or len(text) > MAX_SIMULATED_CHARS:
            error = f"Type a message of 1 to {MAX_SIMULATED_CHARS} characters."
        if error:
            return _page("dashboard/simulate.html", 400, text=text[:MAX_SIMULATED_CHARS], replies=typed[:MAX_REPLIES_CHARS],
                         sim=None, error=error, button=None)
        button = request.form.get("click") if request.form.get("click") in ("solved", "not_solved") else None
        with tempfile.TemporaryDirectory(prefix="hub-simulate-") as workdir:
            sim = simulate_slack(text, services.settings, Path(workdir), click=button, replies=replies)
        return _page("dashboard/simulate.html", text=text, replies=typed, sim=sim, error=None, button=button)

    @bp.post("/admin/login")
    def login() -> ResponseBase:
        """Exchange the admin token typed into the form for a session cookie (HttpOnly, SameSite=Strict).

        Without a configured token the form's submission is a 403: it offers a credential that nothing can accept.
        """
        token = admin_token(settings)
        if token is None:
            return _refuse(NOT_CONFIGURED, 403)
        offered = (request.form.get("token") or "").strip()
        if not offered or not token_matches(token, offered):
            if not _wants_html():  # a script gets the JSON error every other 4xx has
                return _refuse("that token is not the admin token", 401, CHALLENGE)
            page = _page("dashboard/login.html", 401, error="That token is not the admin token.", next=_next())
            page.headers.update(CHALLENGE)  # every 401 names its scheme (RFC 9110 15.5.2); browsers prompt for none
            return page
        value, max_age = session_cookie(token)
        response = redirect(_next() or url_for("dashboard.dashboard"), code=303)
        response.set_cookie(COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="Strict", secure=is_https(request))
        return response

    @bp.post("/admin/logout")
    def logout() -> ResponseBase:
        """Forget the session cookie."""
        response = redirect(url_for("dashboard.dashboard"), code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=is_https(request))
        return response

    return bp
