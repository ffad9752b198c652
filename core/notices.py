"""Vendor notices an admin must see: a delivery that carries no request but says the vendor dropped or will drop
some (Slack's ``app_rate_limited``). Stored when received, read by ``GET /api/v1/queues`` and the dashboard.

Each notice is a row of the small-state table (:class:`core.db.CursorRow`) named ``notice:<vendor>:<kind>:<key>``,
``key`` the notice's own identity (Slack's: the workspace and the minute it began), so a redelivery of one notice is
one row; its ``updated_at`` is when the hub received it, its value the notice's details (JSON). Rows older than
:data:`KEPT` are deleted when a new notice is stored. Being rows, they survive a restart and are the same for every
process (the ``/metrics`` counter is per process and restarts at 0)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import delete, select

from core.db import CursorRow, Database, insert_ignoring
from core.models import utcnow
from core.write_lock import waiting_at_most

PREFIX = "notice:"
KEPT = timedelta(days=7)
RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class VendorNotice:
    """A vendor's notice: ``vendor`` (``"slack"``), ``kind`` (``"app_rate_limited"``), ``key`` (what makes two
    deliveries the same notice), ``details`` (JSON-able)."""

    vendor: str
    kind: str
    key: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The notice's row name (at most 128 characters, the table's key)."""
        return f"{PREFIX}{self.vendor}:{self.kind}:{self.key}"[:128]


def record(db: Database, notice: VendorNotice, *, lock_wait: float | None = None, now: datetime | None = None) -> bool:
    """Store ``notice`` unless it is stored already, and forget notices older than :data:`KEPT`.

    Args:
        db: the database.
        notice: the notice.
        lock_wait: on SQLite, wait at most this many seconds for the write lock (the webhook's
            :data:`core.write_lock.INBOUND_BUSY_SECONDS`; ``None``: the engine's).
        now: when it was received.

    Returns:
        Whether it is new (``False``: a redelivery of a stored notice).

    Raises:
        sqlalchemy.exc.DBAPIError: the database cannot store it (the vendor should deliver it again).
    """
    now = now or utcnow()
    with db.session() as s, waiting_at_most(s, lock_wait) if lock_wait is not None else nullcontext():
        stmt = insert_ignoring(s, CursorRow, ["name"]).values(name=notice.name, value=json.dumps(dict(notice.details)),
                                                             updated_at=now).returning(CursorRow.name)
        new = s.execute(stmt).scalar() is not None
        if new:
            s.execute(delete(CursorRow).where(CursorRow.name.startswith(PREFIX, autoescape=True),
                                              CursorRow.updated_at < now - KEPT))
    return new


@dataclass(frozen=True)
class NoticeSummary:
    """The notices of one vendor and kind received since a moment: how many, the first and last received, and each
    one's details (newest first)."""

    vendor: str
    kind: str
    count: int
    first_at: datetime
    last_at: datetime
    details: list[dict[str, Any]]


def recent(db: Database, since: timedelta = RECENT, now: datetime | None = None) -> list[NoticeSummary]:
    """Return the notices received within ``since`` of ``now``, one summary per vendor and kind."""
    now = now or utcnow()
    with db.session() as s:
        rows = s.execute(
            select(CursorRow.name, CursorRow.value, CursorRow.updated_at)
            .where(CursorRow.name.startswith(PREFIX, autoescape=True), CursorRow.updated_at >= now - since)
            .order_by(CursorRow.updated_at.desc(), CursorRow.name)
        ).all()
    grouped: dict[tuple[str, str], list[tuple[datetime, dict[str, Any]]]] = {}
    for name, value, at in rows:
        vendor, kind, _ = name[len(PREFIX):].split(":", 2)
        grouped.setdefault((vendor, kind), []).append((at, json.loads(value or "{}")))
    return [NoticeSummary(vendor, kind, len(found), found[-1][0], found[0][0], [{"received_at": at.isoformat(), **d} for at, d in found])
            for (vendor, kind), found in sorted(grouped.items())]
