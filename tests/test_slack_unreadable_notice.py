"""The hand-off notice in a Slack thread the hub cannot read reaches the thread although its first post failed
passingly: the retry cannot look for an earlier post (``conversations.replies`` is what the thread refuses), and a
notice is at least once, so it is posted without the look, counted (``hub_outbox_unchecked_writes_total``) and
marked on its outbox row. It used to be given up: a failed row, and a requester who never heard that a person
had the request. An answer stays at most once: without the look it is given up.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub, Zendesk a `responses` mock."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.db import OutboxAction
from tests.slack_stub import BOT_USER, SlackStub
from tests.sync_world import World, running, zendesk_world
from tests.test_jsm_escalate_once import perform_due
from tests.test_slack_flow import CHANNEL
from tests.test_slack_unreadable_thread import THREAD, TS, ask, notices, stub, zendesk_creates  # noqa: F401 (a fixture)
from tests.test_zendesk_connector import BASE as ZENDESK_BASE

LINK = f"{ZENDESK_BASE}/agent/tickets/4014"


def unchecked(client: Any) -> float:
    """``hub_outbox_unchecked_writes_total{connector="slack"}`` as ``/metrics`` says it."""
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(r'^hub_outbox_unchecked_writes_total\{connector="slack"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def in_thread(world: World) -> list[dict[str, Any]]:
    """The hub's messages Slack holds in the thread (a refused post left none)."""
    return [m for m in world.stub.threads[(CHANNEL, TS)] if m.get("user") == BOT_USER]


def row(world: World, key: str) -> OutboxAction:
    [found] = [a for a in world.rows(OutboxAction) if a.idempotency_key == key]
    return found


@pytest.mark.parametrize("first", ["429", "503"])
def test_a_notice_whose_first_post_failed_is_posted_once_though_the_thread_cannot_be_read(
        database_url: str, stub: SlackStub, first: str) -> None:
    with running(zendesk_world, database_url, stub) as world:
        before, counted = zendesk_creates(world), unchecked(world.client)
        # NOTE(slack): a private channel the app may post in (chat:write) but not read (no groups:history).
        stub.fail("conversations.replies", status=200, error="missing_scope", times=5)
        if first == "429":
            stub.fail("chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "1"})
        else:
            stub.fail("chat.postMessage", status=503, error="service_unavailable")
        ask(world)
        world.drain()
        assert len(zendesk_creates(world)) == len(before) + 1 and in_thread(world) == []
        assert row(world, f"escalation-notice:{THREAD}").status == "pending"
        perform_due(world.hub)
        [posted] = in_thread(world)
        assert posted["text"].endswith(LINK)
        notice = row(world, f"escalation-notice:{THREAD}")
        assert notice.status == "done" and notice.result["external_id"] == posted["ts"]
        assert "missing_scope" in notice.result["unchecked"], "the row says it was posted without the look"
        looks = [c for c in stub.calls_to("conversations.replies") if c.args.get("include_all_metadata")]
        assert len(looks) == 1 and len(notices(world)) == 2, "asked once, refused; then posted once"
        assert unchecked(world.client) == counted + 1


def test_an_answer_whose_look_is_refused_is_still_given_up(database_url: str, stub: SlackStub) -> None:
    with running(zendesk_world, database_url, stub) as world:
        stub.fail("chat.postMessage", status=503, error="service_unavailable")
        ask(world)  # the thread is readable when it is decided: the KB answers it
        world.drain()
        answer = row(world, f"answer:{THREAD}")
        assert answer.status == "pending" and in_thread(world) == []
        stub.fail("conversations.replies", status=200, error="missing_scope", times=5)  # the scope is taken away
        counted = unchecked(world.client)
        perform_due(world.hub)
        answer = row(world, f"answer:{THREAD}")
        assert answer.status == "failed" and "missing_scope" in answer.last_error
        assert in_thread(world) == [] and len(notices(world)) == 1, "at most once: never posted without the look"
        assert unchecked(world.client) == counted
