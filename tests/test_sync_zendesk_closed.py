"""A requester writes in the Slack thread after its Zendesk ticket of record was closed, through the real app on SQLite
and PostgreSQL: Zendesk refuses any update of a closed ticket (422), so the message opens one follow-up ticket
(``via_followup_source_id``), the thread is told once and re-pointed to it, and later messages and agents' replies go
through the new ticket. A retried create opens no second ticket."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from datetime import timedelta
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import select

from core import outbox
from core.db import OutboxAction, TicketRow
from core.models import utcnow
from interceptor import record
from tests.slack_stub import SlackStub, fixture, sign
from tests.sync_world import (
    stub,  # noqa: F401 - stub is a fixture
    running,
    AGENT_USER, REQUESTER_USER, RECORD_ID, THREAD, World, comment_added, say, serve_record, zendesk_comment, zendesk_world,
)
from tests.test_slack_flow import CHANNEL, ROOT_TS, USER
from tests.test_zendesk_connector import API, BASE
from tests.test_zendesk_mapping import load as zendesk_load

FOLLOW_UP = 4015
# observed answer of Zendesk to an update of a closed ticket (the status is what the hub reads back)
CLOSED_422 = {"error": "RecordInvalid", "description": "Record validation errors",
              "details": {"status": [{"description": "Status: closed prevents ticket update"}]}}


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    with running(zendesk_world, database_url, stub) as built:
        serve_record(built.api, [], status="closed", tags=("hub_w_0123456789abcdef", "billing"))
        built.api.upsert(responses.PUT, f"{API}/tickets/{RECORD_ID}.json", json=CLOSED_422, status=422)
        yield built


def creates(world: World) -> list[dict[str, Any]]:
    return [json.loads(c.request.body)["ticket"] for c in world.api.calls if c.request.method == "POST" and c.request.url.endswith("/tickets.json")]


def settle(world: World, later: timedelta = timedelta(minutes=10)) -> None:
    """Run the jobs, then the retries of the rows that waited (a message's ``write_on_follow_up`` that ran before the
    follow-up was opened: the worker's pool runs them side by side), as the outbox does once their backoff is over
    (``later`` than now)."""
    world.drain()
    for row in world.rows(OutboxAction):
        if row.status == "pending":
            outbox.perform(world.hub.db, world.hub.jobs, row.id, world.hub.performers, now=utcnow() + later,
                           on_done=record.on_action_done)
    world.drain()


def serve_follow_up(world: World, comments: list[dict[str, Any]]) -> None:
    """Zendesk opens ticket 4015 when asked, lists it by the external_id it was created with, and serves it with the
    tags it was created with (and those of the updates made to it since)."""
    api = world.api
    created = json.loads(json.dumps(zendesk_load("ticket_update_response.json")))
    created["ticket"]["id"] = FOLLOW_UP
    api.upsert(responses.POST, f"{API}/tickets.json", json=created, status=201)

    def show(request: Any) -> tuple[int, dict[str, str], str]:
        made = [t for t in creates(world) if t.get("via_followup_source_id")][-1:]
        tags = [tag for t in made for tag in t["tags"]] + [
            tag for c in world.api.calls if c.request.method == "PUT" and c.request.url.endswith(f"/tickets/{FOLLOW_UP}.json")
            for tag in json.loads(c.request.body)["ticket"].get("additional_tags", ())]
        body = zendesk_load("ticket_show.json")
        body["ticket"].update(id=FOLLOW_UP, status="open", requester_id=REQUESTER_USER, tags=tags)
        return 200, {}, json.dumps(body)

    def listing(request: Any) -> tuple[int, dict[str, str], str]:
        asked = request.params.get("external_id")
        found = [{"id": FOLLOW_UP, "status": "open"} for t in creates(world) if t.get("external_id") == asked][:1]
        return 200, {}, json.dumps({"tickets": found, "next_page": None, "count": len(found)})

    listed = {"comments": comments, "next_page": None, "count": len(comments)}
    api.remove(responses.GET, f"{API}/tickets/{FOLLOW_UP}.json")
    api.remove(responses.GET, f"{API}/tickets.json")
    api.add_callback(responses.GET, f"{API}/tickets/{FOLLOW_UP}.json", callback=show)
    api.add_callback(responses.GET, f"{API}/tickets.json", callback=listing)
    api.upsert(responses.GET, f"{API}/tickets/{FOLLOW_UP}/comments.json", json=listed)
    api.upsert(responses.PUT, f"{API}/tickets/{FOLLOW_UP}.json", json=zendesk_load("ticket_update_response.json"))


def test_a_word_on_a_closed_ticket_opens_one_follow_up_and_the_thread_moves_to_it(world: World) -> None:
    serve_follow_up(world, [])
    made, posts = len(creates(world)), len(world.posts())
    say(world, USER, "It broke again this morning", "1800000200.000100")
    settle(world)
    [follow_up] = creates(world)[made:]
    assert follow_up["via_followup_source_id"] == RECORD_ID and follow_up["requester_id"] == REQUESTER_USER
    assert "It broke again this morning" in follow_up["comment"]["body"] and follow_up["comment"]["public"] is False
    [thread] = [t for t in world.rows(TicketRow) if t.escalated_to]
    assert thread.url and thread.url in follow_up["comment"]["body"], "the description links the Slack thread"
    assert "hub_created" in follow_up["tags"] and "billing" in follow_up["tags"]
    assert not any(t.startswith("hub_w_0123") for t in follow_up["tags"]), "the closed ticket's write keys are not carried"
    [notice] = world.posts()[posts:]
    assert notice.args["text"].endswith(f"{BASE}/agent/tickets/{FOLLOW_UP}")
    assert {(r.idempotency_key, r.status, r.last_error) for r in world.rows(OutboxAction) if r.status != "done"} == set()
    assert [t.escalated_to for t in world.rows(TicketRow) if t.escalated_to] == [f"zendesk:{FOLLOW_UP}"]
    # The next message goes to the follow-up as the requester's comment; the closed ticket is not written again.
    say(world, USER, "Also the export", "1800000201.000100")
    world.drain()
    puts = [(c.request.url, json.loads(c.request.body)["ticket"]) for c in world.api.calls if c.request.method == "PUT"]
    assert [t["comment"] for u, t in puts if u.endswith(f"/tickets/{FOLLOW_UP}.json")] == [
        {"body": "Also the export", "public": True, "author_id": REQUESTER_USER}]
    assert len(creates(world)) == made + 1 and len(world.posts()) == posts + 1
    # An agent's reply on the follow-up reaches the thread.
    serve_follow_up(world, [zendesk_comment(31, AGENT_USER, "Looking at the export now.", public=True)])
    assert world.zendesk(comment_added(31, AGENT_USER, "Joshua Teitelbaum", staff=True, ticket=FOLLOW_UP), "inv-31").status_code == 200
    world.drain()
    assert "Looking at the export now." in world.posts()[-1].args["text"] and len(world.posts()) == posts + 2
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}


def test_a_retried_follow_up_after_a_503_opens_no_second_ticket(world: World) -> None:
    # The first create reaches Zendesk (ticket 4015 is made) but its answer is a 503; the retry finds it by its key.
    world.api.upsert(responses.POST, f"{API}/tickets.json", json={"error": "service unavailable"}, status=503)
    serve_follow_up(world, [])
    world.api.upsert(responses.POST, f"{API}/tickets.json", json={"error": "service unavailable"}, status=503)
    made, posts = len(creates(world)), len(world.posts())
    say(world, USER, "It broke again this morning", "1800000200.000100")
    world.drain()
    with world.hub.db.session() as s:
        row = s.scalars(select(OutboxAction).where(OutboxAction.idempotency_key == f"follow-up:zendesk:{RECORD_ID}")).one()
        assert row.status == "pending"
    settle(world)
    assert len(creates(world)) == made + 1, "one create call: the retry found the ticket instead of opening another"
    [notice] = world.posts()[posts:]
    assert notice.args["text"].endswith(f"{BASE}/agent/tickets/{FOLLOW_UP}")
    assert [t.escalated_to for t in world.rows(TicketRow) if t.escalated_to] == [f"zendesk:{FOLLOW_UP}"]
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}


def test_two_messages_refused_by_the_closed_ticket_open_one_follow_up_and_both_reach_it(world: World) -> None:
    # Both messages are on their way to the closed ticket before the first one's refusal asks for a follow-up.
    serve_follow_up(world, [])
    made, posts = len(creates(world)), len(world.posts())
    say(world, USER, "It broke again this morning", "1800000200.000100")
    say(world, USER, "Also the export", "1800000201.000100")
    settle(world)
    puts = [(c.request.url, json.loads(c.request.body)["ticket"]) for c in world.api.calls if c.request.method == "PUT"]
    words = {"It broke again this morning", "Also the export"}
    refused = [t["comment"]["body"] for u, t in puts if u.endswith(f"/tickets/{RECORD_ID}.json") and t["comment"]["body"] in words]
    assert len(refused) == 2, "the test needs both messages refused by the closed ticket"
    [follow_up] = creates(world)[made:]
    [comment] = [t["comment"] for u, t in puts if u.endswith(f"/tickets/{FOLLOW_UP}.json")]
    # whichever message was refused first is the follow-up's description, the other its comment: each once
    [described] = [w for w in words if w in follow_up["comment"]["body"]]
    assert comment == {"body": (words - {described}).pop(), "public": True, "author_id": REQUESTER_USER}
    assert len(world.posts()) == posts + 1
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}


def test_i_still_need_help_under_a_closed_ticket_opens_a_follow_up(world: World) -> None:
    serve_follow_up(world, [])
    made, posts = len(creates(world)), len(world.posts())
    click = fixture("block_actions_feedback")
    click["actions"][0].update(action_id="hub_feedback_not_solved", value=THREAD)
    click["container"]["message_ts"] = world.stub.threads[(CHANNEL, ROOT_TS)][-1]["ts"]
    raw = urlencode({"payload": json.dumps(click)}).encode()
    assert world.client.post("/slack/events", data=raw, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(raw)}).status_code == 200
    settle(world)
    [follow_up] = creates(world)[made:]
    assert follow_up["via_followup_source_id"] == RECORD_ID and follow_up["requester_id"] == REQUESTER_USER
    assert "after the ticket was closed" in follow_up["comment"]["body"]
    [notice] = world.posts()[posts:]
    assert notice.args["text"].endswith(f"{BASE}/agent/tickets/{FOLLOW_UP}")
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}
    assert [t.escalated_to for t in world.rows(TicketRow) if t.escalated_to] == [f"zendesk:{FOLLOW_UP}"]
