"""The scheduler: periodic jobs (sweepers, polling fallbacks, KB sync, rollups), one active instance.

Every process may run a scheduler, but a job only runs in the process that holds the ``scheduler`` lease
in the database; the others stand by and take over when the holder's lease expires. So an embedded
deployment and several gunicorn workers never run the same job twice at once. The lease is short (30 s) and
renewed every third of it, and released on a clean stop, so a process that died hands over within 30 s and a
restarted one at once.

A job still running when it is due again (a sweep waiting on a database another process writes to, a long
KB sync) is not started beside itself: that round is skipped with a DEBUG line, and the job runs again at its
next round after it ends. APScheduler would log a WARNING for each such round (every 5 s for the sweep), and
another for each round it starts late; neither is anything an operator has to act on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import delete, or_, update

from core.db import Database, LeaseRow, insert_ignoring
from core.models import utcnow
from core.telemetry import count

log = logging.getLogger(__name__)


def acquire_lease(db: Database, name: str, owner: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Take or renew the lease ``name`` for ``owner`` if it is free, expired, or already ours.

    Returns:
        True when ``owner`` holds the lease until ``now + ttl``.
    """
    now = now or utcnow()
    with db.session() as s:
        s.execute(insert_ignoring(s, LeaseRow, ["name"]).values(name=name, owner=owner, expires_at=now + ttl))
        result = s.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, or_(LeaseRow.owner == owner, LeaseRow.expires_at < now))
            .values(owner=owner, expires_at=now + ttl)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's CursorResult


def release_lease(db: Database, name: str, owner: str) -> None:
    """Give the lease ``name`` up if ``owner`` holds it (another owner's lease is left alone)."""
    with db.session() as s:
        s.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))


class Scheduler:
    """APScheduler in a background thread, whose jobs run only while this process holds the lease."""

    LEASE = "scheduler"

    def __init__(self, db: Database, lease_ttl: timedelta = timedelta(seconds=30)) -> None:
        self._db = db
        self._ttl = lease_ttl
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: set[str] = set()  # the jobs running now, each at most once (see _alone)
        self._running_lock = threading.Lock()
        # Two instances at most, the second returning at once (_alone), so that APScheduler never refuses a round
        # with a WARNING; a round started late still runs (no misfire grace), once (coalesce).
        self._scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 2, "misfire_grace_time": None}
        )
        self._every("_lease", self._renew, max(lease_ttl.total_seconds() / 3.0, 0.1))

    def _renew(self) -> None:
        try:
            self.is_active()
        except Exception:  # noqa: BLE001 - a failed renewal is tried again; the lease may pass to another process
            log.warning("scheduler.lease.renew-failed", exc_info=True)

    def add(self, name: str, func: Callable[[], object], seconds: float) -> None:
        """Run ``func`` every ``seconds`` while this process is the active scheduler."""
        self._every(name, partial(self._guarded, name, func), seconds)

    def _every(self, name: str, func: Callable[[], object], seconds: float) -> None:
        self._scheduler.add_job(self._alone, "interval", seconds=seconds, args=(name, func), id=name, replace_existing=True)

    def _alone(self, name: str, func: Callable[[], object]) -> None:
        """Run ``func`` unless job ``name`` is still running (its earlier round outlasted the interval)."""
        with self._running_lock:
            if name in self._running:
                log.debug("scheduler.job.still-running", extra={"job": name})
                return
            self._running.add(name)
        try:
            func()
        finally:
            with self._running_lock:
                self._running.discard(name)

    def is_active(self) -> bool:
        """Take or renew the lease; return whether this process is the active scheduler."""
        return acquire_lease(self._db, self.LEASE, self.owner, self._ttl)

    def run_once(self, name: str, func: Callable[[], object]) -> bool:
        """Run ``func`` now if this process is the active scheduler; return whether it ran."""
        return self._guarded(name, func)

    def _guarded(self, name: str, func: Callable[[], object]) -> bool:
        if not self.is_active():
            return False
        try:
            func()
            count("scheduled_jobs", job=name, outcome="success")
        except Exception:  # noqa: BLE001 - the job runner is one of the two broad boundaries
            count("scheduled_jobs", job=name, outcome="failure")
            log.exception("scheduler.job.failed", extra={"job": name})
        return True

    def start(self) -> None:
        """Start the background thread."""
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop the background thread (running jobs finish) and give the lease up for the next process."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        try:
            release_lease(self._db, self.LEASE, self.owner)
        except Exception:  # noqa: BLE001 - the lease then expires on its own
            log.warning("scheduler.lease.release-failed", exc_info=True)
