"""Migrations: one head, matching the models, up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import migrations
from core.db import Base, make_engine


def test_there_is_exactly_one_head() -> None:
    assert len(ScriptDirectory(str(migrations.HERE)).get_heads()) == 1


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_back(database_url: str) -> None:
    engine = make_engine(database_url)
    assert migrations.current_revision(engine) == migrations.head_revision()
    migrations.upgrade(database_url, "head")  # idempotent
    from alembic import command

    command.downgrade(migrations.alembic_config(database_url), "base")
    assert "inbox_events" not in inspect(engine).get_table_names()
    migrations.upgrade(database_url)
    assert "inbox_events" in inspect(engine).get_table_names()
    engine.dispose()
