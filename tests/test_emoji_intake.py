"""Issue 12 item 6, end to end through the real app on SQLite and PostgreSQL: reacting with
``SLACK_TICKET_EMOJI`` to a message in a watched channel opens exactly one ticket of record for the thread,
however many people react, confirms it in the thread with the link, and records a person's escalation."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest
import responses

from core.db import DecisionRow, InboxEvent, OutcomeRow
from tests.slack_stub import SlackStub
from tests.sync_world import RECORD_ID, World, running, serve_record, zendesk_world
from tests.test_slack_flow import CHANNEL, ROOT, ROOT_TS, USER
from tests.test_zendesk_connector import API, BASE

QUESTION_TS = "1800000500.000100"
QUESTION_THREAD = f"slack:{ROOT['team_id']}:{CHANNEL}:{QUESTION_TS}"


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    server = SlackStub().start()
    for user, name in ((USER, "Ada Lovelace"), ("U0CAROL01", "Carol"), ("U0DAVE001", "Dave"), ("U0ERIN001", "Erin")):
        server.users[user] = {"id": user, "name": name.lower(), "real_name": name, "profile": {"email": f"{name.split()[0].lower()}@example.com"}}
    yield server
    server.stop()


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    with running(zendesk_world, database_url, stub, SLACK_TICKET_EMOJI=":sos:") as built:
        yield built


def reaction(user: str, emoji: str, ts: str = QUESTION_TS, channel: str = CHANNEL, event_id: str | None = None) -> dict[str, Any]:
    """A ``reaction_added`` delivery as Slack documents it (https://docs.slack.dev/reference/events/reaction_added)."""
    envelope = copy.deepcopy(ROOT)
    envelope["event_id"] = event_id or f"EvR{user}{emoji}"
    envelope["event"] = {"type": "reaction_added", "user": user, "reaction": emoji, "item_user": USER,
                         "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": "1800000600.000200"}
    return envelope


def creates(world: World) -> list[dict[str, Any]]:
    return [json.loads(c.request.body)["ticket"] for c in world.api.calls if c.request.method == "POST" and c.request.url.endswith("/tickets.json")]


def seed_question(world: World) -> None:
    """A message the hub never took as a request (posted before it was invited, say): only the reaction tells."""
    world.stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": "The VPN drops every hour on my laptop", "ts": QUESTION_TS})


def test_several_people_reacting_open_one_ticket_confirmed_in_the_thread(world: World) -> None:
    seed_question(world)
    before = len(creates(world))
    bodies = [reaction(u, "sos") for u in ("U0CAROL01", "U0DAVE001", "U0ERIN001")] + [reaction("U0CAROL01", "sos::skin-tone-3", event_id="EvX1")]
    with ThreadPoolExecutor(4) as pool:  # at the same time: the database's unique key decides, not a read
        statuses = [r.get_json()["status"] for r in pool.map(world.slack, bodies)]
    world.drain()
    assert sorted(statuses) == ["accepted", "duplicate", "duplicate", "duplicate"]
    [created] = creates(world)[before:]
    assert "The VPN drops every hour on my laptop" in created["comment"]["body"] and created["comment"]["public"] is False
    assert created["requester"]["email"] == "ada@example.com", "the requester is who wrote the message, not who reacted"
    notices = [c for c in world.stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == QUESTION_TS]
    [notice] = notices
    assert notice.args["text"].endswith(f"{BASE}/agent/tickets/{RECORD_ID}")
    with world.hub.db.session() as s:
        [decision] = [d for d in s.query(DecisionRow).all() if d.ticket_ref == QUESTION_THREAD]
        assert decision.verdict == "escalate" and decision.reasons == ["person_escalated"] and decision.trigger == "request"
        [escalated] = [o for o in s.query(OutcomeRow).all() if o.ticket_ref == QUESTION_THREAD]
        assert escalated.kind == "escalated" and escalated.detail["reason"] == "person_escalated"
        assert escalated.detail["by"] in ("U0CAROL01", "U0DAVE001", "U0ERIN001")
        assert len([e for e in s.query(InboxEvent).all() if e.delivery_id.startswith("reaction:")]) == 1


def test_other_emoji_and_unwatched_channels_are_ignored(database_url: str, stub: SlackStub) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        world = zendesk_world(database_url, stub, api, SLACK_CHANNELS=CHANNEL)
        seed_question(world)
        before = len(creates(world))
        assert world.slack(reaction("U0CAROL01", "sos")).get_json() == {"status": "ignored"}  # the default is :ticket:
        assert world.slack(reaction("U0CAROL01", "ticket", channel="C0ELSEWHERE")).get_json() == {"status": "ignored"}
        assert world.slack(reaction("U0CAROL01", "ticket")).get_json()["status"] == "accepted"
        world.drain()
        assert len(creates(world)) == before + 1
        world.hub.close()


def test_reacting_on_a_thread_already_escalated_opens_nothing_more(world: World) -> None:
    # ROOT_TS was escalated by the hub itself (a refund) when the world was built.
    before = len(creates(world))
    assert world.slack(reaction("U0CAROL01", "sos", ts=ROOT_TS)).get_json()["status"] == "accepted"
    world.drain()
    assert len(creates(world)) == before
    assert len([c for c in world.stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == ROOT_TS]) == 1


def test_a_reaction_on_a_reply_escalates_the_whole_thread_once(world: World) -> None:
    reply_ts = "1800000501.000100"
    world.stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": "The VPN drops every hour on my laptop", "ts": QUESTION_TS},
                           {"type": "message", "user": "U0DAVE001", "text": "same here since Monday", "ts": reply_ts, "thread_ts": QUESTION_TS})
    before = len(creates(world))
    assert world.slack(reaction("U0CAROL01", "sos", ts=reply_ts)).get_json()["status"] == "accepted"
    world.drain()
    assert world.slack(reaction("U0ERIN001", "sos")).get_json()["status"] == "accepted"  # then on the root
    world.drain()
    [created] = creates(world)[before:]
    assert created["requester"]["email"] == "ada@example.com"
    assert "same here since Monday" in created["comment"]["body"]
    [notice] = [c for c in world.stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == QUESTION_TS]
    assert notice.args["text"].endswith(f"{BASE}/agent/tickets/{RECORD_ID}")
    assert not [c for c in world.stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == reply_ts]


def test_a_message_read_from_slack_with_a_nul_opens_its_ticket(world: World) -> None:
    # Read from Slack's API (not a webhook, which refuses NUL at the door): PostgreSQL text holds no NUL, and the
    # request failed at every retry, so nobody heard of it.
    world.stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": "The VPN\u0000 drops every hour", "ts": QUESTION_TS})
    assert world.slack(reaction("U0CAROL01", "sos")).get_json()["status"] == "accepted"
    world.drain()
    [created] = [c for c in creates(world) if "drops every hour" in c["comment"]["body"]]
    assert "The VPN drops every hour" in created["comment"]["body"] and "\u0000" not in json.dumps(created)
    with world.hub.db.session() as s:
        [decision] = [d for d in s.query(DecisionRow).all() if d.ticket_ref == QUESTION_THREAD]
        assert decision.reasons == ["person_escalated"]
        assert [e.status for e in s.query(InboxEvent).all() if e.delivery_id.startswith("reaction:")] == ["done"]


def test_a_malformed_reply_in_a_thread_read_from_slack_is_passed_over(world: World) -> None:
    # One message not of the documented shape (an integration's, say) made the whole thread unreadable: the
    # request failed at every retry.
    world.stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": "The VPN drops every hour", "ts": QUESTION_TS},
                           {"type": "message", "user": {"id": "U0BOT"}, "text": 42, "ts": "not-a-ts"})
    assert world.slack(reaction("U0CAROL01", "sos")).get_json()["status"] == "accepted"
    world.drain()
    assert any("The VPN drops every hour" in c["comment"]["body"] for c in creates(world))
    with world.hub.db.session() as s:
        [decision] = [d for d in s.query(DecisionRow).all() if d.ticket_ref == QUESTION_THREAD]
        assert decision.reasons == ["person_escalated"]
        assert [e.status for e in s.query(InboxEvent).all() if e.delivery_id.startswith("reaction:")] == ["done"]
