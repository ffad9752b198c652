"""Exactly one active scheduler: the lease in the database decides which process runs jobs."""

from __future__ import annotations

from datetime import timedelta

from core.db import Database
from core.models import utcnow
from core.scheduler import Scheduler, acquire_lease


def test_only_one_owner_holds_the_lease_until_it_expires(database_url: str) -> None:
    db = Database(database_url)
    now = utcnow()
    ttl = timedelta(seconds=90)
    assert acquire_lease(db, "scheduler", "a", ttl, now)
    assert not acquire_lease(db, "scheduler", "b", ttl, now + timedelta(seconds=10))
    assert acquire_lease(db, "scheduler", "a", ttl, now + timedelta(seconds=60))  # renewal
    assert not acquire_lease(db, "scheduler", "b", ttl, now + timedelta(seconds=120))
    assert acquire_lease(db, "scheduler", "b", ttl, now + timedelta(seconds=151))  # a stopped renewing
    db.dispose()


def test_a_standby_scheduler_does_not_run_jobs(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    active, standby = Scheduler(db), Scheduler(db)
    ran: list[str] = []
    assert active.run_once("sweep", lambda: ran.append("active"))
    assert not standby.run_once("sweep", lambda: ran.append("standby"))
    assert ran == ["active"]
    db.dispose()
