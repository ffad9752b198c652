"""The state of the work queues, for people: health, metrics, sweeping and re-queueing.

Both queues (``inbox``: stored events, ``outbox``: vendor writes) are tables, so their health is a query:
how many rows wait, run, retry or failed, and how long the oldest due row has waited. ``/healthz`` reports it
(``degraded``, and 503 when vendor writes fail or the backlog is stale), ``/metrics`` exports it as gauges, and
``hub retry`` / the dashboard re-queue failed rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, or_, select

from core import work
from core.db import Database, InboxEvent, OutboxAction
from core.jobs import BrokerBacklog, JobQueue
from core.models import utcnow
from core.telemetry import count

QUEUES: dict[str, work.WorkModel] = {"outbox": OutboxAction, "inbox": InboxEvent}
"""Outbox first: a sweep hands out waiting answers before new inbox work."""
STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class QueueHealth:
    """One queue's rows by state, and the wait of its oldest due row (``None``: nothing is due)."""

    pending: int
    running: int
    retrying: int  # pending after a failed attempt (its last error is kept)
    failed: int
    stuck: int  # running with an expired lease: their worker died; the sweeper takes them back
    oldest_due_seconds: float | None


def queue_health(db: Database, now: datetime | None = None) -> dict[str, QueueHealth]:
    """Return the health of each queue (``inbox``, ``outbox``)."""
    now = now or utcnow()
    found: dict[str, QueueHealth] = {}
    with db.session() as s:
        for name, model in QUEUES.items():
            by_status = dict(s.execute(select(model.status, func.count()).where(model.status.in_(("pending", "running", "failed"))).group_by(model.status)).all())
            retrying = s.scalar(select(func.count()).where(model.status == "pending", model.last_error.is_not(None))) or 0
            stuck = s.scalar(select(func.count()).where(model.status == "running", model.locked_until < now)) or 0
            oldest = s.scalar(
                select(func.min(model.next_attempt_at)).where(
                    or_(and_(model.status == "pending", model.next_attempt_at <= now), and_(model.status == "running", model.locked_until < now))
                )
            )
            found[name] = QueueHealth(
                pending=int(by_status.get("pending", 0)),
                running=int(by_status.get("running", 0)),
                retrying=int(retrying),
                failed=int(by_status.get("failed", 0)),
                stuck=int(stuck),
                oldest_due_seconds=round((now - oldest).total_seconds(), 1) if oldest is not None else None,
            )
    return found


def health_report(db: Database, stale_after: timedelta = STALE_AFTER, now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Judge the queues for ``/healthz``.

    Returns:
        ``(status, details)``: ``"ok"``; ``"degraded"`` when rows failed or retry, or a row is stuck;
        ``"failing"`` (answer 503) when vendor writes fail (outbox rows failed or retrying) or the oldest due
        row of a queue has waited longer than ``stale_after``. ``details`` holds every queue's figures and
        the reasons.
    """
    queues = queue_health(db, now)
    reasons: list[str] = []
    outbox = queues["outbox"]
    if outbox.failed or outbox.retrying:
        reasons.append(f"vendor writes failing: {outbox.failed} failed, {outbox.retrying} retrying")
    for name, q in queues.items():
        if q.oldest_due_seconds is not None and q.oldest_due_seconds > stale_after.total_seconds():
            reasons.append(f"{name} backlog stale: oldest due row waited {q.oldest_due_seconds:.0f} s")
    degraded = any(q.failed or q.retrying or q.stuck for q in queues.values())
    status = "failing" if reasons else ("degraded" if degraded else "ok")
    if degraded and not reasons:
        reasons.append("some rows failed or retry (see the queues)")
    return status, {"queues": {name: asdict(q) for name, q in queues.items()}, "reasons": reasons}


def sweep(db: Database, jobs: JobQueue, now: datetime | None = None) -> int:
    """Hand every due row (pending and due, or running with an expired lease) to the job queue: retries,
    lost hand-offs and crash recovery. Claims are atomic, so sweeping in several processes is harmless.

    A job queue whose hand-offs wait in a broker (:class:`~core.jobs.BrokerBacklog`) is asked first how many
    wait; when at least as many wait as rows are due, the queue's rows are not handed out again. When the broker
    cannot be asked (down, or silent: one bounded wait, then not again this sweep), every due row is handed
    out, every sweep, for as long as the outage lasts. That is deliberate: the sweep cannot tell which rows'
    publishes failed (those left this process's buffer, or another process's), and a row that is not handed out
    again could wait for a hand-off that never comes. It costs little: the job queue keeps one hand-off per row
    (:meth:`core.celery_jobs.CeleryQueue.submit` drops a copy of one still waiting, counted, not logged as an
    overflow), so over the outage its buffer holds each due row once, new requests still find room there, and a
    broker that answers again receives one or two hand-offs per row (the sweep after it is back may add copies,
    refused when claimed), not one per row per sweep.

    Returns:
        How many rows were handed to the job queue (one that still held a row's hand-off keeps that one).
    """
    handed = 0
    backlog = jobs if isinstance(jobs, BrokerBacklog) else None
    for name, model in QUEUES.items():
        due = work.due_ids(db, model, now)
        waiting = backlog.waiting(name) if due and backlog is not None else None
        if due and waiting is None:
            backlog = None  # a broker that could not be asked (each try waits out a timeout): not again this sweep
        if waiting is not None and waiting >= len(due):
            # As many hand-offs wait in the broker as rows are due: its workers are down or busy, and copies
            # would only pile up (one per row per sweep). A hand-off the broker lost shows once the queue drains.
            count("sweep_skipped", queue=name)
            continue
        for row_id in due:
            jobs.submit(name, row_id)
            handed += 1
    return handed


def retry_failed(db: Database, jobs: JobQueue, queue: str | None = None, ids: list[int] | None = None) -> dict[str, list[int]]:
    """Re-queue failed rows (``hub retry``, the dashboard's action) with a fresh retry horizon.

    Args:
        db: the database.
        jobs: the job queue the rows are handed to.
        queue: ``"inbox"`` or ``"outbox"``; ``None`` for both.
        ids: only these rows of ``queue`` (all failed rows when ``None``).

    Returns:
        The re-queued row ids by queue.

    Raises:
        ValueError: ``queue`` is not a queue name, or ``ids`` are given without a queue.
    """
    if queue is not None and queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}: use one of {', '.join(QUEUES)}")
    if ids is not None and queue is None:
        raise ValueError("row ids need a queue")
    done: dict[str, list[int]] = {}
    for name, model in QUEUES.items():
        if queue in (None, name):
            done[name] = work.requeue(db, model, ids)
            for row_id in done[name]:
                jobs.submit(name, row_id)
    return done


def failed_ids(db: Database, queue: str) -> list[int]:
    """Return the ids of ``queue``'s failed rows (what :func:`retry_failed` can re-queue), oldest first."""
    model = QUEUES[queue]
    with db.session() as s:
        return list(s.scalars(select(model.id).where(model.status == "failed").order_by(model.id)))


class _QueueCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queues = queue_health(self.db)
        rows = GaugeMetricFamily("hub_queue_rows", "work queue rows by state", labels=["queue", "state"])
        oldest = GaugeMetricFamily("hub_queue_oldest_due_seconds", "wait of the oldest due row (0: none due)", labels=["queue"])
        for name, q in queues.items():
            for state in ("pending", "running", "retrying", "failed", "stuck"):
                rows.add_metric([name, state], float(getattr(q, state)))
            oldest.add_metric([name], float(q.oldest_due_seconds or 0.0))
        yield rows
        yield oldest


def queue_metrics(db: Database) -> bytes:
    """The queues' gauges in the Prometheus text format (appended to ``/metrics``)."""
    registry = CollectorRegistry()
    registry.register(_QueueCollector(db))
    return generate_latest(registry)
