"""An embedding model that cannot load is a configuration error, whichever way the hub is served.

``hub serve`` refuses to start (tests/test_cli.py); ``gunicorn 'app:create_app()'`` (the scaled-out web tier)
refuses to boot with the same message, since ``create_app`` makes the same check. A configuration error the
boot does not check (the bundled model is loaded on first use, not at boot: importing torch takes seconds) is a
JSON 503 naming the setting, and ``/healthz`` reports it, rather than a 500 beside a healthy ``/healthz``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app import Hub, create_app
from core.errors import ConfigError
from interceptor.engine import LazyInterceptor
from tests.test_cli import ROOT, _closed_port
from tests.test_openapi import _check, _spec

UNLOADABLE = ("invalid configuration: HUB_EMBEDDING_MODEL: cannot load 'all-MiniLM-L6-v2' (Path not found): give a "
              "sentence-transformers model folder or a model name in the local cache (nothing is downloaded), or "
              "HUB_DENSE=off for lexical retrieval only")
# What a client is told: the settings to fix, not their values (a path); the server log has the whole message.
PUBLIC = "the hub is misconfigured (HUB_EMBEDDING_MODEL, HUB_DENSE): an admin must fix it; the server log says how"


def test_gunicorn_refuses_to_boot_with_an_embedding_model_that_cannot_load(sqlite_url: str, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gunicorn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")} | {
        "HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "auto", "HUB_EMBEDDING_MODEL": str(tmp_path / "no-such-model")}
    port = _closed_port()
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        served = None
        deadline = time.monotonic() + 180
        while gunicorn.poll() is None and served is None and time.monotonic() < deadline:
            served = _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")  # a worker that booted answers this
            time.sleep(0.5)
    finally:
        if gunicorn.poll() is None:
            gunicorn.kill()
        _, stderr = gunicorn.communicate(timeout=30)
    assert served is None, f"gunicorn served ({served}) with a model that cannot load"
    assert gunicorn.returncode == 3, stderr  # gunicorn's "worker failed to boot": the master stops
    assert "Reason: Worker failed to boot." in stderr
    assert "ConfigError: invalid configuration: HUB_EMBEDDING_MODEL: cannot load" in stderr
    assert f"cannot load '{tmp_path / 'no-such-model'}'" in stderr and "or HUB_DENSE=off" in stderr


def _get(url: str) -> int | None:
    """The HTTP status ``url`` answers, or ``None`` when nothing listens there."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def failing_hub(hub: Hub) -> Hub:
    """``hub`` with a decision engine whose build fails as ``load_embedder`` fails for a model that cannot load."""

    def build() -> Any:
        raise ConfigError(UNLOADABLE)

    return replace(hub, interceptor=LazyInterceptor(build))


def test_a_configuration_error_met_while_serving_is_a_503_that_healthz_reports(hub: Hub, caplog: Any) -> None:
    client = create_app(hub=failing_hub(hub)).test_client()
    spec = _spec(client)
    ask = client.post("/api/v1/ask", json={"text": "How do I reset my password?"})
    suggest = client.get("/api/v1/suggest?q=password")
    for response, path, method in ((ask, "/api/v1/ask", "post"), (suggest, "/api/v1/suggest", "get")):
        assert response.status_code == 503 and response.get_json() == {"error": f"service unavailable: {PUBLIC}"}
        _check(spec, path, method, response)  # the status and body the OpenAPI document declares
    health = client.get("/healthz")
    body = health.get_json()
    assert health.status_code == 503 and body["status"] == "unavailable"
    assert (body["knowledge_base"]["retrieval"], body["knowledge_base"]["error"]) == ("failing", PUBLIC)
    assert body["database"] == "ok"  # the rest still reports as it is
    logged = [r for r in caplog.records if r.getMessage() == "http.config-error"]
    assert logged and all(getattr(r, "error") == UNLOADABLE for r in logged)  # the admin reads the whole message there
