"""The web server ``hub serve`` runs: waitress, answering what it refuses itself with a 4xx.

NOTE(waitress): it stops accepting connections at ``connection_limit`` open ones (100 by default) and closes an
idle one after ``channel_timeout`` (120 s): 100 connections that send half a request from one client left every
webhook unanswered for two minutes. The limit here is what the process's file descriptors allow (up to
:data:`MAX_CONNECTIONS`, with ``poll`` rather than ``select``, which stops at descriptor 1024), and an idle
connection is closed after :data:`IDLE_SECONDS`.

NOTE(waitress): its parser answers a ``Transfer-Encoding`` other than ``chunked`` (``gzip``, ``gzip, chunked``,
``identity``) with ``501 Not Implemented``. RFC 9112 6.3 asks for a 400 when ``chunked`` is not the final coding,
and a coding a client chose is the client's error either way: no request makes the hub answer 5xx.

NOTE(waitress): what it refuses before the app runs (a ``Content-Length`` that is no number, headers past its
limit, a body past ``max_request_body_size``, a malformed chunk) it answers in ``text/plain``; here it is the JSON
``{"error": ...}`` the app answers every other 4xx with, so a client reads every refusal the same way.
"""

from __future__ import annotations

import json
import resource
import socket
from typing import Any

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask
from waitress.utilities import BadRequest, ServerNotImplemented

MAX_CONNECTIONS = 2000
IDLE_SECONDS = 30
UNSUPPORTED_CODING = "Transfer-Encoding other than chunked is not supported: send the body as it is, or chunked"


class _Parser(HTTPRequestParser):
    """waitress's request parser, with its 501 for an unsupported transfer coding turned into a 400."""

    error: Any  # waitress's: the error to answer instead of calling the app, or None

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if isinstance(self.error, ServerNotImplemented):
            self.error = BadRequest(UNSUPPORTED_CODING)
        return consumed


class _JSONErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's answer to a request it refuses itself, as JSON: ``{"error": "Bad Request: Content-Length is
    invalid"}`` (its reason and its words), with the status it chose; the connection closes after it, as waitress's."""

    def execute(self) -> None:
        error = self.request.error
        body = json.dumps({"error": f"{error.reason}: {error.body}"}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    parser_class = _Parser
    error_task_class = _JSONErrorTask


def web_server(app: Any, listening: socket.socket, *, threads: int, max_request_body_size: int) -> Any:
    """Return a waitress server of ``app`` on the bound socket ``listening`` (not yet running).

    Args:
        app: the WSGI application.
        listening: a bound, listening TCP socket.
        threads: request threads.
        max_request_body_size: where waitress stops reading a body and answers 413 itself.

    Returns:
        The server; ``run()`` serves until ``close()``.
    """
    server = create_server(app, sockets=[listening], threads=threads, ident="hub", max_request_body_size=max_request_body_size,
                           connection_limit=connection_limit(), channel_timeout=IDLE_SECONDS, asyncore_use_poll=True)
    server.channel_class = _Channel  # one socket: one server, whose accepted connections use this channel
    return server


def connection_limit() -> int:
    """How many connections the server holds open at once: half the process's file descriptors (the rest are
    the database's, the logs', the worker pipe's), at least waitress's 100 and at most :data:`MAX_CONNECTIONS`."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(100, min(MAX_CONNECTIONS, soft // 2))
