"""What the web server ``hub serve`` runs refuses before the app sees a request, found attacking a served hub:
waitress answered a ``Content-Length`` that is no number, a body past its own limit or a malformed chunk in ``text/plain``; every 4xx is the JSON ``{"error": ...}`` (README, HTTP), those too."""

from __future__ import annotations

import json
import socket
from typing import Any, Iterator

import pytest

from app import build_hub
from config import load_settings
from tests.conftest import settings_dict
from tests.test_http_limits import LIMIT, rows, waitress
from tests.test_zendesk_connector import ZENDESK

HEAD = b"POST /webhooks/zendesk HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[Any, int]]:
    hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_MAX_BODY_BYTES=str(LIMIT), **ZENDESK)))
    try:
        with waitress(hub) as base:
            yield hub, int(base.rsplit(":", 1)[1])
    finally:
        hub.close()


def exchange(port: int, request: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """Send ``request`` as it is and read the answer to the end: its status line, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, _, v in (line.partition(b":") for line in lines)}
    return status, headers, body


@pytest.mark.parametrize("request_bytes, status, error", [
    (HEAD + b"Content-Length: abc\r\n\r\n{}", b"HTTP/1.1 400 Bad Request", "Bad Request: Content-Length is invalid"),
    (HEAD + b"Content-Length: -1\r\n\r\n{}", b"HTTP/1.1 400 Bad Request", "Bad Request: Content-Length is invalid"),
    (HEAD + b"Content-Length: 99999999999999999999\r\n\r\n{}", b"HTTP/1.1 413 Request Entity Too Large",
     f"Request Entity Too Large: exceeds max_body of {4 * LIMIT}"),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", b"HTTP/1.1 400 Bad Request",
     "Bad Request: Invalid chunk size"),
    (HEAD + b"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n", b"HTTP/1.1 400 Bad Request",
     "Bad Request: Transfer-Encoding other than chunked is not supported: send the body as it is, or chunked"),
])
def test_what_waitress_refuses_itself_is_a_json_error(served: tuple[Any, int], request_bytes: bytes, status: bytes,
                                                      error: str) -> None:
    hub, port = served
    answered, headers, body = exchange(port, request_bytes)
    assert answered == status
    assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body)
    assert json.loads(body) == {"error": error}
    assert rows(hub) == []


def test_a_request_the_server_accepts_still_gets_the_apps_answer(served: tuple[Any, int]) -> None:
    _, port = served
    status, headers, body = exchange(port, HEAD + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert status == b"HTTP/1.1 401 UNAUTHORIZED" and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "missing Zendesk webhook signature headers"}
