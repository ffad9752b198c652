"""A vendor outage while a request is read: the worker fetching the Zendesk ticket or the Jira issue for an
incoming webhook meets 429 (with ``Retry-After``), then 5xx, then the vendor recovers.

The request waits in the inbox (never ``failed`` while the outage lasts), each retry comes no earlier than the
vendor asked, a 429 does not count as an attempt, and once the vendor is back the request is decided once with
one write; ``/api/v1/queues``, ``/healthz`` and ``/api/v1/stats`` say so all along. Vendors are faked at the
transport (:mod:`tests.outage_world`); the test drives the clock by running due rows at a given ``now``.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
import responses

from core.db import DecisionRow, InboxEvent
from tests.outage_world import (
    ADMIN, Jira, Zendesk, after, health, inbox_row, make_hub, next_at, outbox_rows, queues, rate_limited, run_inbox,
    server_error,
)


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def waiting(client: Any, *, retrying: int = 1) -> None:
    """The request waits: one inbox row pending and retrying, none failed or due, no vendor write queued; the
    hub is degraded (200), not failing."""
    seen = queues(client)
    inbox = seen["queues"]["inbox"]
    assert (inbox["pending"], inbox["retrying"], inbox["failed"], inbox["running"]) == (1, retrying, 0, 0)
    assert inbox["oldest_due_seconds"] is None  # not due before the vendor's time: no stale backlog
    assert seen["queues"]["outbox"]["pending"] == 0 and seen["failed"] == {"inbox": [], "outbox": []}
    status, work = health(client)
    assert (status, work["status"]) == (200, "degraded") and work["queues"]["inbox"]["retrying"] == retrying


def settled(client: Any) -> None:
    """Nothing waits or failed, and the hub is healthy again."""
    seen = queues(client)
    for name in ("inbox", "outbox"):
        q = seen["queues"][name]
        assert (q["pending"], q["retrying"], q["failed"], q["running"], q["stuck"]) == (0, 0, 0, 0, 0), (name, q)
    status, work = health(client)
    assert (status, work["status"]) == (200, "ok")


def decisions(hub: Any) -> int:
    with hub.db.session() as s:
        return len(s.query(DecisionRow).all())


def test_zendesk_read_outage_waits_for_retry_after_then_answers_once(database_url: str, api: responses.RequestsMock) -> None:
    desk = Zendesk(api)
    desk.reads.script = [rate_limited(30), server_error(503), server_error(502), server_error(500)]
    hub, client = make_hub(database_url, "zendesk", HUB_INBOX_MAX_ATTEMPTS="1")  # the cap is for bugs, not outages
    try:
        assert desk.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        [(limited_at, what)] = desk.reads.failures()
        row = inbox_row(hub)
        assert (what, row.status, row.attempts) == ("429", "pending", 0)  # a 429 is not an attempt
        assert "rate limited (429)" in (row.last_error or "")
        assert next_at(row) >= after(limited_at, 30)  # Retry-After: 30
        waiting(client)
        stats = client.get("/api/v1/stats", headers=ADMIN).get_json()["counts"]
        assert (stats["requests"], stats["answered"]) == (0, 0)  # nothing decided yet, nothing claimed

        asked = len(desk.reads.log)
        assert run_inbox(hub, after(next_at(row), -1)) == 0 and len(desk.reads.log) == asked  # not a second early
        for status, attempts, backoff in [("503", 1, 2), ("502", 2, 4), ("500", 3, 8)]:
            now = next_at(row)
            assert run_inbox(hub, now) == 1 and desk.reads.failures()[-1][1] == status
            row = inbox_row(hub)
            assert (row.status, row.attempts, next_at(row)) == ("pending", attempts, after(now, backoff))
            assert f"server error ({status})" in (row.last_error or "")
            waiting(client)
        assert desk.sent == [] and decisions(hub) == 0

        assert run_inbox(hub, next_at(row)) == 1  # the vendor is back
        row = inbox_row(hub)
        assert (row.status, row.attempts, row.last_error) == ("done", 4, None)
        [answer] = outbox_rows(hub)
        assert (answer.action, answer.status, answer.attempts) == ("post_reply", "done", 1)
        assert len(desk.sent) == 1 and len(desk.applied) == 1  # one public comment, one update sent
        assert desk.applied[0]["public"] is True and "Forgot password" in desk.applied[0]["body"]
        assert decisions(hub) == 1
        settled(client)
        stats = client.get("/api/v1/stats", headers=ADMIN).get_json()["counts"]
        assert (stats["requests"], stats["answered"], stats["unposted"]) == (1, 1, 0)
        assert run_inbox(hub, after(next_at(row), 3600)) == 0 and len(desk.sent) == 1  # nothing runs again
    finally:
        hub.close()


def test_jira_read_outage_waits_for_retry_after_then_leaves_one_internal_note(database_url: str, api: responses.RequestsMock) -> None:
    issue = Jira(api)
    issue.reads.script = [rate_limited(20), rate_limited(45), server_error(503), server_error(503)]
    hub, client = make_hub(database_url, "jira", HUB_INBOX_MAX_ATTEMPTS="1")
    try:
        assert issue.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        row = inbox_row(hub)
        [(limited_at, _)] = issue.reads.failures()
        assert (row.status, row.attempts) == ("pending", 0) and next_at(row) >= after(limited_at, 20)
        waiting(client)
        now = next_at(row)
        assert run_inbox(hub, now) == 1  # 429 again, now for 45 s
        row = inbox_row(hub)
        assert (row.status, row.attempts, next_at(row)) == ("pending", 0, after(now, 45))
        for attempts in (1, 2):  # then 503 twice
            now = next_at(row)
            run_inbox(hub, now)
            row = inbox_row(hub)
            assert (row.status, row.attempts, next_at(row)) == ("pending", attempts, after(now, 2 * attempts))
            assert "jira issue: 503" in (row.last_error or "")
        waiting(client)
        assert issue.sent == [] and [f[1] for f in issue.reads.failures()] == ["429", "429", "503", "503"]

        run_inbox(hub, next_at(row))
        assert inbox_row(hub).status == "done"
        [note] = issue.applied
        assert note["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]
        assert len(issue.sent) == 1 and issue.labels == ["hub_escalated"]  # one internal note, no public comment
        assert decisions(hub) == 1
        settled(client)
    finally:
        hub.close()


@pytest.mark.parametrize("timeout", [requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout])
def test_a_read_that_times_out_is_retried_with_backoff(database_url: str, api: responses.RequestsMock, timeout: type) -> None:
    desk, issue = Zendesk(api), Jira(api)
    desk.reads.script = [timeout, timeout]
    issue.reads.script = [timeout]
    hub, client = make_hub(database_url, "zendesk", "jira", HUB_INBOX_MAX_ATTEMPTS="1")
    try:
        assert desk.deliver(client) == "accepted" and issue.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        with hub.db.session() as s:
            rows = {r.source: (r.status, r.attempts, r.last_error) for r in s.query(InboxEvent)}
            waits = {r.source: next_at(r) for r in s.query(InboxEvent)}
        assert waits["zendesk"] >= after(desk.reads.failures()[0][0], 2) and waits["jira"] >= after(issue.reads.failures()[0][0], 2)
        # a vendor failure (not a bug: those fail here, HUB_INBOX_MAX_ATTEMPTS being 1), retried after 2 s
        assert rows["zendesk"] == ("pending", 1, f"Retriable: zendesk unreachable: {timeout.__name__}")
        assert rows["jira"] == ("pending", 1, f"Retriable: jira issue: unreachable ({timeout.__name__})")
        seen = queues(client)["queues"]["inbox"]
        assert (seen["pending"], seen["retrying"], seen["failed"]) == (2, 2, 0)
        for _ in range(3):
            with hub.db.session() as s:
                soonest = min(next_at(r) for r in s.query(InboxEvent) if r.status == "pending")
            run_inbox(hub, soonest)
        with hub.db.session() as s:
            assert sorted((r.source, r.status) for r in s.query(InboxEvent)) == [("jira", "done"), ("zendesk", "done")]
        assert len(desk.applied) == 1 and desk.applied[0]["public"] is True and len(desk.sent) == 1
        assert len(issue.applied) == 1 and len(issue.sent) == 1
        assert [f[1] for f in desk.reads.failures()] == [timeout.__name__] * 2
        settled(client)
    finally:
        hub.close()
