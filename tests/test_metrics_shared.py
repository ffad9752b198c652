"""``/metrics`` sums the counts of every process of a deployment (prometheus_client's multiprocess mode):
real processes each count, and one scrape, whichever web worker answers it, shows the sum. Scaled out:
gunicorn with two web workers, a Celery ``hub worker`` and ``hub scheduler`` on PostgreSQL and Redis. Embedded:
``hub serve``'s worker process's counts, with no set-up. The queue gauges stay one figure, from the database."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from core import inbox
from core.celery_jobs import CeleryQueue, make_celery
from core.db import Database
from tests.brokers import delete_queues, unique_prefix
from tests.conftest import _postgres_schema
from tests.test_inbox import make_event
from tests.test_serve_recovery import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
# A database of its own; its `hub worker` takes broker queues of a prefix of its own too (unique_prefix).
BROKER_URL = os.environ.get("HUB_TEST_METRICS_BROKER_URL", "redis://127.0.0.1:6379/14")
WAIT_SECONDS = 60  # how long a process may take to boot or a count to arrive: a bound, not an assertion


def hub_env(metrics_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SLACK_", "ZENDESK_", "JIRA_", "PROMETHEUS_"))}
    env.update({"HUB_DENSE": "off", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **settings})
    return env


def sample(text: str, name: str, labels: str = "") -> float | None:
    """The value of the sample ``name{labels}`` in a Prometheus text exposition (``None``: absent)."""
    found = re.findall(rf"^{re.escape(name + (f'{{{labels}}}' if labels else ''))} (\S+)$", text, re.M)
    assert len(found) <= 1, f"{name}{{{labels}}} exported {len(found)} times"
    return float(found[0]) if found else None


def scrape(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection: any worker may answer
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        conn.close()


def scrape_until(port: int, name: str, labels: str, procs: list[subprocess.Popen[bytes]], log: Path) -> str:
    """Scrape until ``name{labels}`` is there (the process that counts it may still be booting)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), log.read_text()[-3000:]
        with contextlib.suppress(OSError):
            text = scrape(port)
            if sample(text, name, labels) is not None:
                return text
        time.sleep(0.2)
    raise AssertionError(f"no scrape showed {name}{{{labels}}}: {log.read_text()[-3000:]}")


@contextlib.contextmanager
def started(commands: list[list[str]], env: dict[str, str], log: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen(c, env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
             for c in commands]
    try:
        yield procs
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGINT)  # each stops cleanly on it (hub serve removes its directory)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def test_two_processes_counts_are_summed_in_one_scrape(tmp_path: Path, sqlite_url: str) -> None:
    env = hub_env(tmp_path / "metrics", HUB_DATABASE_URL=sqlite_url)
    subprocess.run([str(BIN / "hub"), "metrics", "clear"], env=env, cwd=ROOT, check=True, capture_output=True)
    for amount in (2, 3):
        subprocess.run([sys.executable, "-c", "from core.telemetry import count, observe\n"
                        f"count('probe', {amount}, side='x')\nobserve('probe', 0.5)"], env=env, cwd=ROOT, check=True)
    served = subprocess.run([sys.executable, "-c", "import sys\nfrom app import create_app\n"
                             "sys.stdout.write(create_app().test_client().get('/metrics').get_data(as_text=True))"],
                            env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert sample(served, "hub_probe_total", 'side="x"') == 5.0
    assert sample(served, "hub_probe_seconds_count") == 2.0
    assert sample(served, "hub_probe_seconds_bucket", 'le="0.5"') == 2.0
    # the queue gauges are read from the database once, not summed over processes
    assert sample(served, "hub_queue_rows", 'queue="inbox",state="pending"') == 0.0


def test_clear_refuses_while_a_process_that_counts_there_runs(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = hub_env(metrics_dir)
    counting = subprocess.Popen([sys.executable, "-c", "import sys\nfrom core.telemetry import count\ncount('probe')\n"
                                 "print('counted', flush=True)\nsys.stdin.read()"],
                                env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert counting.stdout is not None and counting.stdout.readline() == b"counted\n"
        refused = subprocess.run([str(BIN / "hub"), "metrics", "clear"], env=env, cwd=ROOT, capture_output=True, text=True)
        assert refused.returncode == 1 and str(counting.pid) in refused.stderr
        assert list(metrics_dir.glob(f"counter_{counting.pid}.db"))
    finally:
        counting.communicate(b"")
    subprocess.run([str(BIN / "hub"), "metrics", "clear"], env=env, cwd=ROOT, check=True, capture_output=True)
    assert not list(metrics_dir.iterdir())


@pytest.fixture
def prefix() -> Iterator[str]:
    """The broker queue prefix of this run's scaled-out hub; its queues are deleted afterwards."""
    name = unique_prefix()
    yield name
    delete_queues(BROKER_URL, name)


def test_scaled_out_every_scrape_shows_the_web_workers_celery_and_scheduler_counts(tmp_path: Path, prefix: str) -> None:
    log, port = tmp_path / "processes.log", free_port()
    for url in _postgres_schema():
        env = hub_env(tmp_path / "metrics", HUB_DATABASE_URL=url, HUB_QUEUE="celery", HUB_BROKER_URL=BROKER_URL,
                      HUB_BROKER_QUEUE_PREFIX=prefix, HUB_MAX_BODY_BYTES="1024", HUB_SWEEP_INTERVAL_SECONDS="1")
        subprocess.run([str(BIN / "hub"), "metrics", "clear"], env=env, cwd=ROOT, check=True, capture_output=True)
        commands = [
            [str(BIN / "gunicorn"), "-c", "python:surfaces.http.gunicorn_conf", "-w", "2", "-b", f"127.0.0.1:{port}", "app:create_app()"],
            [str(BIN / "hub"), "worker", "--concurrency", "1", "--queues", "inbox"],
            [str(BIN / "hub"), "scheduler"],
        ]
        with started(commands, env, log) as procs:
            scrape_until(port, "hub_queue_rows", 'queue="inbox",state="pending"', procs, log)
            refused = 0
            for _ in range(6):  # counted by whichever web worker takes each connection
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", "/api/v1/ask", body=b"x" * 2000, headers={"Content-Type": "application/json"})
                refused += conn.getresponse().status == 413
                conn.close()
            assert refused == 6
            db = Database(url)
            try:  # a row for the Celery worker (no connector is configured: the pipeline counts and finishes it)
                inbox.accept(db, CeleryQueue(make_celery(BROKER_URL, prefix)), make_event("EvMetrics"), b"{}")
            finally:
                db.dispose()
            scrape_until(port, "hub_inbox_processed_total", 'outcome="done"', procs, log)
            scrape_until(port, "hub_scheduled_jobs_total", 'job="sweep",outcome="success"', procs, log)
            for _ in range(6):
                text = scrape(port)
                assert sample(text, "hub_http_refused_total", 'reason="too_large"') == 6.0  # both web workers'
                assert sample(text, "hub_inbox_processed_total", 'outcome="done"') == 1.0  # the Celery worker's
                assert sample(text, "hub_pipeline_events_total", 'kind="created",outcome="no_connector"') == 1.0
                assert (sample(text, "hub_scheduled_jobs_total", 'job="sweep",outcome="success"') or 0) >= 1  # the scheduler's
                assert sample(text, "hub_queue_rows", 'queue="inbox",state="pending"') == 0.0  # from the database


def test_hub_serve_shows_its_worker_process_counts_with_no_set_up(tmp_path: Path, sqlite_url: str) -> None:
    log, port = tmp_path / "serve.log", free_port()
    env = hub_env(tmp_path / "unused", HUB_DATABASE_URL=sqlite_url, HUB_SWEEP_INTERVAL_SECONDS="1")
    del env["PROMETHEUS_MULTIPROC_DIR"]
    with started([[str(BIN / "hub"), "serve", "--port", str(port)]], env, log) as procs:
        # the sweeper runs in the worker process only
        text = scrape_until(port, "hub_scheduled_jobs_total", 'job="sweep",outcome="success"', procs, log)
        assert sample(text, "hub_queue_rows", 'queue="outbox",state="failed"') == 0.0
        private = Path(tempfile.gettempdir(), f"hub-metrics-{procs[0].pid}")
        assert private.is_dir()
    assert not private.exists()
