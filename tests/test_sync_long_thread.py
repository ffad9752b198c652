"""A long Slack thread kept in step with its ticket of record: each new message is read by itself (one
``conversations.replies`` call bounded to its ts, ``inclusive``), not the whole thread page by page. Slack rate-limits
``conversations.replies`` hard (Tier 3; far less for commercially distributed non-Marketplace apps since 2025), and a
500-message thread used to cost 10 pages (the read's cap, so a message past it was not even found) and a
``users.info`` per author, for every message. The protections stay: Slack's retry of the message is stored once, a
message the hand-over's transcript carried is not carried again, and the hub's own message never comes back.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub, Zendesk ``responses`` at the transport.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.slack_stub import SlackStub
from tests.sync_world import stub  # noqa: F401 - a fixture
from tests.sync_world import OTHER, REQUESTER_USER, World, running, zendesk_world
from tests.test_slack_flow import ROOT_TS, USER
from tests.test_sync_thread_cases import comments, deliver, reply

LONG = 500
FIRST = int(ROOT_TS.split(".")[0]) + 1
TS = "1800000100.000100"


def earlier(i: int) -> dict[str, Any]:
    """The ``i``-th reply written before the hand-over, by Ada and Bob in turn."""
    ts = f"{FIRST + i}.000100"
    return {"type": "message", "user": (USER, OTHER)[i % 2], "text": f"note {i}", "ts": ts, "thread_ts": ROOT_TS}


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    stub.replies_page_cap = 100  # pages of 100: the hand-over reads all 500 in 6 calls (34 at 15 a page)
    with running(zendesk_world, database_url, stub, listed=tuple(earlier(i) for i in range(LONG))) as built:
        yield built


def reads(world: World, since: int) -> list[dict[str, Any]]:
    """The ``conversations.replies`` calls (one a page) made since the ``since``-th."""
    return [c.args for c in world.stub.calls_to("conversations.replies")[since:]]


@pytest.mark.parametrize("author,written", [
    (USER, {"body": "It was the March invoice", "public": True, "author_id": REQUESTER_USER}),
    (OTHER, {"body": "Bob Teammate wrote in Slack:\n\nIt was the March invoice", "public": False}),
])
def test_a_new_message_in_a_500_message_thread_is_read_by_itself(world: World, author: str, written: dict[str, Any]) -> None:
    assert len(world.stub.threads[next(iter(world.stub.threads))]) > LONG, "the request, 500 replies, the hub's notice"
    before, replies, people = len(comments(world)), len(world.stub.calls_to("conversations.replies")), len(world.stub.calls_to("users.info"))
    deliver(world, reply(author, "It was the March invoice", TS), "EvNEW")
    deliver(world, reply(author, "It was the March invoice", TS), "EvNEW-RETRY", listed=False)  # Slack's retry: stored once
    world.drain()
    assert comments(world, before) == [written]
    [read] = reads(world, replies)
    assert (read["oldest"], read["latest"], str(read["inclusive"]).lower()) in ((TS, TS, "true"), (TS, TS, "1"))
    assert len(world.stub.calls_to("users.info")) - people <= 1, "its author only"


def test_a_late_message_the_transcript_carried_is_neither_read_nor_carried(world: World) -> None:
    before, replies = len(comments(world)), len(world.stub.calls_to("conversations.replies"))
    late = earlier(LONG - 1)
    deliver(world, reply(late["user"], late["text"], late["ts"]), "EvLATE", listed=False)
    world.drain()
    assert comments(world, before) == [] and reads(world, replies) == []
