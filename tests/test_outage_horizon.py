"""A vendor outage that outlasts the retry horizon, rate limits that say no time, and a 5xx on the write that
follows a successful read.

- A read outage longer than ``HUB_RETRY_HORIZON_SECONDS``: the request is ``failed`` (never before the horizon),
  listed with its reason on ``/api/v1/queues``, counted on ``/healthz``, and the dashboard's re-queue (``hub
  retry``'s twin) gets it decided once, with one answer, after the vendor is back.
- A 429 is honoured to its ``Retry-After`` even when that falls past the horizon (one last attempt then): a retry
  made at the horizon instead, earlier than the vendor asked, would meet the same 429 and give the request up.
- A 429 that says no ``Retry-After`` waits a minute (``work.RATE_LIMIT_WAIT_SECONDS``), not the 2 s of a first
  5xx again and again (the 429 gives its attempt back, so the backoff would never grow); nor does it count
  against ``HUB_INBOX_MAX_ATTEMPTS``.

Vendors are faked at the transport (:mod:`tests.outage_world`); the test drives the clock.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import event
from sqlalchemy.orm import Session

from core import work
from core.db import DecisionRow
from core.models import as_utc
from tests.outage_world import (
    ADMIN, Jira, Zendesk, after, health, inbox_row, make_hub, next_at, outbox_rows, queues, rate_limited, run_inbox,
    run_outbox, server_error,
)
from tests.test_outage_reads import decisions, settled

HORIZON = 600


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_a_read_outage_past_the_horizon_fails_visibly_and_a_requeue_answers_once(database_url: str, api: responses.RequestsMock) -> None:
    desk = Zendesk(api)
    desk.reads.script = [server_error(503), rate_limited(60)] * 100  # never recovers on its own
    hub, client = make_hub(database_url, "zendesk", HUB_RETRY_HORIZON_SECONDS=str(HORIZON))
    try:
        assert desk.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        received = as_utc(inbox_row(hub).received_at)
        deadline = after(received, HORIZON)
        row, tries = inbox_row(hub), 1
        while row.status == "pending":
            now = next_at(row)
            assert run_inbox(hub, now) == 1
            tries += 1
            row = inbox_row(hub)
            if row.status == "pending":
                assert now < deadline  # nothing is tried again after the horizon unless a Retry-After asks
                if "429" in (row.last_error or ""):
                    assert next_at(row) >= after(now, 60)  # Retry-After: 60, also across the horizon
        assert row.status == "failed" and now >= deadline and tries > 10
        assert (row.last_error or "").startswith(f"gave up after the retry horizon ({HORIZON} s)")
        assert desk.sent == [] and decisions(hub) == 0

        seen = queues(client)
        [listed] = seen["failed"]["inbox"]
        assert (listed["id"], listed["ticket_ref"], listed["error"]) == (row.id, "zendesk:5158", row.last_error)
        assert seen["queues"]["inbox"]["failed"] == 1 and seen["queues"]["inbox"]["pending"] == 0
        status, work_report = health(client)
        assert (status, work_report["status"], work_report["queues"]["inbox"]["failed"]) == (200, "degraded", 1)

        desk.reads.script.clear()  # the vendor is back; the admin re-queues the request
        requeued = client.post("/api/v1/queues/retry", json={"queue": "inbox", "ids": None}, headers=ADMIN)
        assert requeued.status_code == 200 and requeued.get_json()["requeued"]["inbox"] == [row.id]
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert inbox_row(hub).status == "done" and decisions(hub) == 1
        assert len(desk.sent) == 1 and desk.applied[0]["public"] is True
        settled(client)
    finally:
        hub.close()


def test_a_retry_after_past_the_horizon_is_waited_for(database_url: str, api: responses.RequestsMock) -> None:
    desk = Zendesk(api)
    desk.reads.script = [server_error(503), rate_limited(300)]
    hub, client = make_hub(database_url, "zendesk", HUB_RETRY_HORIZON_SECONDS=str(HORIZON))
    try:
        desk.deliver(client)
        hub.jobs.drain()  # type: ignore[attr-defined]
        received = as_utc(inbox_row(hub).received_at)
        limited_at = after(received, HORIZON - 100)  # 100 s before the horizon, Zendesk asks for 300
        assert run_inbox(hub, limited_at) == 1
        row = inbox_row(hub)
        assert (row.status, next_at(row)) == ("pending", after(limited_at, 300))
        assert run_inbox(hub, after(received, HORIZON)) == 0  # not at the horizon: Zendesk said 300 s
        assert run_inbox(hub, after(limited_at, 300)) == 1
        assert inbox_row(hub).status == "done" and len(desk.applied) == 1
    finally:
        hub.close()


def test_a_429_without_retry_after_waits_a_minute_and_uses_no_attempt(database_url: str, api: responses.RequestsMock) -> None:
    issue = Jira(api)
    issue.reads.script = [rate_limited(None)] * 6
    hub, client = make_hub(database_url, "jira", HUB_INBOX_MAX_ATTEMPTS="1")
    try:
        issue.deliver(client)
        hub.jobs.drain()  # type: ignore[attr-defined]
        [(limited_at, _)] = issue.reads.failures()
        row = inbox_row(hub)
        assert (row.status, row.attempts) == ("pending", 0) and next_at(row) >= after(limited_at, work.RATE_LIMIT_WAIT_SECONDS)
        for _ in range(5):
            now = next_at(row)
            assert run_inbox(hub, after(now, -1)) == 0
            assert run_inbox(hub, now) == 1
            row = inbox_row(hub)
            assert (row.status, row.attempts, next_at(row)) == ("pending", 0, after(now, work.RATE_LIMIT_WAIT_SECONDS))
        assert run_inbox(hub, next_at(row)) == 1
        assert inbox_row(hub).status == "done" and len(issue.applied) == 1 and decisions(hub) == 1
        settled(client)
    finally:
        hub.close()


@pytest.mark.parametrize("vendor", ["zendesk", "jira"])
def test_a_5xx_on_the_write_after_a_good_read_is_retried_to_one_write(database_url: str, api: responses.RequestsMock, vendor: str) -> None:
    fake: Any = Zendesk(api) if vendor == "zendesk" else Jira(api)
    fake.writes.script = [server_error(502), server_error(500), server_error(503)]
    hub, client = make_hub(database_url, vendor)
    try:
        assert fake.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert inbox_row(hub).status == "done" and decisions(hub) == 1  # the read went well: decided once
        [write] = outbox_rows(hub)
        assert (write.status, write.attempts, fake.applied) == ("pending", 1, [])
        seen = queues(client)["queues"]["outbox"]
        assert (seen["pending"], seen["retrying"], seen["failed"]) == (1, 1, 0)
        status, report = health(client)
        assert (status, report["status"]) == (503, "degraded") and "vendor writes failing" in report["reasons"][0]
        if vendor == "zendesk":
            counts = client.get("/api/v1/stats", headers=ADMIN).get_json()["counts"]
            assert (counts["answered"], counts["unposted"]) == (0, 1)  # not counted answered while unposted
        for attempts in (2, 3, 4):
            assert run_outbox(hub, next_at(outbox_rows(hub)[0])) == 1
            assert outbox_rows(hub)[0].attempts == attempts
        [write] = outbox_rows(hub)
        assert write.status == "done" and len(fake.applied) == 1 and len(fake.sent) == 4
        assert all(sent == fake.sent[0] for sent in fake.sent)  # the same write each time, applied once
        if vendor == "zendesk":
            assert fake.applied[0]["public"] is True
            counts = client.get("/api/v1/stats", headers=ADMIN).get_json()["counts"]
            assert (counts["answered"], counts["unposted"]) == (1, 0)
        else:
            assert fake.applied[0]["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
        settled(client)
    finally:
        hub.close()


class HiccupOnRecord:
    """The database refuses once the commit that records a decision (a lock timeout, a dropped connection): an
    error that is no vendor failure, raised by the database layer, not by patching the code under test."""

    def __init__(self, hub: Any) -> None:
        self.fired = 0
        event.listen(hub.db.sessions, "before_commit", self)

    def __call__(self, session: Session) -> None:
        if self.fired == 0 and any(isinstance(obj, DecisionRow) for obj in session.identity_map.values()):
            self.fired += 1
            raise RuntimeError("the database refused the commit once")


def test_an_outage_does_not_use_up_the_attempts_kept_for_other_errors(database_url: str, api: responses.RequestsMock) -> None:
    desk = Zendesk(api)
    desk.reads.script = [server_error(503)] * 6  # more 5xx than HUB_INBOX_MAX_ATTEMPTS
    hub, client = make_hub(database_url, "zendesk", HUB_INBOX_MAX_ATTEMPTS="3")
    try:
        desk.deliver(client)
        hub.jobs.drain()  # type: ignore[attr-defined]
        for _ in range(5):
            run_inbox(hub, next_at(inbox_row(hub)))
        assert inbox_row(hub).attempts == 6 and desk.reads.script == []
        hiccup = HiccupOnRecord(hub)
        run_inbox(hub, next_at(inbox_row(hub)))  # the vendor is back; the first error of another kind
        row = inbox_row(hub)
        assert hiccup.fired == 1 and (row.status, row.other_failures) == ("pending", 1) and "RuntimeError" in (row.last_error or "")
        run_inbox(hub, next_at(row))
        assert inbox_row(hub).status == "done" and decisions(hub) == 1 and len(desk.applied) == 1
        settled(client)
    finally:
        hub.close()
