"""Shared fixtures: settings from a dict, a migrated database on SQLite or PostgreSQL, the app."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

import migrations
from app import Hub, build_hub, create_app
from config import load_settings
from tests.schemas import scratch_schema

POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# A suite started in the background by a script (`make test &`, nohup) inherits SIGINT ignored, and every hub
# process it starts would too (an ignored signal survives exec): the tests that stop `hub serve` as Ctrl-C does
# would wait for it in vain. The suite takes Ctrl-C as usual, and its children start with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, migrated database: SQLite in a temp dir, or a private schema in PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
        migrations.upgrade(url)
        yield url
        return
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    with scratch_schema(POSTGRES_URL, "hub_test") as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """A fresh, migrated SQLite database (for tests that are not about the storage backend)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrations.upgrade(url)
    return url


def bench_module(name: str) -> ModuleType:
    """Load ``bench/<name>.py`` (a script folder, not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent.parent / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def settings_dict(database_url: str, **overrides: Any) -> dict[str, Any]:
    """A minimal configuration for tests: the given database, dense retrieval off, no connectors."""
    values: dict[str, Any] = {"HUB_DATABASE_URL": database_url, "HUB_DENSE": "off", "HUB_JOB_WORKERS": 4}
    values.update(overrides)
    return values


@pytest.fixture
def hub(sqlite_url: str) -> Iterator[Hub]:
    """A hub on a fresh SQLite database, nothing started."""
    built = build_hub(load_settings(settings_dict(sqlite_url)))
    yield built
    built.close()


@pytest.fixture
def client(hub: Hub) -> Any:
    """A Flask test client for the app serving ``hub``."""
    return create_app(hub=hub).test_client()


@pytest.fixture
def within_10_seconds() -> Iterator[None]:
    """Fail a test whose call runs for more than 10 s: a test of text that code once scanned quadratically, or
    forever, fails rather than hangs."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError("over 10 s: the text is scanned again and again")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve a WSGI ``app`` on a free loopback port (a real HTTP server, in a thread) while the block runs;
    yield its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


SAMPLE_KB = Path(__file__).resolve().parent.parent / "config" / "sample_kb"


def sample_kb_database(tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[str, Any]:
    """A migrated SQLite database holding the sample KB (``config/sample_kb``): its URL and its ``Database``."""
    from core.db import Database
    from interceptor.kb.importer import articles_at, import_articles

    url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'hub.db'}"
    migrations.upgrade(url)
    db = Database(url)
    import_articles(db, articles_at(SAMPLE_KB))
    return url, db


@pytest.fixture(scope="module")
def sample_scorer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The sample KB's scorer as a fresh install builds it: dense, calibrated from the KB's own content."""
    from interceptor.retrieval.scorer import build_scorer

    url, db = sample_kb_database(tmp_path_factory, "sample")
    return build_scorer(load_settings({"HUB_DATABASE_URL": url, "HUB_DENSE": "on"}), db)
