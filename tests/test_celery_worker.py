"""`hub worker` as an admin runs it, on RabbitMQ and on Redis: it starts, processes what the web side stored, and
still processes a row that comes after it sat idle past the broker sockets' read timeout."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from core import inbox
from core.celery_jobs import SOCKET_TIMEOUT_SECONDS, CeleryQueue, make_celery
from core.db import Database, InboxEvent
from tests.brokers import AMQP_URL, delete_queues, require, unique_prefix
from tests.conftest import _postgres_schema
from tests.test_inbox import make_event
from tests.test_metrics_shared import BIN, WAIT_SECONDS, hub_env, started

# Each run's `hub worker` takes broker queues of a prefix of its own (unique_prefix), never the default
# hub.inbox: a deployment's, or another suite's on the same broker.
WORKER_BROKERS = {"amqp": AMQP_URL, "redis": "redis://127.0.0.1:6379/13"}


@pytest.mark.parametrize("broker", sorted(WORKER_BROKERS))
def test_hub_worker_processes_rows_before_and_after_an_idle_spell(tmp_path: Path, broker: str) -> None:
    url, log = WORKER_BROKERS[broker], tmp_path / "worker.log"
    require(url)
    prefix = unique_prefix()
    for database_url in _postgres_schema():
        env = hub_env(tmp_path, HUB_DATABASE_URL=database_url, HUB_QUEUE="celery", HUB_BROKER_URL=url,
                      HUB_BROKER_QUEUE_PREFIX=prefix)
        del env["PROMETHEUS_MULTIPROC_DIR"]  # counts are not what this test is about
        db, jobs = Database(database_url), CeleryQueue(make_celery(url, prefix))
        try:
            with started([[str(BIN / "hub"), "worker", "--concurrency", "1", "--queues", "inbox"]], env, log) as procs:
                first = inbox.accept(db, jobs, make_event("EvWorkerFirst"), b"{}")
                _wait_done(db, first.row_id, procs[0], log)
                time.sleep(SOCKET_TIMEOUT_SECONDS + 2)  # idle past the sockets' read timeout
                second = inbox.accept(db, jobs, make_event("EvWorkerSecond"), b"{}")
                _wait_done(db, second.row_id, procs[0], log)
            assert f"hub worker taking broker queues {prefix}.inbox (HUB_BROKER_QUEUE_PREFIX)" in log.read_text()
        finally:
            jobs.shutdown(wait=False)
            db.dispose()
            delete_queues(url, prefix)


def _wait_done(db: Database, row_id: int, worker: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert worker.poll() is None, log.read_text()[-3000:]
        with db.session() as s:
            if s.scalar(select(InboxEvent.status).where(InboxEvent.id == row_id)) == "done":
                return
        time.sleep(0.2)
    raise AssertionError(f"row {row_id} was not processed: {log.read_text()[-3000:]}")
