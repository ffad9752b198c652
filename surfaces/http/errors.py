"""The HTTP error boundary: every error is a JSON ``{"error": ...}`` with a 4xx or 5xx status, but for the pages
of ``/admin``, whose HTTP errors are HTML pages unless the client asks for JSON."""

from __future__ import annotations

import logging
import re
from typing import Callable

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import BadHost, HTTPException, MethodNotAllowed, NotFound

from core.errors import ConfigError, InboundError

log = logging.getLogger("hub")

DATABASE_RETRY_AFTER = "5"  # seconds
_SETTING = re.compile(r"\b(?:HUB|SLACK|ZENDESK|JIRA)_[A-Z0-9_]+\b")


def public_config_error(e: ConfigError) -> str:
    """What an anonymous client is told of a configuration error met while serving: the settings it names, not
    their values (a file path, a model name); the server log has the whole message (``http.config-error``)."""
    names = ", ".join(dict.fromkeys(_SETTING.findall(str(e)))) or "a setting"
    return f"the hub is misconfigured ({names}): an admin must fix it; the server log says how"


def routing_error(e: HTTPException) -> str:
    """What went wrong, in the hub's words, when ``e`` carries werkzeug's generic text for a request no route
    takes (a 404 says "The requested URL was not found on the server..." whatever the path): the path, the method
    or the Host header at fault, and where the routes are listed. Any other error keeps its own description.

    Args:
        e: the HTTP error being answered, in a request context.
    """
    if e.description != type(e).description:  # a message of our own (``abort(404, "no decision 7")``)
        return str(e.description or e.name)
    path = request.path[:200]
    listed = "/api/v1/openapi.json lists the API's routes" if path.startswith("/api/") else "GET / lists where things are"
    if isinstance(request.routing_exception, BadHost):  # before NotFound: werkzeug could not route the request at all
        return "the Host header is not a valid host name"
    if isinstance(e, NotFound):
        return f"there is no route {path}: {listed}"
    if isinstance(e, MethodNotAllowed):
        methods = ", ".join(e.valid_methods or ())
        return f"{request.method} is not allowed on {path}: it takes {methods}"
    return str(e.description or e.name)


def register_errors(app: Flask, page: Callable[[HTTPException], Response | None] | None = None) -> None:
    """Answer JSON for our inbound errors (their status), a configuration error met while serving (503, naming
    the setting), HTTP errors (404, 405, ...) and anything else (500, logged with the path; never the body).

    An HTTP error keeps the headers werkzeug gives it (a 405's ``Allow``, which RFC 9110 15.5.6 requires; a
    401's ``WWW-Authenticate``; a 413's or 429's ``Retry-After``), only its HTML ``Content-Type`` becomes JSON's.

    A database that cannot be reached (``OperationalError``, or a connection that dropped) is a 503 with
    ``Retry-After``: the vendors deliver again, and nothing is lost.

    Args:
        app: the web application.
        page: answers an HTTP error with an HTML page when the path is a page's (the dashboard's
            ``/admin``), ``None`` to leave it JSON.
    """

    @app.errorhandler(InboundError)
    def inbound_error(e: InboundError) -> tuple[Response, int]:
        return jsonify(error=str(e)), e.status

    @app.errorhandler(ConfigError)
    def config_error(e: ConfigError) -> tuple[Response, int]:
        # A setting the boot does not check (the bundled embedding model is loaded on first use) fails the
        # request that needs it: the server cannot serve it until an admin fixes the setting, not a bug (500).
        log.error("http.config-error", extra={"path": request.path, "error": str(e)})
        return jsonify(error=f"service unavailable: {public_config_error(e)}"), 503

    @app.errorhandler(DBAPIError)
    def database_error(e: DBAPIError) -> tuple[Response, int]:
        if not (e.connection_invalidated or isinstance(e, OperationalError)):
            return unexpected(e)
        # The database is unreachable or dropped the connection twice: a fault of the moment, not of the request.
        # A 503 with Retry-After makes Slack, Zendesk and Jira deliver again; nothing was acknowledged.
        log.error("http.database-unavailable", extra={"path": request.path, "error": type(e.orig).__name__})
        response = jsonify(error="service unavailable: the database cannot be reached; try again shortly")
        response.headers["Retry-After"] = DATABASE_RETRY_AFTER
        return response, 503

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        html = page(e) if page is not None else None
        if html is not None:
            return html, e.code or 500
        response = jsonify(error=routing_error(e))
        response.headers.extend((name, value) for name, value in e.get_headers() if name.lower() != "content-type")
        return response, e.code or 500

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> tuple[Response, int]:
        log.exception("http.unhandled", extra={"path": request.path})
        return jsonify(error="internal error"), 500
