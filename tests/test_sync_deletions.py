"""A message deleted in a Slack thread kept in step with its ticket of record (``message_deleted``; a thread's
parent deleted while it has replies stays as a ``tombstone`` in a ``message_changed``): the ticket gets one internal
note saying so, when it was written and the first words of the copy the hub carried, however often Slack delivers
it; never a reopen, never a request, nothing said in the thread. It used to be dropped with the housekeeping: the
copy stayed on the ticket unmarked, and agents answered words the requester had withdrawn.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub, Zendesk ``responses`` at the transport.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from sqlalchemy import select

from core.db import InboxEvent
from tests.slack_stub import BOT_ID, BOT_USER, SlackStub, fixture
from tests.sync_world import stub  # noqa: F401 - a fixture
from tests.sync_world import OTHER, REFUND, World, running, serve_record, zendesk_world
from tests.test_slack_flow import CHANNEL, ROOT_TS, TEAM, USER
from tests.test_sync_thread_cases import changed, comments, deliver, reply

TS = "1800000100.000100"
WRITTEN = datetime.fromtimestamp(1800000100, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
LONG = "It was the March invoice, order 1243, charged on the 3rd and again on the 4th of the month by mistake"


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    with running(zendesk_world, database_url, stub) as built:
        yield built


def deleted(user: str, text: str, ts: str = TS, **previous: Any) -> dict[str, Any]:
    """``message_deleted`` of the thread reply ``ts`` (the real capture's shape: ``hidden``, ``deleted_ts``, the
    message as it was in ``previous_message``)."""
    event = fixture("event_message_deleted")["event"]
    event.update(channel=CHANNEL, deleted_ts=ts, ts="1800000950.000100", event_ts="1800000950.000100")
    event["previous_message"].update(user=user, text=text, ts=ts, thread_ts=ROOT_TS, parent_user_id=USER, team=TEAM, **previous)
    return event


def tombstone() -> dict[str, Any]:
    """The thread's parent deleted while it has replies: Slack keeps a tombstone (``message_changed``)."""
    event = fixture("event_message_changed")["event"]
    event.update(channel=CHANNEL, ts="1800000960.000100", event_ts="1800000960.000100")
    event["message"] = {"type": "message", "subtype": "tombstone", "user": "USLACKBOT", "hidden": True, "text": "This message was deleted.",
                        "ts": ROOT_TS, "thread_ts": ROOT_TS, "reply_count": 1}
    event["previous_message"].update(user=USER, text=REFUND, ts=ROOT_TS, thread_ts=ROOT_TS)
    return event


def updates(world: World) -> list[dict[str, Any]]:
    """The ticket updates the hub sent Zendesk (``PUT /tickets/4014.json``)."""
    return [json.loads(c.request.body)["ticket"] for c in world.api.calls if c.request.method == "PUT"]


def withdraw(world: World, event: dict[str, Any], name: str) -> None:
    """Slack delivers the deletion, and again (a retry, a new event id), and the thread no longer lists it."""
    thread = world.stub.threads[(CHANNEL, ROOT_TS)]
    thread[:] = [m for m in thread if m.get("ts") != event.get("deleted_ts", "-")]
    deliver(world, event, f"Ev{name}", listed=False)
    deliver(world, event, f"Ev{name}-RETRY", listed=False)
    world.drain()


def test_the_requester_deleting_a_carried_message_is_told_to_the_ticket_once(world: World) -> None:
    serve_record(world.api, [], status="solved")  # solved meanwhile: a deletion hands nothing back to agents
    deliver(world, reply(USER, LONG, TS), "EvWRITTEN")
    world.drain()
    before, posts = len(comments(world)), len(world.posts())
    withdraw(world, deleted(USER, LONG), "DELETED")
    [note] = comments(world, before)
    assert note["public"] is False and "status" not in updates(world)[-1], "not handed back to agents"
    assert note["body"] == (f'The requester deleted their Slack message of {WRITTEN} ("It was the March invoice, order 1243, charged on the '
                            '3rd and…"). Its copy on this ticket no longer stands: do not answer from it.')
    assert len(world.posts()) == posts, "nothing is said in the thread"
    with world.hub.db.session() as s:
        assert {r.status for r in s.scalars(select(InboxEvent))} == {"done"}


def test_a_colleagues_deleted_message_is_told_with_their_name_and_the_words_as_last_edited(world: World) -> None:
    deliver(world, reply(OTHER, "same problem here", TS), "EvWRITTEN")
    world.drain()
    world.stub.threads[(CHANNEL, ROOT_TS)][-1]["text"] = "same problem here, since Monday"
    deliver(world, changed(OTHER, "same problem here, since Monday", "same problem here", TS), "EvEDIT", listed=False)
    world.drain()
    before = len(comments(world))
    withdraw(world, deleted(OTHER, "same problem here, since Monday"), "DELETED")
    assert comments(world, before) == [{"body": f'Bob Teammate deleted their Slack message of {WRITTEN} ("same problem here, since Monday"). '
                                                "Its copy on this ticket no longer stands.", "public": False}]


def test_the_request_itself_deleted_leaves_a_tombstone_that_is_told_quoting_the_request(world: World) -> None:
    before = len(comments(world))
    withdraw(world, tombstone(), "TOMBSTONE")
    [note] = comments(world, before)
    written = datetime.fromtimestamp(int(ROOT_TS.split(".")[0]), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    assert note == {"body": f'The requester deleted their Slack message of {written} ("{REFUND}"). Its copy on this ticket no longer '
                            "stands: do not answer from it.", "public": False}


def test_a_deletion_slack_delivers_before_the_message_keeps_the_message_off_the_ticket(world: World) -> None:
    before = len(comments(world))
    withdraw(world, deleted(USER, "It was the March invoice"), "DELETED")
    deliver(world, reply(USER, "It was the March invoice", TS), "EvLATE", listed=False)  # its own event comes last
    world.drain()
    [note] = comments(world, before)
    assert note["public"] is False and "March invoice" not in note["body"], "the hub carried no copy to quote"


@pytest.mark.parametrize("who", ["the hub's own message", "a thread with no ticket of record"])
def test_deletions_the_ticket_has_no_business_with_write_nothing(database_url: str, stub: SlackStub, who: str) -> None:
    with running(zendesk_world, database_url, stub, HUB_ESCALATION_TARGET="slack", SLACK_TRIAGE_CHANNEL="CTRIAGE01") \
            if who.startswith("a thread") else running(zendesk_world, database_url, stub) as world:
        before = len(comments(world))
        event = deleted(BOT_USER, "Your ticket was marked solved", bot_id=BOT_ID) if who.startswith("the hub") else deleted(USER, "oops")
        withdraw(world, event, "DELETED")
        assert comments(world, before) == []
