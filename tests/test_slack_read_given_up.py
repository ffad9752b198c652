"""A Slack request whose thread ``conversations.replies`` refused passingly (503s, 429s) for the whole retry horizon
(``HUB_RETRY_HORIZON_SECONDS``) goes to people from the event alone, as a thread the hub cannot read for good does
(tests/test_slack_unreadable_thread.py): an ESCALATE ``request`` decision with ``thread_unreadable`` first, an
``escalated`` outcome whose ``error`` says the read was given up and why, one ticket of record whose description
says so first, one hand-off notice in the thread, the inbox row done, and ``/api/v1/stats`` counting it escalated.
A later ``hub retry`` (the dashboard's re-queue) finds nothing to decide again, and nothing is posted twice. It
used to fail its inbox row: no decision, in no bucket, no person told.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub, Zendesk a `responses` mock; the test
drives the inbox's clock (:func:`tests.outage_world.run_inbox`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import DecisionRow, InboxEvent, OutboxAction
from core.models import as_utc
from core.queues import sweep
from tests.outage_world import run_inbox
from tests.slack_stub import SlackStub
from tests.sync_world import running, stub, zendesk_world  # noqa: F401 - the stub fixture
from tests.test_slack_unreadable_thread import (THREAD, TOKEN, ask, assert_handed_over_once, counts, notices, request_row,
                                                zendesk_creates)
from tests.test_zendesk_connector import BASE as ZENDESK_BASE

HORIZON = 600
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
GIVEN_UP = f"the read was given up after failing for the whole retry horizon ({HORIZON} s)"


@pytest.mark.parametrize("fault,seen", [("5xx", "503"), ("429", "rate limited")])
def test_a_thread_unreadable_for_the_whole_horizon_is_handed_over_from_the_event_once(
        database_url: str, stub: SlackStub, fault: str, seen: str) -> None:
    with running(zendesk_world, database_url, stub, HUB_ADMIN_TOKEN=TOKEN, HUB_RETRY_HORIZON_SECONDS=str(HORIZON)) as world:
        before, stats = zendesk_creates(world), counts(world)
        stub.outage("conversations.replies", fault)  # Slack refuses the read, passingly, for longer than the horizon
        ask(world)
        world.drain()
        row = request_row(world)
        received = as_utc(row.received_at)
        run_inbox(world.hub, received + timedelta(seconds=HORIZON - 1))  # within the horizon: retried as before
        row = request_row(world)
        assert (row.status, zendesk_creates(world)[len(before):], notices(world)) == ("pending", [], [])
        assert seen in (row.last_error or "") and counts(world) == stats
        assert [d for d in world.rows(DecisionRow) if d.ticket_ref == THREAD] == []

        run_inbox(world.hub, received + timedelta(seconds=HORIZON + 60))  # the last attempt: the read is given up
        assert_handed_over_once(world, zendesk_creates, f"{ZENDESK_BASE}/agent/tickets/4014", before, GIVEN_UP)
        [description] = zendesk_creates(world)[len(before):]
        assert seen in description, "the agents read why the thread could not be read"
        after, reads = counts(world), len(stub.calls_to("conversations.replies"))
        assert (after["requests"], after["escalated"]) == (stats["requests"] + 1, stats["escalated"] + 1)
        assert (after["answered"], after["deflected"]) == (stats["answered"], stats["deflected"])

        stub.outage("conversations.replies", None)  # Slack is back; the admin re-queues what failed: nothing did
        requeued = world.client.post("/api/v1/queues/retry", json={"queue": None, "ids": None}, headers=ADMIN)
        assert requeued.status_code == 200 and requeued.get_json()["requeued"] == {"inbox": [], "outbox": []}
        sweep(world.hub.db, world.hub.jobs)
        world.drain()
        assert_handed_over_once(world, zendesk_creates, f"{ZENDESK_BASE}/agent/tickets/4014", before, GIVEN_UP)
        assert len(stub.calls_to("conversations.replies")) == reads, "decided once: never read again"
        writes = [a for a in world.rows(OutboxAction) if a.ticket_ref == THREAD]
        assert sorted((a.idempotency_key, a.status) for a in writes) == [
            (f"escalate:{THREAD}", "done"), (f"escalation-notice:{THREAD}", "done")]
        assert [r.status for r in world.rows(InboxEvent) if r.ticket_ref == THREAD] == ["done"]
        assert counts(world) == after
