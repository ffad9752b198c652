"""A Slack thread that will never take the hub's messages (the channel archived: ``is_archived``; the app removed
from it: ``not_in_channel``; the channel gone: ``channel_not_found``). The hand-off notice ("a person will follow
up here") is told to the ticket of record's agents as one internal note, its row ``done`` with ``undelivered``
and counted; it used to fail its row for ever (a failed row only the admin saw, and agents who believed the
requester knew). An answer the thread refuses is never counted as answered: nobody saw it; at the answer deadline
it goes to people like any answer not posted, and its notice is refused the same way.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub, Zendesk a `responses` mock."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from core.db import OutboxAction, OutcomeRow
from tests.slack_stub import SlackStub
from tests.sync_world import World, running, zendesk_world
from tests.test_slack_unreadable_thread import THREAD, TOKEN, ask, counts, stub, zendesk_creates  # noqa: F401 (a fixture)

TOLD = "have not been told"


def notes(world: World, words: str) -> list[dict[str, Any]]:
    """The comments the hub wrote on Zendesk ticket 4014 that say ``words``."""
    puts = [json.loads(c.request.body)["ticket"] for c in world.api.calls if c.request.method == "PUT"]
    return [p["comment"] for p in puts if "comment" in p and words in p["comment"]["body"]]


def undelivered(client: Any) -> float:
    """``hub_outbox_actions_total{connector="slack",outcome="undelivered"}`` as ``/metrics`` says it."""
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(r'^hub_outbox_actions_total\{connector="slack",outcome="undelivered"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def row(world: World, key: str) -> OutboxAction:
    [found] = [a for a in world.rows(OutboxAction) if a.idempotency_key == key]
    return found


@pytest.mark.parametrize("error", ["is_archived", "not_in_channel", "channel_not_found"])
def test_a_hand_off_notice_the_thread_will_not_take_is_told_to_the_ticket_of_record(database_url: str, stub: SlackStub, error: str) -> None:
    with running(zendesk_world, database_url, stub, HUB_ADMIN_TOKEN=TOKEN) as world:
        before, counted = len(zendesk_creates(world)), undelivered(world.client)
        stub.fail("chat.postMessage", status=200, error=error, times=3)
        ask(world, "I was charged twice and I want a refund")  # sensitive: handed to a person
        world.drain()
        assert len(zendesk_creates(world)) == before + 1
        notice = row(world, f"escalation-notice:{THREAD}")
        assert notice.status == "done" and error in notice.result["undelivered"]
        [note] = notes(world, TOLD)
        assert note["public"] is False and error in note["body"]
        assert undelivered(world.client) == counted + 1
        queues = world.client.get("/api/v1/queues", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
        assert queues["failed"].get("outbox", []) == [], "nothing for the admin to re-queue"


def test_an_answer_an_archived_thread_refuses_is_not_answered_and_goes_to_people_at_the_deadline(database_url: str, stub: SlackStub) -> None:
    with running(zendesk_world, database_url, stub, HUB_ADMIN_TOKEN=TOKEN) as world:
        stats = counts(world)
        stub.fail("chat.postMessage", status=200, error="is_archived", times=5)
        ask(world)  # the knowledge base answers it; the channel was archived meanwhile
        world.drain()
        answer = row(world, f"answer:{THREAD}")
        assert answer.status == "failed" and "is_archived" in answer.last_error
        after = counts(world)
        assert after["answered"] == stats["answered"] and after["deflected"] == stats["deflected"], "nobody saw it"
        assert "answer_posted" not in {o.kind for o in world.rows(OutcomeRow) if o.ticket_ref == THREAD}
        deadline = answer.created_at + timedelta(seconds=world.hub.settings.answer_deadline_seconds)
        assert world.hub.pipeline.escalate_unposted(now=deadline) == 1
        world.drain()
        assert counts(world)["escalated"] == stats["escalated"] + 1
        assert row(world, f"escalation-notice:{THREAD}").status == "done"
        assert len(notes(world, TOLD)) == 1, "the agents know the requester was told nothing"
