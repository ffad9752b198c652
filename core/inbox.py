"""The durable inbox: an inbound event is stored before it is acknowledged, once per event.

``accept`` is the one function webhook handlers call: in one transaction it inserts the event (a further
delivery of the same event is a counted no-op), then hands the new row to the job queue. If the hand-off is
lost (crash, full queue), the row stays ``pending`` and the sweeper hands it out again.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from core import work
from core.codec import event_from_dict, event_to_dict
from core.db import Database, InboxEvent, insert_ignoring
from core.heartbeat import Heartbeat
from core.jobs import JobQueue
from core.models import EventKind, Source, TicketEvent, TicketRef, utcnow
from core.telemetry import count
from core.write_lock import waiting_at_most

log = logging.getLogger(__name__)


class EventHandler(Protocol):
    """Processes one stored event; gets the event, its inbox row id, and whether this attempt is the last one (the
    retry horizon has passed: a ``Retriable`` it raises fails the row, so it may rather give up in its own way,
    as the pipeline hands a chat request whose thread stayed unreadable to people). Raises to ask for a retry."""

    def __call__(self, event: TicketEvent, row_id: int, /, *, last_attempt: bool) -> None: ...


@dataclass(frozen=True)
class Accepted:
    """What :func:`accept` did: the inbox row's id, and whether this delivery was a duplicate."""

    row_id: int
    duplicate: bool


def accept(db: Database, jobs: JobQueue, event: TicketEvent, raw_body: bytes | str, *,
           lock_wait: float | None = None) -> Accepted:
    """Store ``event`` (with the raw body) and schedule its processing.

    Args:
        db: the database.
        jobs: the job queue the new row is handed to after the commit.
        event: the parsed event; ``(event.source, event.delivery_id)`` is the dedupe key.
        raw_body: the request body as received, kept for debugging and replays.
        lock_wait: on SQLite, wait at most this many seconds for the write lock (``None``: the engine's
            30 s); a webhook passes :data:`core.write_lock.INBOUND_BUSY_SECONDS`. Waiting longer fails with
            ``OperationalError`` and stores nothing, so the vendor's redelivery is stored once.

    Returns:
        The row id and whether the delivery was a duplicate (then nothing new is scheduled).

    Raises:
        sqlalchemy.exc.DBAPIError: the database cannot store it (a connection that drops once is replaced).
    """
    body = raw_body.decode("utf-8", "replace") if isinstance(raw_body, bytes) else raw_body
    # The row is due, and its retry horizon counts, from when the hub stored it: not from the time the vendor
    # wrote in the body (the event keeps that), which a delayed delivery puts a day back (its first vendor
    # failure would be final) and a wrong clock years ahead (the row would wait until then, acknowledged).
    stored_at = utcnow()
    values = {
        "source": event.source.value,
        "delivery_id": event.delivery_id,
        "kind": event.kind.value,
        "ticket_ref": str(event.ref),
        "event": event_to_dict(event),
        "raw_body": body,
        "status": "pending",
        "attempts": 0,
        "duplicates": 0,
        "received_at": stored_at,
        "next_attempt_at": stored_at,
    }
    try:
        new_id, existing = _store(db, event, values, lock_wait)
    except DBAPIError as e:
        if not e.connection_invalidated:
            raise
        # The pooled connection died under us (a database failover, a killed server process): the insert is
        # idempotent, so it is tried once more on a fresh connection rather than failing the acknowledgement.
        log.warning("inbox.accept.connection-dropped", extra={"source": event.source.value})
        new_id, existing = _store(db, event, values, lock_wait)
    if new_id is None:
        count("inbox_events", source=event.source.value, outcome="duplicate")
        log.info("inbox.duplicate", extra={"source": event.source.value, "delivery_id": event.delivery_id})
        return Accepted(existing, duplicate=True)
    count("inbox_events", source=event.source.value, outcome="accepted")
    jobs.submit("inbox", new_id)
    return Accepted(new_id, duplicate=False)


def _store(db: Database, event: TicketEvent, values: dict[str, Any], lock_wait: float | None) -> tuple[int | None, int]:
    """Insert the inbox row of ``event`` unless it exists (then count the duplicate), in one transaction,
    waiting at most ``lock_wait`` seconds for SQLite's write lock (``None``: the engine's wait).

    Returns:
        ``(new row id, 0)``, or ``(None, the existing row's id)`` for a duplicate.
    """
    key = (InboxEvent.source == event.source.value, InboxEvent.delivery_id == event.delivery_id)
    with db.session() as s, waiting_at_most(s, lock_wait) if lock_wait is not None else nullcontext():
        # A Core statement with the values as parameters: compiled once and cached (the acknowledgement path).
        stmt = insert_ignoring(s, InboxEvent.__table__, ["source", "delivery_id"]).returning(InboxEvent.__table__.c.id)
        new_id = s.connection().execute(stmt, values).scalar()
        if new_id is not None:
            return int(new_id), 0
        s.execute(update(InboxEvent).where(*key).values(duplicates=InboxEvent.duplicates + 1))
        return None, int(s.execute(select(InboxEvent.id).where(*key)).scalar_one())


def process(
    db: Database,
    row_id: int,
    handler: EventHandler,
    max_attempts: int,
    now: datetime | None = None,
    *,
    horizon: timedelta = work.HORIZON,
    lease: timedelta = work.LEASE,
    heartbeat: Heartbeat | None = None,
) -> str | None:
    """Claim inbox row ``row_id`` and run ``handler`` on its event.

    Args:
        db: the database.
        row_id: the inbox row.
        handler: the event handler (the pipeline).
        max_attempts: the cap for errors that are neither ``Retriable`` nor ``Fatal`` (vendor failures do not count).
        now: the current time (tests pass one).
        horizon: how long ``Retriable`` failures (a vendor outage) are retried, from the row's arrival; the handler
            is told when its attempt begins past it (``last_attempt``).
        lease: the claim's lease; ``heartbeat`` renews it while the handler runs.
        heartbeat: keeps the lease alive (``None``: the lease must outlast the handler).

    Returns:
        The row's new status, or ``None`` when the row was not due, is held by another worker, or was claimed by
        another worker while this one worked (its lease lapsed: then the handler has run, but this worker's
        outcome is not stored; the other worker's stands, :func:`core.work.finish`).
    """
    started = now or utcnow()
    token = work.claim(db, InboxEvent, row_id, started, lease)
    if token is None:
        return None
    with db.session() as s:
        row = s.get_one(InboxEvent, row_id)
        attempts, others, stored, since = row.attempts, row.other_failures, row.event, row.requeued_at or row.received_at
    last = work.past_horizon(since, started, horizon)
    error: BaseException | None = None
    try:
        with heartbeat.hold(InboxEvent, row_id, token) if heartbeat is not None else nullcontext():
            handler(event_from_dict(stored), row_id, last_attempt=last)
    except Exception as e:  # noqa: BLE001 - the job runner is one of the two broad boundaries
        error = e
        log.warning("inbox.process.error", extra={"row_id": row_id, "error": type(e).__name__}, exc_info=True)
    outcome = work.outcome_of(
        error, attempts, max_attempts, now or utcnow(), since=since, horizon=horizon, other_failures=others, started=started
    )
    if not work.finish(db, InboxEvent, row_id, token, outcome, now):
        return None
    count("inbox_processed", outcome="retry" if outcome.status == "pending" else outcome.status)
    return outcome.status


def request_undecided(db: Database, ref: TicketRef) -> bool:
    """Whether a new request for ticket ``ref`` is stored and not processed yet (waiting, retrying, or running in
    some worker right now): a reply to it must wait for its decision rather than be taken for a stranger's.

    Args:
        db: the database.
        ref: the ticket.

    Returns:
        ``True`` while a ``created`` event of ``ref`` is pending or running.
    """
    with db.session() as s:
        found = s.execute(
            select(InboxEvent.id)
            .where(InboxEvent.ticket_ref == str(ref), InboxEvent.kind == EventKind.CREATED.value, InboxEvent.status.in_(("pending", "running")))
            .limit(1)
        ).scalar()
    return found is not None


HELD_CHUNK = 500
"""How many delivery ids :func:`held` asks about in one statement (well under any database's parameter limit)."""


def held(db: Database, source: Source, delivery_ids: Iterable[str]) -> set[str]:
    """Which of ``delivery_ids`` of ``source`` the inbox already holds (whatever became of them): a poll that
    cannot tell whether an event was passed on before asks, rather than pass it on again (:func:`accept` would
    drop it, counted as a duplicate)."""
    wanted = list(dict.fromkeys(delivery_ids))
    found: set[str] = set()
    with db.session() as s:
        for start in range(0, len(wanted), HELD_CHUNK):
            chunk = wanted[start:start + HELD_CHUNK]
            found.update(s.scalars(select(InboxEvent.delivery_id).where(InboxEvent.source == source.value,
                                                                         InboxEvent.delivery_id.in_(chunk))))
    return found
