"""SQLite's one write lock, shared with the webhooks: a long KB import or removal lets a webhook's insert in between
its short transactions (a removal stopped part way is finished by the same command run again), and a webhook that finds the lock held by a fault answers 503 with ``Retry-After`` within
Slack's 3 s, storing nothing, so the vendor's redelivery is stored once.

SQLite only: PostgreSQL locks rows, so an import never holds up the inbox there (core/write_lock.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from click.testing import CliRunner
from sqlalchemy import func, select, text

from app import Hub, cli, create_app
from core import kb
from core.db import ArticleRow, Database
from core.models import TicketEvent
from interceptor.kb.importer import import_articles
from interceptor.kb.manage import remove_articles
from tests.conftest import bench_module
from tests.slack_events_world import ROOT, post, rows
from tests.slack_events_world import hub, seen, stub  # noqa: F401 (fixtures)

ARTICLES = 1500  # an admin's first big folder: seconds of writing on SQLite
REMOVED = 3000  # a source `hub kb remove --source` takes out: 1.4 s in one transaction on SQLite
ROOT_DIR = Path(__file__).resolve().parent.parent


@contextmanager
def write_lock_held(url: str) -> Iterator[None]:
    """Within the block, another connection holds ``url``'s SQLite write lock (a fault: a stuck process, a
    ``sqlite3`` shell in a write transaction); it lets go, writing nothing, when the block ends."""
    holder = Database(url)
    try:
        with holder.engine.connect() as held:
            held.exec_driver_sql("BEGIN IMMEDIATE")
            held.execute(text("INSERT INTO cursors (name, value, updated_at) VALUES ('held', 'x', '2026-01-01')"))
            try:
                yield
            finally:
                held.rollback()
    finally:
        holder.dispose()


def deleted(db: Database, source: str) -> int:
    """How many of ``source``'s articles are marked deleted (committed: read on a connection of its own)."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ArticleRow).where(
            ArticleRow.source == source, ArticleRow.deleted.is_(True))) or 0


def until(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_webhook_during_a_big_import_is_stored_before_the_import_ends(hub: Hub, seen: list[TicketEvent]) -> None:
    articles = bench_module("scale").synthetic_articles(ARTICLES, sections=5)
    stored: list[int] = []  # articles committed, after each of the import's transactions
    first = threading.Event()

    def progress(seen_: int, changed: int, total: int) -> None:
        stored.append(seen_)
        first.set()

    importer = Database(hub.db.url)  # `hub kb import` runs beside the server, on a connection of its own
    thread = threading.Thread(target=import_articles, args=(importer, articles), kwargs={"progress": progress})
    thread.start()
    try:
        assert first.wait(60)
        time.sleep(0.05)  # well inside the import's next transaction
        response = post(create_app(hub=hub).test_client(), ROOT)
        answered_at = stored[-1]
    finally:
        thread.join()
        importer.dispose()
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    # It waited for one short transaction, not for the import: more than a transaction of articles came after it.
    assert answered_at < stored[-1] - 200, (answered_at, stored)
    assert stored[-1] == ARTICLES
    hub.jobs.drain()
    assert len(rows(hub)) == 1 and len(seen) == 1


def test_a_webhook_under_a_held_write_lock_is_a_quick_503_and_the_redelivery_is_stored_once(
        hub: Hub, seen: list[TicketEvent]) -> None:
    client: Any = create_app(hub=hub).test_client()
    with write_lock_held(hub.db.url):
        started = time.monotonic()
        refused = post(client, ROOT)
        waited = time.monotonic() - started
    assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
    assert waited < 10, waited  # inside Slack's 3 s in practice; never the 30 s busy timeout
    assert rows(hub) == []
    # NOTE(slack): a non-2xx is delivered again with X-Slack-Retry-Num.
    # https://api.slack.com/apis/connections/events-api#retries
    again = post(client, ROOT, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert again.status_code == 200 and again.get_json()["status"] == "accepted"
    assert post(client, ROOT, headers={"X-Slack-Retry-Num": "2"}).get_json()["status"] == "duplicate"
    hub.jobs.drain()
    [row] = rows(hub)
    assert row.duplicates == 1 and len(seen) == 1
    # and the connection that answered 503 waits the engine's 30 s again for its other statements
    with hub.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_a_webhook_during_a_big_removal_is_stored_before_the_removal_ends(hub: Hub, seen: list[TicketEvent]) -> None:
    import_articles(hub.db, bench_module("scale").synthetic_articles(REMOVED))
    with hub.db.session() as s:
        before = kb.kb_version(s)
    removed: list[Any] = []
    remover = Database(hub.db.url)  # `hub kb remove --source` runs beside the server, on a connection of its own
    thread = threading.Thread(target=lambda: removed.extend(remove_articles(remover, source="synthetic")))
    thread.start()
    try:
        until(lambda: deleted(hub.db, "synthetic") > 0)  # its first transaction is committed
        response = post(create_app(hub=hub).test_client(), ROOT)
        answered_at = deleted(hub.db, "synthetic")
    finally:
        thread.join()
        remover.dispose()
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    # It waited for a short transaction at most, not for the removal: many articles were removed after it.
    assert answered_at < REMOVED - 200, answered_at
    assert deleted(hub.db, "synthetic") == REMOVED and len(removed) == REMOVED  # and the report names each once
    assert len({a.id for a in removed}) == REMOVED
    with hub.db.session() as s:
        assert kb.kb_version(s) != before
    hub.jobs.drain()
    assert len(rows(hub)) == 1 and len(seen) == 1


def test_a_removal_stopped_part_way_is_finished_by_the_same_command_run_again(hub: Hub) -> None:
    articles = bench_module("scale").synthetic_articles(REMOVED + 1)
    named = replace(articles.pop(), source="markdown", external_id="reset.md")  # named by its path, beside --source
    import_articles(hub.db, [*articles, named])
    command = ["kb", "remove", "reset.md", "--source", "synthetic"]
    env = {**os.environ, "HUB_DATABASE_URL": hub.db.url}
    killed = subprocess.Popen([sys.executable, "-c", "from app import cli; cli()", *command], env=env,
                              cwd=ROOT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until(lambda: deleted(hub.db, "synthetic") > 0)
        killed.send_signal(signal.SIGKILL)  # a crash part way: kill -9, the machine going down
    finally:
        killed.wait()
    stopped_at = deleted(hub.db, "synthetic")
    assert 0 < stopped_at < REMOVED, stopped_at  # some transactions were committed, not all
    assert deleted(hub.db, "markdown") == 0  # the named article goes last: the same command still names it

    again = CliRunner().invoke(cli, command, env={"HUB_DATABASE_URL": hub.db.url})
    assert again.exit_code == 0, again.output
    assert f"{REMOVED - stopped_at + 1} articles removed" in again.output and "markdown:reset.md" in again.output
    assert deleted(hub.db, "synthetic") == REMOVED and deleted(hub.db, "markdown") == 1
