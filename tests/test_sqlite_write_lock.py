"""SQLite's one write lock, shared with the webhooks: a long KB import lets a webhook's insert in between its
short transactions, and a webhook that finds the lock held by a fault answers 503 with ``Retry-After`` within
Slack's 3 s, storing nothing, so the vendor's redelivery is stored once.

SQLite only: PostgreSQL locks rows, so an import never holds up the inbox there (core/write_lock.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import text

from app import Hub, create_app
from core.db import Database
from core.models import TicketEvent
from interceptor.kb.importer import import_articles
from tests.conftest import bench_module
from tests.slack_events_world import ROOT, post, rows
from tests.slack_events_world import hub, seen, stub  # noqa: F401 (fixtures)

ARTICLES = 1500  # an admin's first big folder: seconds of writing on SQLite


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
    holder = Database(hub.db.url)
    with holder.engine.connect() as held:  # a fault: a writer that keeps the lock (a stuck process, a sqlite3 shell)
        held.exec_driver_sql("BEGIN IMMEDIATE")
        held.execute(text("INSERT INTO cursors (name, value, updated_at) VALUES ('held', 'x', '2026-01-01')"))
        started = time.monotonic()
        refused = post(client, ROOT)
        waited = time.monotonic() - started
        held.rollback()
    holder.dispose()
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
