"""The database engine and its sessions: SQLite (the embedded default) or PostgreSQL (the scaled-out one). The
schema is :mod:`core.db`'s."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

BUSY_SECONDS = 30  # how long a SQLite statement waits for the write lock (the inbound path waits less: core.write_lock)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, a busy timeout (:data:`BUSY_SECONDS`) and enforced foreign keys.

    NOTE(sqlite): WAL with ``synchronous=NORMAL``: a commit does not wait for an fsync (checkpoints do), so the
    webhook acknowledgement is not queued behind every other commit's fsync. A committed row survives a crash
    or kill of the hub process; only an operating-system crash or power loss may roll back the last commits.
    Deployments that need that guarantee too run on PostgreSQL. https://www.sqlite.org/pragma.html#pragma_synchronous

    Statement parameters are left out of errors (``hide_parameters``): a failed statement's message is logged
    (``http.unhandled``, a job's traceback) and kept as a row's ``last_error``, and its parameters are message
    bodies and people's addresses, which no log line holds.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": BUSY_SECONDS, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def insert_ignoring(bind: Session | Engine, table: Any, index_elements: list[str], where: Any = None) -> Any:
    """Return ``INSERT INTO table … ON CONFLICT (index_elements) [WHERE where] DO NOTHING`` for the bind's
    database (PostgreSQL or SQLite, the two the hub runs on); chain ``.values(…)`` and ``.returning(…)`` on it.
    ``where`` names a partial unique index by its predicate (:data:`ONE_ESCALATION`)."""
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements, index_where=where)


class Database:
    """An engine and its session factory; ``session()`` is a unit of work that commits on success."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session; commit when the block ends normally, roll back when it raises."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
