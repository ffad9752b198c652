"""Emoji intake on a Slack thread the hub cannot read: the reaction carries no words, and the thread read
(``conversations.replies``) is refused for good. The reacted-to message is read alone (``reactions.get``, the
scope the reaction event itself needs) and handed over as a thread the hub cannot read is: one ticket of record
with the agents' note first, the notice in the thread. When Slack will not tell even that message, the ticket
names it by its link so that an agent can open it; when Slack says the message is gone, the row is skipped.
Each used to fail its inbox row: nobody saw the request a person had asked a ticket for.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub, Zendesk a `responses` mock."""

from __future__ import annotations

from typing import Any

from core.db import DecisionRow, InboxEvent, OutcomeRow
from tests.slack_stub import AUTH_TEST
from tests.sync_world import RECORD_ID, World
from tests.test_emoji_intake import QUESTION_THREAD, QUESTION_TS, creates, reaction, seed_question, stub, world  # noqa: F401 (fixtures)
from tests.test_slack_flow import CHANNEL, USER
from tests.test_zendesk_connector import BASE

NOTE = "could not read this conversation's thread"
PERMALINK = f"{AUTH_TEST['url']}archives/{CHANNEL}/p{QUESTION_TS.replace('.', '')}"


def reaction_row(world: World) -> InboxEvent:
    [found] = [e for e in world.rows(InboxEvent) if e.delivery_id.startswith("reaction:")]
    return found


def thread_notices(world: World, thread_ts: str = QUESTION_TS) -> list[Any]:
    return [c for c in world.stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == thread_ts]


def react(world: World, ts: str = QUESTION_TS) -> None:
    """Carol reacts with the ticket emoji on a message of a private channel the app has no history scope for.
    NOTE(slack): conversations.replies answers missing_scope there. https://docs.slack.dev/reference/methods/conversations.replies"""
    world.stub.fail("conversations.replies", status=200, error="missing_scope", times=3)
    assert world.slack(reaction("U0CAROL01", "sos", ts=ts)).get_json()["status"] == "accepted"
    world.drain()


def test_the_reacted_message_is_read_alone_and_handed_over_with_the_note(world: World) -> None:
    seed_question(world)
    before = len(creates(world))
    react(world)
    [created] = creates(world)[before:]
    body = created["comment"]["body"]
    assert NOTE in body and "missing_scope" in body and "The VPN drops every hour on my laptop" in body
    assert body.index(NOTE) < body.index("The VPN drops every hour"), "the agents read the note first"
    assert PERMALINK in body and created["requester"]["email"] == "ada@example.com", "the requester wrote the message"
    [get] = world.stub.calls_to("reactions.get")
    assert get.args == {"channel": CHANNEL, "timestamp": QUESTION_TS}
    [notice] = thread_notices(world)
    assert notice.args["text"].endswith(f"{BASE}/agent/tickets/{RECORD_ID}")
    assert reaction_row(world).status == "done"
    [decision] = [d for d in world.rows(DecisionRow) if d.ticket_ref == QUESTION_THREAD]
    assert decision.reasons == ["person_escalated", "thread_unreadable"] and decision.verdict == "escalate"
    [outcome] = [o for o in world.rows(OutcomeRow) if o.ticket_ref == QUESTION_THREAD]
    assert outcome.detail["reason"] == "person_escalated" and outcome.detail["by"] == "U0CAROL01"
    assert "missing_scope" in outcome.detail["error"]


def test_a_reacted_reply_escalates_its_thread_from_the_root(world: World) -> None:
    reply_ts = "1800000501.000100"
    world.stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": "The VPN drops every hour", "ts": QUESTION_TS},
                           {"type": "message", "user": "U0DAVE001", "text": "same here since Monday", "ts": reply_ts,
                            "thread_ts": QUESTION_TS})
    before = len(creates(world))
    react(world, reply_ts)
    react(world)  # then on the root: the same thread, already escalated
    [created] = creates(world)[before:]
    assert "same here since Monday" in created["comment"]["body"] and created["requester"]["email"] == "dave@example.com"
    assert len(thread_notices(world)) == 1 and thread_notices(world, reply_ts) == []
    [outcome] = [o for o in world.rows(OutcomeRow) if o.ticket_ref == QUESTION_THREAD]
    assert outcome.kind == "escalated"


def test_a_message_slack_will_not_tell_is_handed_over_by_its_link(world: World) -> None:
    seed_question(world)
    before = len(creates(world))
    world.stub.fail("reactions.get", status=200, error="not_in_channel")
    react(world)
    [created] = creates(world)[before:]
    body = created["comment"]["body"]
    assert NOTE in body and "could not read this Slack message" in body and "not_in_channel" in body
    assert f"Open it in Slack: {PERMALINK}" in body and "The VPN drops" not in body
    assert created["requester"]["email"] == "ada@example.com", "the reaction event names the message's author"
    assert len(thread_notices(world)) == 1 and reaction_row(world).status == "done"
    [decision] = [d for d in world.rows(DecisionRow) if d.ticket_ref == QUESTION_THREAD]
    assert decision.reasons == ["person_escalated", "thread_unreadable"]


def test_a_message_slack_says_is_gone_is_skipped(world: World) -> None:
    seed_question(world)
    before = len(creates(world))
    world.stub.fail("reactions.get", status=200, error="message_not_found")
    react(world)
    assert creates(world)[before:] == [] and thread_notices(world) == []
    row = reaction_row(world)
    assert row.status == "skipped" and "message_not_found" in row.last_error
    assert [o for o in world.rows(OutcomeRow) if o.ticket_ref == QUESTION_THREAD] == []
