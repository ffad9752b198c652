"""Named resume points (polling cursors, sync high-water marks), so a restart resumes without gaps or
repeats."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.db import CursorRow, Database
from core.models import utcnow


def get_cursor(db: Database, name: str) -> str | None:
    """Return the stored value of cursor ``name``, or ``None`` when it was never set."""
    with db.session() as s:
        row = s.get(CursorRow, name)
        return row.value if row else None


def set_cursor(session: Session, name: str, value: str | None) -> None:
    """Store ``value`` as cursor ``name`` in the caller's transaction (commit it with the work it covers)."""
    row = session.get(CursorRow, name)
    if row is None:
        session.add(CursorRow(name=name, value=value, updated_at=utcnow()))
    else:
        row.value, row.updated_at = value, utcnow()
