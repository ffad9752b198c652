"""The checks every ``hub`` command that opens the database makes first: the database can be opened (else one
message naming ``HUB_DATABASE_URL``), and, for every command but ``hub db upgrade``, it is there and migrated
(nothing is created: a missing SQLite file stays missing, and the message says to run ``hub db upgrade``).

One mechanism for every command: :func:`uses_database` checks before the command runs, and turns a database
lost while it runs (a server that went away) into the same one line; ``hub ask`` (only when no server
answers) and ``hub db upgrade`` (which creates the database) call :func:`check_database` and
:func:`open_database` themselves.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

if TYPE_CHECKING:
    from config import Settings

F = TypeVar("F", bound=Callable[..., Any])
# what the drivers say when the database cannot be reached or opened at all (not a query's own error)
UNREACHABLE = ("unable to open database file", "connection refused", "connection failed", "could not connect",
               "server closed the connection", "terminating connection", "connection is closed",
               "name or service not known", "timeout expired")

SQLITE_EXAMPLE = "e.g. HUB_DATABASE_URL=sqlite:///var/hub.db"


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or ``None`` (another database, or SQLite in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def masked(url: str) -> str:
    """``url`` as shown to an admin: its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cannot_open(url: str, error: BaseException) -> click.ClickException:
    """The one-line error for a database that cannot be opened or reached: what failed and what to check.

    Args:
        url: the configured ``HUB_DATABASE_URL``.
        error: the driver's error (a SQLAlchemy ``DBAPIError`` or an ``OSError``).
    """
    orig = getattr(error, "orig", None) or error
    detail = (getattr(orig, "strerror", None) or str(orig) or type(orig).__name__).strip().splitlines()[0]
    path = _sqlite_path(url)
    if path is None:
        hint = "check that the database server runs and accepts this user and database, or set HUB_DATABASE_URL"
    elif path.is_dir():
        hint = f"{path} is a folder: HUB_DATABASE_URL names the database file in it, {SQLITE_EXAMPLE}"
    elif path.parent.exists() and not path.parent.is_dir():
        hint = f"{path.parent} is a file, not a folder: set HUB_DATABASE_URL to a file in a folder ({SQLITE_EXAMPLE})"
    elif path.is_file() and "not a database" in detail:
        hint = f"{path} is not a SQLite database: point HUB_DATABASE_URL at the hub's database file or a new one"
    else:
        hint = f"check that the folder {path.parent} exists and is writable, or set HUB_DATABASE_URL ({SQLITE_EXAMPLE})"
    return click.ClickException(f"cannot open the database at {masked(url)} ({detail}): {hint}")


def open_database(url: str) -> None:
    """Open the database once (creating a SQLite file and its folder, as ``hub db upgrade`` does).

    Raises:
        click.ClickException: it cannot be opened or reached (:func:`cannot_open`).
    """
    from sqlalchemy.exc import DBAPIError

    from core.db import Database

    path = _sqlite_path(url)
    try:
        if path is not None and not path.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(url)
        try:
            with db.engine.connect():
                pass
        finally:
            db.dispose()
    except (DBAPIError, OSError) as e:
        raise cannot_open(url, e) from None


def check_database(settings: Settings, *, missing_ok: bool = False) -> bool:
    """Refuse early (before any model loads) when the database cannot be opened, is missing or is not migrated.

    Args:
        settings: the configured settings (``HUB_DATABASE_URL``).
        missing_ok: a SQLite file that is not there yet, in a folder that is, is not an error (``hub simulate``
            then uses the sample KB); nothing is created.

    Returns:
        Whether the database is there (``False`` only with ``missing_ok``).

    Raises:
        click.ClickException: with the setting to fix or the command to run.
    """
    from sqlalchemy.exc import DBAPIError

    import migrations
    from core.db import Database

    path = _sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        # a relative path is read from where the command runs: another folder than `make run`'s is the usual cause
        where = "" if path.is_absolute() else f" (in {Path.cwd()}, where the command runs)"
        if not path.parent.is_dir():
            raise click.ClickException(f"there is no database at {path}{where}, nor a folder {path.parent}: run the "
                                       "command from the hub's folder, check HUB_DATABASE_URL (an absolute path: "
                                       "sqlite:////srv/hub/var/hub.db), or run `hub db upgrade` to create it there")
        if missing_ok:
            return False
        raise click.ClickException(f"there is no database at {path}{where}: run `hub db upgrade`, then `hub kb import "
                                   "PATH` (or point HUB_DATABASE_URL at the hub's database)")
    db = Database(settings.database_url)
    try:
        current, head = migrations.current_revision(db.engine), migrations.head_revision()
    except DBAPIError as e:
        raise cannot_open(settings.database_url, e) from None
    finally:
        db.dispose()
    if current != head:
        raise click.ClickException(f"the database is at {current or 'no schema yet'}, not at {head}: run `hub db upgrade`")
    return True


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached or opened at all (the server went away, the file
    cannot be opened), rather than that one query failed."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(error, DBAPIError):
        return False
    text = str(getattr(error, "orig", None) or error).lower()
    return bool(error.connection_invalidated) or any(phrase in text for phrase in UNREACHABLE)


def uses_database(*, missing_ok: bool = False) -> Callable[[F], F]:
    """Decorate a command that works on the configured database: :func:`check_database` before it runs, and
    a database that becomes unreachable while it runs is the same one line (:func:`cannot_open`), not a
    traceback.

    Args:
        missing_ok: as :func:`check_database`'s.
    """

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            from config import load_settings

            settings = load_settings()
            check_database(settings, missing_ok=missing_ok)
            try:
                return command(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - only a lost database is translated; the rest is re-raised
                if unreachable(e):
                    raise cannot_open(settings.database_url, e) from None
                raise

        return run  # type: ignore[return-value]

    return decorate
