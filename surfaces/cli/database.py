"""The check every ``hub`` command that opens the database makes first: it is there and migrated (nothing is
created: a missing SQLite file stays missing, and the message says to run ``hub db upgrade``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from config import Settings


def check_database(settings: Settings) -> None:
    """Refuse early (before any model loads) when the database is missing or not migrated.

    Raises:
        click.ClickException: with the command to run.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    import migrations
    from core.db import Database

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") and not Path(url.database).exists():
        raise click.ClickException(f"there is no database at {url.database}: run `hub db upgrade`, then `hub kb import PATH`")
    db = Database(settings.database_url)
    try:
        current, head = migrations.current_revision(db.engine), migrations.head_revision()
    except OperationalError as e:
        raise click.ClickException(f"the database is not ready ({type(e.orig).__name__}): run `hub db upgrade`") from e
    finally:
        db.dispose()
    if current != head:
        raise click.ClickException(f"the database is at {current or 'no schema yet'}, not at {head}: run `hub db upgrade`")
