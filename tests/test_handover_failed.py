"""A Slack request the hub hands to people whose ticket of record Zendesk would not create for the whole retry
horizon (503s) is counted in ``handover_failed`` ("handed to people, but the hand-over failed: needs the admin"),
not in ``escalated``: no person has it (no ticket, no notice in the thread). ``hub retry`` (the dashboard's re-queue)
creates the ticket once, posts the notice once, and the request moves to ``escalated``. It used to count
``escalated`` throughout.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub, Zendesk a `responses` mock; the test
lets time pass by making what the database holds older (:func:`tests.slack_truth_world.age`)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core.db import DecisionRow, OutboxAction, TicketRow
from core.models import utcnow
from tests.outage_world import run_outbox
from tests.slack_stub import SlackStub
from tests.slack_truth_world import age
from tests.sync_world import THREAD, World, running, stub, zendesk_back, zendesk_world  # noqa: F401 - the stub fixture
from tests.test_zendesk_connector import BASE as ZENDESK_BASE

HORIZON = 600
TOKEN = "admin-token-for-hand-overs"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def stats(world: World) -> dict[str, Any]:
    response = world.client.get("/api/v1/stats", headers=ADMIN)
    assert response.status_code == 200
    doc = response.get_json()
    assert sum(doc["split"].values()) == doc["counts"]["requests"], "each request in one bucket"
    return {k: doc["counts"][k] for k in ("requests", "escalated", "handover_failed", "human_handled", "deflected")} | {
        "split": {k: v for k, v in doc["split"].items() if v}}


def bucket(world: World) -> str:
    [decision] = [d for d in world.rows(DecisionRow) if d.ticket_ref == THREAD]
    response = world.client.get(f"/api/v1/decisions/{decision.id}", headers=ADMIN)
    assert response.status_code == 200
    return str(response.get_json()["bucket"])


def creates(world: World) -> list[int]:
    """The statuses Zendesk answered the hub's ticket creates with."""
    return [c.response.status_code for c in world.api.calls
            if c.request.method == "POST" and c.request.url.endswith("/api/v2/tickets.json") and c.response is not None]


def hand_over(world: World) -> OutboxAction:
    [row] = [a for a in world.rows(OutboxAction) if a.idempotency_key == f"escalate:{THREAD}"]
    return row


def test_a_ticket_of_record_never_created_is_handover_failed_until_hub_retry_creates_it(database_url: str, stub: SlackStub) -> None:
    with running(zendesk_world, database_url, stub, down=True, HUB_ADMIN_TOKEN=TOKEN, HUB_RETRY_HORIZON_SECONDS=str(HORIZON)) as world:
        row = hand_over(world)
        assert row.action == "create_ticket" and row.status == "pending" and creates(world) == [503]
        assert stats(world) == {"requests": 1, "escalated": 1, "handover_failed": 0, "human_handled": 1, "deflected": 0,
                                "split": {"escalated": 1}}, "a hand-over under way is escalated, as before"

        age(world.hub.db, timedelta(seconds=HORIZON + 60))  # Zendesk stays down past the horizon
        run_outbox(world.hub, utcnow())
        row = hand_over(world)
        assert row.status == "failed" and (row.last_error or "").startswith(f"gave up after the retry horizon ({HORIZON} s)")
        assert set(creates(world)) == {503} and world.posts() == [], "no ticket, no notice in the thread"
        assert stats(world) == {"requests": 1, "escalated": 0, "handover_failed": 1, "human_handled": 0, "deflected": 0,
                                "split": {"handover_failed": 1}}
        assert bucket(world) == "handover_failed"

        zendesk_back(world.api)  # Zendesk is back; the admin re-queues the failed write
        requeued = world.client.post("/api/v1/queues/retry", json={"queue": "outbox", "ids": None}, headers=ADMIN)
        assert requeued.status_code == 200 and requeued.get_json()["requeued"]["outbox"] == [row.id]
        world.drain()
        assert hand_over(world).status == "done" and creates(world)[-1] == 201 and creates(world).count(201) == 1
        [notice] = world.posts()
        assert notice.args["text"].endswith(f"{ZENDESK_BASE}/agent/tickets/4014"), notice.args
        with world.hub.db.session() as s:
            [linked] = s.scalars(select(TicketRow.escalated_to).where(TicketRow.external_id == THREAD.split(":", 1)[1]))
        assert linked == "zendesk:4014"
        assert stats(world) == {"requests": 1, "escalated": 1, "handover_failed": 0, "human_handled": 1, "deflected": 0,
                                "split": {"escalated": 1}}
        assert bucket(world) == "escalated"
        bodies = [json.loads(c.request.body)["ticket"] for c in world.api.calls
                  if c.request.method == "POST" and c.request.url.endswith("/api/v2/tickets.json")]
        assert len({b["external_id"] for b in bodies}) == 1 and "I was charged twice" in bodies[-1]["comment"]["body"]
