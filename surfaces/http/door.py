"""Limits at the HTTP door (issue 11 items 1 and 8), installed on the app once, for every route.

- Bodies over ``HUB_MAX_BODY_BYTES`` are a 413 before they are read (:class:`BodyLimit`): a declared
  ``Content-Length`` is checked before the app runs, and a chunked body without one is cut off at the limit.
- A body sent with a ``Content-Encoding`` other than ``identity`` (``gzip``, ``deflate``, ``br``) is a 415 on every
  route that takes a body (:func:`refuse_encoded_body`): the hub never decodes one, and would otherwise answer it
  400 "not JSON" or a bad signature.
- ``request.get_json()`` decodes strictly everywhere (:func:`connectors.inbound.json_body`: bounded nesting, no
  lone surrogates, no NUL, no ``NaN``), so no JSON body can reach a view that the database or a response cannot
  hold; a query string with a NUL (``%00``) is a 400 for the same reason (PostgreSQL text holds no NUL), and an
  ``<int:...>`` path value beyond an INTEGER key is a 404 before any query.
- ``/api/v1/ask``, ``/feedback`` and ``/suggest`` are rate-limited per client (Flask-Limiter; in memory, or the
  Redis named by ``HUB_RATE_LIMIT_STORAGE``, under keys prefixed with ``HUB_BROKER_QUEUE_PREFIX``), answering 429
  JSON with ``Retry-After``.
- ``/metrics`` requires ``Authorization: Bearer <HUB_METRICS_TOKEN>`` when that token is set.
- ``HUB_TRUSTED_PROXIES`` hops of ``X-Forwarded-For``/``-Proto`` are believed (werkzeug's ``ProxyFix``), so the
  rate limits count real clients behind a load balancer.
"""

from __future__ import annotations

import hmac
import io
import logging
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wsgi import get_content_length

from config.edge import EdgeSettings
from connectors.inbound import json_body
from core.db import MAX_ROW_ID
from core.errors import PayloadError
from core.telemetry import count

log = logging.getLogger(__name__)

LIMITED_ENDPOINTS = ("interceptor_api.ask", "interceptor_api.feedback", "interceptor_api.suggest")
METRICS_ENDPOINT = "health.metrics"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # the methods whose routes read a body (only POST today)
UNSUPPORTED_ENCODING = "Content-Encoding is not supported: send the body unencoded (no Content-Encoding, or identity)"


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, decoding the way webhook bodies are decoded (a failure is a ``ValueError``: Flask then
    answers 400, or ``None`` for ``get_json(silent=True)``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json_body(s, "request")
        except PayloadError as e:
            raise ValueError(str(e)) from e


class BodyLimit:
    """WSGI middleware: a body over ``limit`` bytes is a 413 before the app reads it.

    A declared ``Content-Length`` over the limit is refused without reading a byte. A body without one
    (``Transfer-Encoding: chunked``) is read up to ``limit + 1`` bytes: over the limit it is refused, else the
    app gets it as an ordinary body of known length. The refusal is answered by ``flask_app``'s error handlers
    (JSON, or the dashboard's HTML page under ``/admin``), which never read the body.

    NOTE(waitress): waitress buffers a whole body before calling the app; ``hub serve`` passes it
    ``max_request_body_size`` so that it stops reading an oversized body itself.
    """

    def __init__(self, app: Any, limit: int, flask_app: Flask) -> None:
        self.app, self.limit, self.flask = app, limit, flask_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = get_content_length(environ)
        if length is not None and length > self.limit:
            return self._refuse(environ, start_response)
        if length is None and environ.get("wsgi.input_terminated"):
            data = environ["wsgi.input"].read(self.limit + 1)
            if len(data) > self.limit:
                return self._refuse(environ, start_response)
            environ.update({"wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))})
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _refuse(self, environ: dict[str, Any], start_response: Any) -> Any:
        count("http_refused", reason="too_large")
        log.info("http.body-too-large", extra={"path": environ.get("PATH_INFO")})
        error = RequestEntityTooLarge(f"the body is larger than {self.limit} bytes (HUB_MAX_BODY_BYTES)")
        with self.flask.request_context(environ):
            response = self.flask.make_response(self.flask.handle_http_exception(error))
        response.headers.pop("Connection", None)  # hop-by-hop (PEP 3333)
        return response(environ, start_response)


class EncodedBody(UnsupportedMediaType):
    """415 for a body the client content-coded. RFC 9110 15.5.16: the answer names the codings that would have been
    accepted in ``Accept-Encoding`` (here ``identity`` only)."""

    description = UNSUPPORTED_ENCODING

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        return [*super().get_headers(environ, scope), ("Accept-Encoding", "identity")]


def content_coded(headers: Headers) -> bool:
    """Whether ``headers`` say the body is content-coded: a ``Content-Encoding`` naming anything but ``identity``
    (case-insensitive, in a list like ``gzip, identity`` or over several header lines). Absent or empty: not."""
    codings = (c.strip().lower() for line in headers.getlist("Content-Encoding") for c in line.split(","))
    return any(c and c != "identity" for c in codings)


def is_https(req: Request) -> bool:
    """Whether the browser reached us over HTTPS: directly, or through a proxy that says so
    (``X-Forwarded-Proto: https``). Used to mark the admin cookie ``Secure``; believing the header can only
    make the cookie stricter."""
    forwarded = req.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return req.is_secure or forwarded == "https"


def install(app: Flask, edge: EdgeSettings) -> Limiter:
    """Install the door's limits on ``app`` (after its blueprints are registered).

    Args:
        app: the web application.
        edge: the limits (:class:`config.edge.EdgeSettings`).

    Returns:
        The rate limiter (disabled when ``HUB_RATE_LIMIT=off``).
    """
    app.config["MAX_CONTENT_LENGTH"] = edge.max_body_bytes
    app.json = StrictJSONProvider(app)
    app.wsgi_app = BodyLimit(app.wsgi_app, edge.max_body_bytes, app)  # type: ignore[method-assign]
    if edge.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=edge.trusted_proxies, x_proto=edge.trusted_proxies)  # type: ignore[method-assign]

    @app.before_request
    def refuse_nul_in_the_query() -> None:
        # NOTE(postgresql): text holds no NUL character; a ?channel=%00 would otherwise reach a query and fail.
        query = request.query_string
        if b"\x00" in query or b"%00" in query:
            raise BadRequest("the query string holds a NUL character (%00)")

    @app.before_request
    def refuse_ids_out_of_range() -> None:
        # NOTE(postgresql): an <int:...> path value past 2**31 - 1 fails the query ("integer out of range").
        if any(isinstance(v, int) and not 0 <= v <= MAX_ROW_ID for v in (request.view_args or {}).values()):
            raise NotFound(f"no such id: ids run from 0 to {MAX_ROW_ID}")

    @app.before_request
    def refuse_encoded_body() -> None:
        # One place for every route that takes a body (the API, the webhooks, the admin forms); none decodes a
        # content coding, so a gzip body would be a 400 "not JSON" or a 401 (the bytes signed are not the JSON).
        # Order: like the 413, before the body is read and before any signature or token is checked. It is decided
        # from a header alone, costs no read and no HMAC, and tells a forger nothing about a secret: an unsigned
        # request without a Content-Encoding still gets the 401 it got; with one it gets the 415 whoever signed
        # it. Routing errors come first (a 404 or 405 stays one); a GET's body is never read, so it is left alone.
        if request.method in BODY_METHODS and request.url_rule is not None and content_coded(request.headers):
            count("http_refused", reason="content_encoding")
            log.info("http.content-encoding-refused", extra={"path": request.path})
            raise EncodedBody()

    token = edge.metrics_token.reveal() if edge.metrics_token is not None else None

    @app.before_request
    def metrics_token() -> Response | None:
        if token is None or request.endpoint != METRICS_ENDPOINT:
            return None
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode("utf-8", "replace"), token.encode()):
            return None
        response = jsonify(error="metrics token required: send 'Authorization: Bearer <HUB_METRICS_TOKEN>'")
        response.status_code, response.headers["WWW-Authenticate"] = 401, 'Bearer realm="hub-metrics"'
        return response

    return _rate_limits(app, edge)


class _OneLine(logging.Filter):
    """flask-limiter logs a rate-limit store that is down (``swallow_errors``) with a full traceback, on every
    limited request: one line instead, naming the error (the house style; the traceback says nothing more)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg, record.args = "%s (%s: %s)", (record.getMessage(), type(error).__name__, str(error)[:300])
            record.exc_info, record.exc_text = None, None
        return True


def _rate_limits(app: Flask, edge: EdgeSettings) -> Limiter:
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, _OneLine) for f in limiter_log.filters):
        limiter_log.addFilter(_OneLine())
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=edge.rate_limit_storage,
        key_prefix=edge.rate_limit_prefix,  # LIMITS:LIMITER/<prefix>/<client>/<endpoint>/...: one count per deployment
        headers_enabled=True,
        swallow_errors=True,  # a rate-limit store that is down lets requests through rather than failing them
        enabled=edge.rate_limit is not None,
    )
    if edge.rate_limit is not None:
        for endpoint in LIMITED_ENDPOINTS:
            view = app.view_functions.get(endpoint)
            if view is not None:
                app.view_functions[endpoint] = limiter.limit(edge.rate_limit)(view)  # type: ignore[assignment]

    @app.errorhandler(RateLimitExceeded)
    def too_many(e: RateLimitExceeded) -> tuple[Response, int]:
        count("http_refused", reason="rate_limited")
        log.info("http.rate-limited", extra={"endpoint": request.endpoint})
        return jsonify(error=f"too many requests from this client: at most {e.description}"), 429

    return limiter
