"""Exactly one active scheduler: the lease in the database decides which process runs jobs."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from core.db import Database
from core.models import utcnow
from core.scheduler import Scheduler, acquire_lease
from tests.brokers import eventually


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


def pending_rows(hub: Any, n: int) -> list[int]:
    from core import inbox
    from tests.test_inbox import RecordingQueue, make_event

    return [inbox.accept(hub.db, RecordingQueue(), make_event(f"Ev{i}"), b"{}").row_id for i in range(n)]


def statuses(hub: Any) -> list[str]:
    from sqlalchemy import select

    from core.db import InboxEvent

    with hub.db.session() as s:
        return list(s.scalars(select(InboxEvent.status).order_by(InboxEvent.id)))


def wait_until(check: Any, seconds: float) -> None:
    """Wait for ``check``; the bound only separates the behaviour from the old one (no timing is asserted)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def test_a_restart_resumes_pending_work_at_once_though_the_dead_process_still_holds_the_lease(database_url: str) -> None:
    from app import build_hub
    from config import load_settings
    from tests.conftest import settings_dict

    hub = build_hub(load_settings(settings_dict(database_url)))
    try:
        pending_rows(hub, 20)  # stored and acknowledged, then the process was killed before processing them
        assert acquire_lease(hub.db, Scheduler.LEASE, "dead-process", timedelta(seconds=30))
        hub.start_background()
        wait_until(lambda: statuses(hub) == ["done"] * 20, 20)
        # Done while the dead process's scheduler lease still held: the start-up sweep did not wait for it.
        assert hub.scheduler is not None and not hub.scheduler.is_active()
    finally:
        hub.close()


def test_rows_left_running_by_a_dead_worker_are_retaken_after_the_short_lease(sqlite_url: str) -> None:
    from app import build_hub
    from config import load_settings
    from core import work
    from core.db import InboxEvent
    from tests.conftest import settings_dict

    hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_LEASE_SECONDS="1", HUB_SWEEP_INTERVAL_SECONDS="0.3")))
    try:
        [row_id] = pending_rows(hub, 1)
        assert work.claim(hub.db, InboxEvent, row_id, lease=timedelta(seconds=1))  # a worker took it and died
        hub.start_background()
        assert statuses(hub) == ["running"]  # the start-up sweep leaves a live lease alone
        # Taken back by a periodic sweep once the 1 s lease lapsed (the old lease was 5 minutes).
        wait_until(lambda: statuses(hub) == ["done"], 15)
    finally:
        hub.close()


def test_a_heartbeat_keeps_a_slow_job_its_row(sqlite_url: str) -> None:
    from core import inbox, work
    from core.db import InboxEvent
    from core.heartbeat import Heartbeat

    db = Database(sqlite_url)
    lease = timedelta(seconds=2)
    heartbeat = Heartbeat(db, lease)
    from tests.test_inbox import RecordingQueue, make_event

    row_id = inbox.accept(db, RecordingQueue(), make_event(), b"{}").row_id
    seen_due: list[list[int]] = []

    def slow(event: Any, _id: int, **_: bool) -> None:
        for _ in range(5):  # 5 s: two and a half leases
            time.sleep(1.0)
            seen_due.append(work.due_ids(db, InboxEvent))

    assert inbox.process(db, row_id, slow, 5, lease=lease, heartbeat=heartbeat) == "done"
    assert seen_due == [[], [], [], [], []]  # never due again while its worker lived
    heartbeat.stop()
    db.dispose()


def test_a_job_still_running_when_it_is_due_again_is_skipped_without_a_warning(sqlite_url: str,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    # A sweep or a KB sync that outlasts its interval (minutes while another process writes, or a large KB is
    # embedded): APScheduler logged "skipped: maximum number of running instances reached" each round.
    db = Database(sqlite_url)
    scheduler = Scheduler(db)
    release, rounds = threading.Event(), []
    scheduler.add("slow", lambda: (rounds.append(1), release.wait(60)), seconds=0.1)
    caplog.set_level(logging.DEBUG)
    scheduler.start()
    try:
        skipped = lambda: [r for r in caplog.records if r.getMessage() == "scheduler.job.still-running"]  # noqa: E731
        warned = lambda: [r for r in caplog.records if r.levelno >= logging.WARNING]  # noqa: E731
        assert eventually(lambda: len(skipped()) >= 3 or bool(warned()), 30)
        assert not warned(), [r.getMessage() for r in warned()]
        assert len(rounds) == 1 and {getattr(r, "job", None) for r in skipped()} == {"slow"}  # never beside itself
        release.set()
        assert eventually(lambda: len(rounds) >= 2, 30)  # and it runs again once the long round ended
    finally:
        release.set()
        scheduler.shutdown()
        db.dispose()
