"""Alembic migrations, run programmatically (``hub db upgrade``) on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"  # Alembic's default


def alembic_config(url: str) -> Config:
    """Return an Alembic config for the database at ``url``, with this package as the script location."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """Return the newest revision id this code knows."""
    return ScriptDirectory(str(HERE)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at (``None`` before the first migration).

    Reads Alembic's version table directly: ``/healthz`` asks on every call, and Alembic's
    ``MigrationContext`` logs two INFO lines each time it is configured.
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
