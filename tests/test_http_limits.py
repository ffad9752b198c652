"""The door's limits through the real app (issue 11 items 1 and 8): 413 before a large body is read, strict JSON
everywhere, per-client rate limits (in memory, and shared through Redis), the ``/metrics`` token, and a
``Secure`` admin cookie behind HTTPS."""

from __future__ import annotations

import io
import logging
import os
import socket
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
import redis
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from core.db import InboxEvent
from core.errors import ConfigError
from tests.brokers import unique_prefix
from tests.conftest import settings_dict
from tests.test_zendesk_connector import ZENDESK

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LIMIT = 2048


class CountingStream(io.BytesIO):
    """A request body that records how much of it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.consumed += len(line)
        return line


def serve(url: str, **overrides: Any) -> tuple[Any, Any]:
    hub = build_hub(load_settings(settings_dict(url, **overrides)))
    return hub, create_app(hub=hub).test_client()


@pytest.fixture
def small(sqlite_url: str) -> Iterator[tuple[Any, Any]]:
    hub, client = serve(sqlite_url, HUB_MAX_BODY_BYTES=str(LIMIT), **ZENDESK)
    yield hub, client
    hub.close()


def rows(hub: Any) -> list[InboxEvent]:
    with hub.db.session() as s:
        return list(s.scalars(select(InboxEvent)))


@pytest.mark.parametrize("path", ["/webhooks/zendesk", "/webhooks/jira", "/api/v1/ask", "/api/v1/feedback", "/nope"])
def test_a_declared_large_body_is_413_before_it_is_read(small: tuple[Any, Any], path: str) -> None:
    hub, client = small
    stream = CountingStream(b"{" + b" " * (10 * LIMIT) + b"}")
    response = client.open(path, method="POST", input_stream=stream, content_length=10 * LIMIT + 2,
                           content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": f"the body is larger than {LIMIT} bytes (HUB_MAX_BODY_BYTES)"}
    assert stream.consumed == 0 and rows(hub) == []


def test_a_large_body_posted_to_an_admin_page_gets_the_dashboards_html_413(small: tuple[Any, Any]) -> None:
    _, client = small
    for accept in ({}, {"Accept": "text/html,application/xhtml+xml"}):  # curl, a browser's form post
        stream = CountingStream(b"token=" + b"x" * (10 * LIMIT))
        page = client.open("/admin/login", method="POST", input_stream=stream, content_length=10 * LIMIT + 6,
                           content_type="application/x-www-form-urlencoded", headers=accept)
        body = page.get_data(as_text=True)
        assert page.status_code == 413 and page.content_type == "text/html; charset=utf-8"
        assert f"the body is larger than {LIMIT} bytes (HUB_MAX_BODY_BYTES)" in body and "/admin/static/dashboard.css" in body
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"] and stream.consumed == 0
    wants_json = client.post("/admin/login", data=b"x" * (2 * LIMIT), headers={"Accept": "application/json"})
    assert wants_json.status_code == 413 and wants_json.get_json()["error"].endswith("(HUB_MAX_BODY_BYTES)")


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(small: tuple[Any, Any]) -> None:
    hub, client = small
    stream = CountingStream(b'{"a": "' + b"x" * (100 * LIMIT) + b'"}')
    response = client.open("/webhooks/zendesk", method="POST", input_stream=stream, content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and response.get_json()["error"]
    assert stream.consumed <= 2 * LIMIT + 64 * 1024  # read in chunks up to the limit, never the 200 KB
    assert rows(hub) == []


def test_the_default_limit_is_one_mebibyte(sqlite_url: str) -> None:
    hub, client = serve(sqlite_url)
    try:
        assert hub.settings.edge.max_body_bytes == 1024 * 1024
        over = client.post("/api/v1/feedback", data=b" " * (1024 * 1024 + 1), content_type="application/json")
        assert over.status_code == 413
    finally:
        hub.close()


@pytest.mark.parametrize(
    "body", [b'{"text": "\\ud800"}', b'{"text": "how", "channel": "\\udfff"}', b"[" * 100 + b"]" * 100, b'{"text": NaN}']
)
def test_the_api_decodes_json_strictly(small: tuple[Any, Any], body: bytes) -> None:
    _, client = small
    for path in ("/api/v1/ask", "/api/v1/feedback"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["error"]


def test_ask_suggest_and_feedback_are_rate_limited_per_client(sqlite_url: str) -> None:
    hub, client = serve(sqlite_url, HUB_RATE_LIMIT="3/minute", **ZENDESK)
    try:
        alice, bob = {"REMOTE_ADDR": "10.0.0.1"}, {"REMOTE_ADDR": "10.0.0.2"}
        statuses = [client.get("/api/v1/suggest?q=export", environ_base=alice).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/api/v1/suggest?q=export", environ_base=alice)
        assert refused.get_json() == {"error": "too many requests from this client: at most 3 per 1 minute"}
        assert int(refused.headers["Retry-After"]) > 0
        assert client.get("/api/v1/suggest?q=export", environ_base=bob).status_code == 200  # another client
        ask = [client.post("/api/v1/ask", json={"text": "hi"}, environ_base=alice).status_code for _ in range(4)]
        assert ask[:3] != [429] * 3 and ask[3] == 429  # each route has its own budget
        # the vendors' webhooks and the health check are not limited
        assert all(client.get("/healthz", environ_base=alice).status_code != 429 for _ in range(5))
        assert all(client.post("/webhooks/zendesk", data=b"{}", environ_base=alice).status_code == 401 for _ in range(5))
    finally:
        hub.close()


def test_behind_trusted_proxies_clients_are_told_apart_by_x_forwarded_for(sqlite_url: str) -> None:
    hub, client = serve(sqlite_url, HUB_RATE_LIMIT="1/minute", HUB_TRUSTED_PROXIES="1")
    try:
        proxy = {"REMOTE_ADDR": "10.9.9.9"}
        first = client.get("/api/v1/suggest?q=a", environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.1"})
        second = client.get("/api/v1/suggest?q=a", environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.2"})
        again = client.get("/api/v1/suggest?q=a", environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.1"})
        assert (first.status_code, second.status_code, again.status_code) == (200, 200, 429)
    finally:
        hub.close()


def test_processes_share_the_count_through_redis(sqlite_url: str) -> None:
    settings = dict(HUB_RATE_LIMIT="2/minute", HUB_RATE_LIMIT_STORAGE=REDIS_URL)
    hub_a, web_a = serve(sqlite_url, **settings)
    hub_b, web_b = serve(sqlite_url, **settings)
    try:
        client_ip = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}
        assert web_a.get("/api/v1/suggest?q=a", environ_base=client_ip).status_code == 200
        assert web_b.get("/api/v1/suggest?q=a", environ_base=client_ip).status_code == 200
        assert web_a.get("/api/v1/suggest?q=a", environ_base=client_ip).status_code == 429
    finally:
        hub_a.close()
        hub_b.close()


def test_a_rate_limit_store_that_is_down_lets_requests_through_with_one_log_line(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # flask-limiter logged a full traceback for each limited request while the store was down
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    hub, web = serve(sqlite_url, HUB_RATE_LIMIT="2/minute", HUB_RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{port}/0")
    try:
        with caplog.at_level(logging.ERROR, logger="flask-limiter"):
            assert [web.get("/api/v1/suggest?q=a").status_code for _ in range(3)] == [200, 200, 200]
        told = [r for r in caplog.records if r.name == "flask-limiter"]
        assert told and all(r.exc_info is None and "\n" not in r.getMessage() for r in told)
        assert "ConnectionError" in told[0].getMessage()
    finally:
        hub.close()


def test_two_deployments_on_one_redis_count_apart_under_their_prefixes(sqlite_url: str) -> None:
    # production and staging share a Redis: each one's keys begin with its HUB_BROKER_QUEUE_PREFIX
    prod, staging = unique_prefix(), unique_prefix()
    settings = dict(HUB_RATE_LIMIT="2/minute", HUB_RATE_LIMIT_STORAGE=REDIS_URL)
    hub_a, web_a = serve(sqlite_url, HUB_BROKER_QUEUE_PREFIX=prod, **settings)
    hub_b, web_b = serve(sqlite_url, HUB_BROKER_QUEUE_PREFIX=staging, **settings)
    store = redis.Redis.from_url(REDIS_URL)
    try:
        client_ip = {"REMOTE_ADDR": "10.0.0.1"}  # the same client of both
        assert [web_a.get("/api/v1/suggest?q=a", environ_base=client_ip).status_code for _ in range(3)] == [200, 200, 429]
        assert [web_b.get("/api/v1/suggest?q=a", environ_base=client_ip).status_code for _ in range(3)] == [200, 200, 429]
        for prefix in (prod, staging):
            keys = [k.decode() for k in store.scan_iter(f"*{prefix}*")]
            assert keys and all(k.startswith(f"LIMITS:LIMITER/{prefix}/10.0.0.1/") for k in keys), keys
    finally:
        hub_a.close()
        hub_b.close()
        for prefix in (prod, staging):
            left = list(store.scan_iter(f"*{prefix}*"))
            if left:
                store.delete(*left)
        store.close()


def test_rate_limit_settings_are_validated_and_follow_the_broker() -> None:
    with pytest.raises(ConfigError, match="HUB_RATE_LIMIT"):
        load_settings({"HUB_RATE_LIMIT": "plenty"})
    assert load_settings({}).edge.rate_limit_storage == "memory://"
    scaled = load_settings({"HUB_QUEUE": "celery", "HUB_BROKER_URL": "redis://redis:6379/0"})
    assert scaled.edge.rate_limit_storage == "redis://redis:6379/0"
    rabbit = load_settings({"HUB_QUEUE": "celery", "HUB_BROKER_URL": "amqp://rabbit//"})
    assert rabbit.edge.rate_limit_storage == "memory://"
    assert load_settings({"HUB_RATE_LIMIT": "off"}).edge.rate_limit is None
    assert load_settings({}).edge.rate_limit_prefix == "hub"
    assert load_settings({"HUB_BROKER_QUEUE_PREFIX": "hub-staging"}).edge.rate_limit_prefix == "hub-staging"


def test_metrics_can_require_a_token(sqlite_url: str) -> None:
    hub, client = serve(sqlite_url, HUB_METRICS_TOKEN="m3trics")
    try:
        assert "m3trics" not in repr(hub.settings)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer m3trics\u00e9"}, {"Authorization": "Basic m3trics"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401 and "HUB_METRICS_TOKEN" in refused.get_json()["error"]
        ok = client.get("/metrics", headers={"Authorization": "Bearer m3trics"})
        assert ok.status_code == 200 and ok.content_type.startswith("text/plain") and b"# TYPE" in ok.get_data()
        assert client.get("/healthz").status_code in (200, 503)  # the health check stays open
    finally:
        hub.close()
    hub, client = serve(sqlite_url)
    try:
        assert client.get("/metrics").status_code == 200  # no token set: open, as before
    finally:
        hub.close()


@pytest.mark.parametrize(
    ("kwargs", "secure"),
    [({}, False), ({"headers": {"X-Forwarded-Proto": "https"}}, True), ({"headers": {"X-Forwarded-Proto": "https, http"}}, True),
     ({"headers": {"X-Forwarded-Proto": "http"}}, False), ({"base_url": "https://hub.example.com"}, True)],
)
def test_the_admin_cookie_is_secure_behind_https(sqlite_url: str, kwargs: dict[str, Any], secure: bool) -> None:
    hub, client = serve(sqlite_url, HUB_ADMIN_TOKEN="t0ken")
    try:
        response = client.post("/admin/login", data={"token": "t0ken"}, **kwargs)
        assert response.status_code == 303
        assert ("; Secure" in response.headers["Set-Cookie"]) is secure
    finally:
        hub.close()


@contextmanager
def waitress(hub: Any) -> Iterator[str]:
    """The app of ``hub`` under the web server ``hub serve`` runs, on a loopback port: its base URL."""
    import threading

    from waitress import wasyncore

    from surfaces.cli.web_server import web_server

    server = web_server(create_app(hub=hub), socket.create_server(("127.0.0.1", 0)), threads=4, max_request_body_size=4 * LIMIT)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # closed by the loop's own thread, so the loop never selects on a closed socket, then ends (empty map)
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:  # the loop closed its trigger already (seen once under load): nothing selects any more
            wasyncore.close_all(server._map)
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()


def test_under_waitress_large_bodies_get_the_json_413_and_huge_ones_are_not_read(sqlite_url: str) -> None:
    import requests

    hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_MAX_BODY_BYTES=str(LIMIT), **ZENDESK)))
    try:
        with waitress(hub) as base:
            url = f"{base}/webhooks/zendesk"
            declared = requests.post(url, data=b"x" * (2 * LIMIT), timeout=10)
            chunked = requests.post(url, data=iter([b"x" * LIMIT, b"x" * LIMIT]), timeout=10)  # Transfer-Encoding: chunked
            for response in (declared, chunked):
                assert response.status_code == 413 and response.json()["error"].endswith("(HUB_MAX_BODY_BYTES)")
            huge = requests.post(url, data=b"x" * (50 * LIMIT), timeout=10)
            assert huge.status_code == 413  # waitress's own answer: it stopped reading
            assert requests.post(url, data=b"{}", timeout=10).status_code == 401  # small bodies go on to the signature check
            assert rows(hub) == []
    finally:
        hub.close()


def test_under_waitress_a_content_coded_body_is_the_json_415(sqlite_url: str) -> None:
    import gzip

    import requests

    hub = build_hub(load_settings(settings_dict(sqlite_url, **ZENDESK)))
    try:
        with waitress(hub) as base:
            coded = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            for path in ("/webhooks/zendesk", "/api/v1/ask"):
                body = gzip.compress(b'{"text": "how do I reset my password?"}')
                for data in (body, iter([body[:10], body[10:]])):  # declared, and chunked
                    response = requests.post(f"{base}{path}", data=data, headers=coded, timeout=10)
                    assert response.status_code == 415 and "Content-Encoding" in response.json()["error"], path
            assert rows(hub) == []
    finally:
        hub.close()


@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "chunked, gzip", "identity"])
def test_under_waitress_a_transfer_coding_other_than_chunked_is_400_not_501(sqlite_url: str, coding: str) -> None:
    # Found attacking a served hub: waitress answered "Transfer-Encoding: gzip" with 501 Not Implemented.
    hub = build_hub(load_settings(settings_dict(sqlite_url, **ZENDESK)))
    try:
        with waitress(hub) as base:
            with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as conn:
                conn.sendall(f"POST /api/v1/ask HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
                             f"Transfer-Encoding: {coding}\r\nConnection: close\r\n\r\n0\r\n\r\n".encode())
                answer = b"".join(iter(lambda: conn.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"Transfer-Encoding other than chunked is not supported" in answer
        assert rows(hub) == []
    finally:
        hub.close()


def test_under_waitress_a_hundred_half_sent_requests_do_not_shut_others_out(sqlite_url: str) -> None:
    # Found attacking a served hub: waitress stops accepting at 100 open connections, so 150 connections that
    # sent half a request each left /healthz unanswered until they timed out (120 s).
    import requests

    hub = build_hub(load_settings(settings_dict(sqlite_url)))
    stalled: list[socket.socket] = []
    try:
        with waitress(hub) as base:
            port = int(base.rsplit(":", 1)[1])
            for _ in range(150):
                stalled.append(socket.create_connection(("127.0.0.1", port), timeout=10))
                stalled[-1].sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")
            assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        for conn in stalled:
            conn.close()
        hub.close()
