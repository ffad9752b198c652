"""Sharing SQLite's one write lock: long writers commit in short transactions and let others in between, and
the inbound acknowledgement waits for the lock a short while only.

NOTE(sqlite): a database has one write lock, held from a transaction's first write to its commit; a writer
that finds it taken sleeps and tries again (the busy handler), at first after 1, 2, 5 ms and at last every
100 ms, until its busy timeout runs out. A writer that commits and at once begins its next transaction takes
the lock back within microseconds, so a waiter asleep in between never finds it free: an import of 5,000
articles in transactions of 200 (0.45 s each) kept a webhook waiting 9.2 s, though no transaction was long.
Hence the pause after each commit, at least the handler's longest sleep. https://www.sqlite.org/c3ref/busy_timeout.html

PostgreSQL locks rows, not the database: there the pause is skipped and the timeout left alone.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

from sqlalchemy.orm import Session

from core.engine import BUSY_SECONDS, Database

WRITE_SECONDS = 0.2
"""How long a long writer (a KB import or sync) keeps one transaction open before it commits the rest later."""
PAUSE_SECONDS = 0.11
"""How long a long writer leaves the lock free after each commit on SQLite: longer than the busy handler's
longest sleep (100 ms), so every waiter wakes once while it is free."""
INBOUND_BUSY_SECONDS = 2.0
"""How long storing an inbound event waits for SQLite's write lock before it gives up, and the webhook answers
503 with ``Retry-After`` or the Socket Mode envelope goes unacknowledged (the vendor delivers again): inside
Slack's 3 s acknowledgement deadline, where the default 30 s would tie a server or listener thread up and Slack
would retry anyway. Polling keeps the 30 s: a scheduled job with no vendor waiting, whose failure repeats the poll."""
T = TypeVar("T")
R = TypeVar("R")


def is_sqlite(db: Database) -> bool:
    """Whether ``db`` is SQLite (one write lock for the whole database)."""
    return db.engine.dialect.name == "sqlite"


def let_others_write(db: Database) -> None:
    """Called by a long writer between two of its transactions: on SQLite, leave the write lock free for
    :data:`PAUSE_SECONDS` so that a waiting writer (a webhook's insert) takes it; nothing on PostgreSQL."""
    if is_sqlite(db):
        time.sleep(PAUSE_SECONDS)


def long_enough(started: float) -> bool:
    """Whether a transaction opened at ``started`` (``time.monotonic()``) has held the lock :data:`WRITE_SECONDS`."""
    return time.monotonic() - started >= WRITE_SECONDS


def in_short_transactions(db: Database, items: Sequence[T], write: Callable[[Session, T], R]) -> list[R]:
    """Call ``write(session, item)`` for each of ``items`` in order, in transactions that each hold the lock
    about :data:`WRITE_SECONDS` (at least one item each), letting others write in between
    (:func:`let_others_write`).

    Returns:
        ``write``'s results, in the order of ``items``. A failure (or a crash) leaves the items of the
        transactions committed before it written, and the rest not: a prefix of ``items``.
    """
    results: list[R] = []
    while len(results) < len(items):
        if results:
            let_others_write(db)
        started = time.monotonic()
        written: list[R] = []
        with db.session() as s:
            for item in items[len(results):]:
                written.append(write(s, item))
                if long_enough(started):
                    break
        results += written  # committed
    return results


@contextmanager
def waiting_at_most(session: Session, seconds: float) -> Iterator[None]:
    """Within the block, ``session``'s statements wait at most ``seconds`` for SQLite's write lock (then raise
    ``OperationalError``, "database is locked"); afterwards the connection waits :data:`BUSY_SECONDS` again.
    Nothing on PostgreSQL."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(seconds * 1000)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
