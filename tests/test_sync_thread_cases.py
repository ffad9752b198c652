"""The conversation going on in a Slack thread after its hand-off to a ticket of record, as a Slack workspace
delivers it: through the real app on SQLite and PostgreSQL, Slack the loopback stub, Zendesk ``responses`` at the
transport. Each row is one way a thread message arrives; what must hold for all of them: the requester's words
reach the agents once (public), anyone else's once (internal), nothing of the hub's comes back, no 5xx.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select

from core.db import InboxEvent, OutboxAction
from core.models import utcnow
from tests.outage_world import run_inbox, run_outbox
from tests.slack_stub import BOT_ID, BOT_USER, SlackStub, fixture
from tests.sync_world import (
    stub,  # noqa: F401 - a fixture
    AGENT_USER, OTHER, RECORD_ID, REFUND, REQUESTER_USER, World, comment_added, running, say, serve_record, zendesk_back, zendesk_comment,
    zendesk_world,
)
from tests.test_slack_flow import CHANNEL, ROOT_TS, TEAM, USER

BOT_POLICY = {"HUB_CHANNEL_POLICIES": {CHANNEL: {"threshold": 0.5, "respond_to_bots": True}}}
SHOT = {"id": "F01", "name": "error.png", "mimetype": "image/png", "permalink": "https://acme.slack.com/files/U1/F01/error.png"}


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    with running(zendesk_world, database_url, stub, **BOT_POLICY) as built:
        yield built


def comments(world: World, before: int = 0) -> list[dict[str, Any]]:
    """The comments the hub wrote on the ticket of record (Zendesk ``PUT /tickets/4014.json``), oldest first."""
    puts = [json.loads(c.request.body)["ticket"] for c in world.api.calls if c.request.method == "PUT"]
    return [p["comment"] for p in puts[before:]]


def deliver(world: World, event: dict[str, Any], event_id: str, *, listed: bool = True) -> Any:
    """Slack delivers ``event`` (a message event in the thread) and, with ``listed``, lists it in the thread."""
    payload = fixture("event_message_thread_reply")
    payload.update(team_id=TEAM, event_id=event_id, event=event)
    if listed:
        world.stub.threads[(CHANNEL, ROOT_TS)].append({k: v for k, v in event.items() if k not in ("channel", "event_ts")})
    response = world.slack(payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def reply(user: str, text: str, ts: str, **fields: Any) -> dict[str, Any]:
    """A thread reply as the Events API delivers it (no subtype; ``parent_user_id`` the thread's starter)."""
    return {"type": "message", "user": user, "text": text, "ts": ts, "event_ts": ts, "thread_ts": ROOT_TS, "parent_user_id": USER,
            "channel": CHANNEL, **fields}


def broadcast(ts: str) -> dict[str, Any]:
    """ "Also send to channel": the real capture's shape (``subtype: thread_broadcast``, the parent in ``root``)."""
    event = fixture("event_message_thread_broadcast")["event"]
    event.update(user=USER, text="still broken, posting here too", ts=ts, event_ts=ts, thread_ts=ROOT_TS, channel=CHANNEL)
    event["root"].update(user=USER, ts=ROOT_TS, thread_ts=ROOT_TS)
    return event


def other_bot(ts: str) -> dict[str, Any]:
    """Another app's message in the thread (the real capture: ``bot_id``, ``bot_profile``, no subtype)."""
    event = fixture("event_message_bot_id_no_subtype")["event"]
    event.update(text="PagerDuty: incident 12 opened", ts=ts, event_ts=ts, thread_ts=ROOT_TS, channel=CHANNEL)
    return event


Case = tuple[str, Callable[[str], dict[str, Any]], dict[str, Any]]
CASES: list[Case] = [
    ("a plain reply by the requester", lambda ts: reply(USER, "It was the March invoice", ts),
     {"body": "It was the March invoice", "public": True, "author_id": REQUESTER_USER}),
    ("also sent to the channel", broadcast,
     {"body": "still broken, posting here too", "public": True, "author_id": REQUESTER_USER}),
    ("a screenshot alone (file_share)", lambda ts: reply(USER, "", ts, subtype="file_share", files=[SHOT]),
     {"body": f"Attachment: error.png {SHOT['permalink']}", "public": True, "author_id": REQUESTER_USER}),
    ("an emoji alone", lambda ts: reply(USER, ":+1:", ts),
     {"body": "\U0001F44D", "public": True, "author_id": REQUESTER_USER}),  # as Slack shows it, not its shortcode
    ("a colleague: same problem here", lambda ts: reply(OTHER, "same problem here", ts),
     {"body": "Bob Teammate wrote in Slack:\n\nsame problem here", "public": False}),
    ("another app's bot", other_bot,
     {"body": "UB111 wrote in Slack:\n\nPagerDuty: incident 12 opened", "public": False}),
]


@pytest.mark.parametrize("what,event,written", CASES, ids=[c[0] for c in CASES])
def test_a_thread_message_after_the_hand_off_reaches_the_ticket_once(world: World, what: str, event: Callable[[str], dict[str, Any]],
                                                                     written: dict[str, Any]) -> None:
    before, posts = len(comments(world)), len(world.posts())
    message = event("1800000100.000100")
    deliver(world, message, "EvFIRST")
    deliver(world, message, "EvAGAIN", listed=False)  # Slack retries it (a new event id: the same message)
    world.drain()
    assert comments(world, before) == [written]
    assert len(world.posts()) == posts, "the hub says nothing in the thread about it"
    with world.hub.db.session() as s:
        assert {r.status for r in s.scalars(select(InboxEvent))} == {"done"}


def test_a_message_written_while_the_help_desk_is_down_reaches_the_ticket_once_it_is_opened(database_url: str, stub: SlackStub) -> None:
    # Zendesk is down when the thread is handed over: the ticket of record is not opened yet, and the requester
    # goes on writing. Their words used to be read as a follow-up on a thread people already had, and dropped.
    with running(zendesk_world, database_url, stub, down=True) as world:
        with world.hub.db.session() as s:
            [create] = s.scalars(select(OutboxAction).where(OutboxAction.action == "create_ticket")).all()
            assert create.status == "pending"
        say(world, USER, "It was the March invoice, order 1243", "1800000100.000100")
        world.drain()
        assert comments(world) == []
        zendesk_back(world.api)
        later = utcnow() + timedelta(minutes=10)
        run_outbox(world.hub, later)
        world.drain()
        run_inbox(world.hub, later)
        run_outbox(world.hub, later)
        world.drain()
        written = comments(world)
        assert {"body": "It was the March invoice, order 1243", "public": True, "author_id": REQUESTER_USER} in written
        assert sum("March invoice" in c["body"] for c in written) == 1
        [description] = [json.loads(c.request.body)["ticket"]["comment"]["body"] for c in world.api.calls
                         if c.request.method == "POST" and c.response is not None and c.response.status_code == 201]
        assert REFUND in description and "March invoice" not in description


def test_a_message_the_transcript_carried_is_not_carried_again_when_slack_delivers_it_late(database_url: str, stub: SlackStub) -> None:
    # The requester's second message was in the thread when the hub read it to hand it over, but its own event
    # came after the ticket was opened (Slack's deliveries come in no set order): the description has it.
    late = reply(USER, "It was the March invoice", "1719209600.000200")
    listed = {k: v for k, v in late.items() if k not in ("channel", "event_ts")}
    with running(zendesk_world, database_url, stub, listed=(listed,)) as world:
        [description] = [json.loads(c.request.body)["ticket"]["comment"]["body"] for c in world.api.calls if c.request.method == "POST"]
        assert "It was the March invoice" in description
        before = len(comments(world))
        deliver(world, late, "EvLATE", listed=False)
        world.drain()
        assert comments(world, before) == [], "once, in the description"
        deliver(world, reply(USER, "Order 1243", "1800000100.000100"), "EvNEXT")
        world.drain()
        assert comments(world, before) == [{"body": "Order 1243", "public": True, "author_id": REQUESTER_USER}]


@pytest.mark.parametrize("error,status", [("is_archived", 200), ("not_in_channel", 200), ("channel_not_found", 200)])
def test_an_agents_reply_the_thread_will_not_take_is_told_to_the_agents(world: World, error: str, status: int) -> None:
    # The channel was archived, or the app removed from it, before the agent replied: Slack will never take the
    # reply. The agent used to believe it delivered (a failed row only an admin sees); now the ticket says so.
    before = len(comments(world))
    serve_record(world.api, [zendesk_comment(11, AGENT_USER, "We refunded the second charge.", public=True)])
    world.stub.fail("chat.postMessage", status=status, error=error, times=3)
    world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11")
    world.drain()
    [note] = comments(world, before)
    assert note["public"] is False and error in note["body"] and "has not seen it" in note["body"]
    with world.hub.db.session() as s:
        mirror = s.scalars(select(OutboxAction).where(OutboxAction.idempotency_key == f"mirror:zendesk:{RECORD_ID}:11")).one()
        assert mirror.status == "done" and error in mirror.result["undelivered"]
    world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11-again")  # redelivered: told once
    world.drain()
    assert len(comments(world, before)) == 1


def test_an_agents_reply_a_revoked_token_keeps_from_slack_stays_a_failed_row_for_the_admin(world: World) -> None:
    before = len(comments(world))
    serve_record(world.api, [zendesk_comment(11, AGENT_USER, "We refunded the second charge.", public=True)])
    world.stub.fail("chat.postMessage", status=200, error="invalid_auth")
    world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11")
    world.drain()
    assert comments(world, before) == []  # the whole install is broken: the admin fixes it and re-queues the row
    with world.hub.db.session() as s:
        mirror = s.scalars(select(OutboxAction).where(OutboxAction.idempotency_key == f"mirror:zendesk:{RECORD_ID}:11")).one()
        assert mirror.status == "failed"


def changed(user: str, text: str, was: str, ts: str, *, edited: bool = True, **fields: Any) -> dict[str, Any]:
    """``message_changed`` for the thread reply ``ts`` (the real capture's shape: ``hidden``, the message as it
    is now and as it was), by ``user`` when ``edited``; else a change nobody made (a link unfurled)."""
    event = fixture("event_message_changed")["event"]
    event.update(channel=CHANNEL, ts="1800000900.000100", event_ts="1800000900.000100")
    event["message"].update(user=user, text=text, ts=ts, thread_ts=ROOT_TS, parent_user_id=USER, **fields)
    event["previous_message"].update(user=user, text=was, ts=ts, thread_ts=ROOT_TS, parent_user_id=USER)
    if edited:
        event["message"]["edited"] = {"user": user, "ts": "1800000900.000000"}
    else:
        event["message"].pop("edited", None)
    return event


EDITS = [
    ("the requester corrects a number", changed(USER, "It was order 1243", "It was order 1234", "1800000100.000100"),
     [{"body": "Edited in Slack:\n\nIt was order 1243", "public": True, "author_id": REQUESTER_USER}]),
    ("a colleague edits theirs", changed(OTHER, "same problem here, since Monday", "same problem here", "1800000100.000100"),
     [{"body": "Bob Teammate edited their message in Slack:\n\nsame problem here, since Monday", "public": False}]),
    ("a link unfurled (no edit)", changed(USER, "see https://status.example", "see https://status.example", "1800000100.000100",
                                         edited=False, attachments=[{"from_url": "https://status.example"}]), []),
    ("an edit that changed no word", changed(USER, "It was order 1234", "It was order 1234", "1800000100.000100"), []),
    ("the hub's own message updated", changed(BOT_USER, "Marked: solved", "Did this solve it?", "1800000100.000100", bot_id=BOT_ID), []),
]


@pytest.mark.parametrize("what,edit,written", EDITS, ids=[e[0] for e in EDITS])
def test_an_edit_in_the_thread_reaches_the_ticket_as_it_reads_now(world: World, what: str, edit: dict[str, Any],
                                                                   written: list[dict[str, Any]]) -> None:
    # Slack sends the edit as a hidden message_changed: it used to be dropped with the housekeeping, and the agents
    # worked from the words the requester had corrected.
    author = edit["message"]["user"]
    deliver(world, reply(author, edit["previous_message"]["text"], "1800000100.000100"), "EvWRITTEN")
    world.drain()
    before, posts = len(comments(world)), len(world.posts())
    world.stub.threads[(CHANNEL, ROOT_TS)][-1]["text"] = edit["message"]["text"]
    deliver(world, edit, "EvEDIT", listed=False)
    deliver(world, edit, "EvEDIT-RETRY", listed=False)
    world.drain()
    assert comments(world, before) == written
    assert len(world.posts()) == posts, "an edit is never answered"
    with world.hub.db.session() as s:
        assert {r.status for r in s.scalars(select(InboxEvent))} == {"done"}
