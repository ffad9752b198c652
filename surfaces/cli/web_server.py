"""The web server ``hub serve`` runs: waitress, answering what it refuses itself with a 4xx.

NOTE(waitress): its parser answers a ``Transfer-Encoding`` other than ``chunked`` (``gzip``, ``gzip, chunked``,
``identity``) with ``501 Not Implemented``. RFC 9112 6.3 asks for a 400 when ``chunked`` is not the final coding,
and a coding a client chose is the client's error either way: no request makes the hub answer 5xx.
"""

from __future__ import annotations

import socket
from typing import Any

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.utilities import BadRequest, ServerNotImplemented

UNSUPPORTED_CODING = "Transfer-Encoding other than chunked is not supported: send the body as it is, or chunked"


class _Parser(HTTPRequestParser):
    """waitress's request parser, with its 501 for an unsupported transfer coding turned into a 400."""

    error: Any  # waitress's: the error to answer instead of calling the app, or None

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if isinstance(self.error, ServerNotImplemented):
            self.error = BadRequest(UNSUPPORTED_CODING)
        return consumed


class _Channel(HTTPChannel):  # type: ignore[misc]
    parser_class = _Parser


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
    server = create_server(app, sockets=[listening], threads=threads, ident="hub", max_request_body_size=max_request_body_size)
    server.channel_class = _Channel  # one socket: one server, whose accepted connections use this channel
    return server
