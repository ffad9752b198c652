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


def test_the_kb_sync_is_scheduled_exactly_when_a_knowledge_source_is_configured(sqlite_url: str) -> None:
    from app import build_hub
    from config import load_settings
    from tests.conftest import settings_dict

    plain = build_hub(load_settings(settings_dict(sqlite_url)))
    assert [name for name, _, _ in plain.scheduled_jobs()] == []
    plain.close()
    zendesk = {"ZENDESK_URL": "http://127.0.0.1:8765", "ZENDESK_EMAIL": "hub@example.com", "ZENDESK_API_TOKEN": "t",
               "ZENDESK_WEBHOOK_SECRET": "s", "HUB_KB_SYNC_INTERVAL_SECONDS": "600"}
    with_help_center = build_hub(load_settings(settings_dict(sqlite_url, **zendesk)))
    assert [(name, seconds) for name, _, seconds in with_help_center.scheduled_jobs()] == [("kb.sync", 600.0)]
    with_help_center.close()
