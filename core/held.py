"""Thread messages held for a follow-up ticket, for admins (``GET /api/v1/queues``, the dashboard).

A closed ticket of record that takes no write (Zendesk) refuses a teammate's message, a deletion note or the
requester's edit carried from a Slack thread; none of them opens a follow-up ticket, so each is *held*: its outbox
row is ``done`` with ``{"closed": <ticket>, "held": "follow-up:<ticket>"}`` (``connectors.follow_up.on_closed``),
and it is written on the follow-up (``follow-up-write:<its key>``, :func:`core.outbox.follow_up_write`) once the
requester's next word opens one (``interceptor.record.carry_held``). Until then it is on no ticket, and if the
requester never writes again it never is: that is what this module counts. Once its write is asked for, it is an
ordinary outbox row (failed rows show as such).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select
from sqlalchemy.orm import aliased

from core.db import Database, OutboxAction
from core.models import utcnow

MAX_SHOWN = 100
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class HeldNote:
    """One held thread message: its outbox row, the closed ticket that refused it, what it is (``"internal note"``:
    a teammate's message, their edit or a deletion note; ``"requester's edit"``), its thread (and the thread's link when
    the write carried one), its first words, and since when
    (the refusal) it is held."""

    id: int
    closed: str
    what: str
    thread: str | None
    thread_url: str | None
    excerpt: str
    held_since: datetime
    age_seconds: float


def held_notes(db: Database, now: datetime | None = None, limit: int = MAX_SHOWN) -> tuple[int, list[HeldNote]]:
    """Return how many thread messages wait for a follow-up of their closed ticket, and the ``limit`` held longest
    (oldest first).

    A row is held while its ``follow-up-write`` row does not exist: once the requester's word asks for the follow-up,
    every held message of the ticket is asked to be written there in the same transaction."""
    now = now or utcnow()
    written = aliased(OutboxAction)
    held = (
        select(OutboxAction)
        .outerjoin(written, written.idempotency_key == literal("follow-up-write:") + OutboxAction.idempotency_key)
        .where(OutboxAction.status == "done", OutboxAction.result["held"].as_string().is_not(None), written.id.is_(None))
    )
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(held.subquery())) or 0
        rows = s.scalars(held.order_by(OutboxAction.finished_at, OutboxAction.id).limit(limit)).all()
        shown = []
        for row in rows:
            since = row.finished_at or row.created_at
            payload = row.payload or {}
            text = str(payload.get("text") or "")
            shown.append(HeldNote(
                id=row.id,
                closed=str((row.result or {}).get("closed") or row.ticket_ref),
                what="internal note" if row.action == "add_internal_note" else "requester's edit",
                thread=payload.get("mirror_of"),
                thread_url=payload.get("thread_url"),
                excerpt=text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …",
                held_since=since,
                age_seconds=round((now - since).total_seconds(), 1),
            ))
    return int(total), shown
