"""What a closed Zendesk ticket of record refuses besides the requester's new words, through the real app on SQLite and
PostgreSQL (Zendesk ``responses`` at the transport, the Slack stub): a teammate's message, a deletion note and the
requester's edit of a message open no follow-up ticket (no ticket in the requester's name from a teammate's words, no
"a person will follow up" in the thread); they are held, and written on the follow-up once the requester's word opens
one, each once, the notes as internal notes. They used to fail (the teammate's words on no ticket), and an edit opened
a follow-up of its own."""

from __future__ import annotations

import json
from typing import Any

import responses
from datetime import datetime, timedelta, timezone
from sqlalchemy import select

from connectors.zendesk.connector import key_tag
from core.db import DecisionRow, OutboxAction, OutcomeRow, TicketRow
from tests.sync_world import stub  # noqa: F401 - a fixture
from tests.sync_world import OTHER, REQUESTER_USER, THREAD, World, say
from tests.test_slack_flow import CHANNEL, ROOT_TS, USER
from tests.test_sync_deletions import deleted, withdraw
from tests.test_sync_thread_cases import changed, deliver
from tests.test_sync_zendesk_closed import FOLLOW_UP, creates, serve_follow_up, settle
from tests.test_sync_zendesk_closed import world  # noqa: F401 - a fixture
from tests.test_zendesk_connector import API
from tests.test_zendesk_mapping import load as zendesk_load

RECORD = "zendesk:4014"
WRITTEN = datetime.fromtimestamp(1800000300, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def on_follow_up(world: World) -> list[dict[str, Any]]:
    """The comments the hub sent to the follow-up ticket (``PUT /tickets/4015.json``), whatever Zendesk answered."""
    return [json.loads(c.request.body)["ticket"]["comment"] for c in world.api.calls
            if c.request.method == "PUT" and c.request.url.endswith(f"/tickets/{FOLLOW_UP}.json")]


def held(world: World) -> dict[str, Any]:
    """The rows refused by the closed ticket and held for a follow-up, by key: their status and result."""
    return {r.idempotency_key: (r.status, r.result) for r in world.rows(OutboxAction) if (r.result or {}).get("held")}


def counters(world: World) -> tuple[int, int, int]:
    """What the dashboard's figures are made of: decisions, outcomes, tickets."""
    return len(world.rows(DecisionRow)), len(world.rows(OutcomeRow)), len(world.rows(TicketRow))


def test_a_teammates_note_and_a_deletion_wait_for_the_follow_up_and_reach_it_as_internal_notes(world: World) -> None:
    serve_follow_up(world, [])
    made, posts, figures = len(creates(world)), len(world.posts()), counters(world)
    say(world, OTHER, "Same here since Monday, I told them to clear the cache", "1800000300.000100")
    settle(world)
    withdraw(world, deleted(OTHER, "Same here since Monday, I told them to clear the cache", "1800000300.000100"), "GONE")
    settle(world)
    # Neither opens a ticket in the requester's name nor says anything in the thread; neither fails.
    assert len(creates(world)) == made and len(world.posts()) == posts
    note, gone = f"sync-note:{THREAD}:1800000300.000100", f"deleted:{THREAD}:1800000300.000100"
    assert held(world) == {note: ("done", {"closed": RECORD, "held": f"follow-up:{RECORD}"}),
                           gone: ("done", {"closed": RECORD, "held": f"follow-up:{RECORD}"})}
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}
    # The requester writes: that opens the follow-up, with their words only as its description.
    say(world, USER, "It broke again this morning", "1800000301.000100")
    settle(world)
    [follow_up] = creates(world)[made:]
    assert "It broke again this morning" in follow_up["comment"]["body"] and "Same here" not in follow_up["comment"]["body"]
    assert follow_up["comment"]["public"] is False
    written = on_follow_up(world)
    assert sorted(c["body"] for c in written) == [
        f"Bob Teammate deleted their Slack message of {WRITTEN} (\"Same here since Monday, I told them to clear the "
        "cache\"). Its copy on this ticket no longer stands.",
        "Bob Teammate wrote in Slack:\n\nSame here since Monday, I told them to clear the cache"]
    assert all(c["public"] is False and "author_id" not in c for c in written), "internal notes, never the requester's"
    tags = [json.loads(c.request.body)["ticket"]["additional_tags"] for c in world.api.calls
            if c.request.method == "PUT" and c.request.url.endswith(f"/tickets/{FOLLOW_UP}.json")]
    assert sorted(t for ts in tags for t in ts if t.startswith("hub_w_")) == sorted(key_tag(k) for k in (note, gone)), "each under its own key"
    assert len(world.posts()) == posts + 1, "the thread is told once, of the follow-up"
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}
    assert counters(world) == figures, "the follow-up is no new request, and the notes are no outcome"


def test_a_teammates_note_refused_while_the_follow_up_opens_reaches_it_once_across_a_lost_answer(world: World) -> None:
    serve_follow_up(world, [])
    # Zendesk takes the note onto the follow-up but its answer is a 503: the retry finds it there by its key.
    world.api.upsert(responses.PUT, f"{API}/tickets/{FOLLOW_UP}.json", json={"error": "service unavailable"}, status=503)
    made, posts = len(creates(world)), len(world.posts())
    say(world, USER, "It broke again this morning", "1800000200.000100")
    say(world, OTHER, "Same here since Monday", "1800000201.000100")
    settle(world)
    note = f"sync-note:{THREAD}:1800000201.000100"
    assert held(world) == {note: ("done", {"closed": RECORD, "held": f"follow-up:{RECORD}"})}, "the test needs the note refused"
    with world.hub.db.session() as s:
        write = s.scalars(select(OutboxAction).where(OutboxAction.idempotency_key == f"follow-up-write:{note}")).one()
        assert write.status == "pending" and "503" in (write.last_error or "") and write.attempts == 1
    world.api.upsert(responses.PUT, f"{API}/tickets/{FOLLOW_UP}.json", json=zendesk_load("ticket_update_response.json"))
    settle(world, later=timedelta(hours=1))
    assert on_follow_up(world) == [{"body": "Bob Teammate wrote in Slack:\n\nSame here since Monday", "public": False}], "not twice"
    [write] = [r for r in world.rows(OutboxAction) if r.idempotency_key == f"follow-up-write:{note}"]
    assert (write.status, write.attempts, write.result["external_id"]) == ("done", 2, f"{FOLLOW_UP}:{key_tag(note)}"), "found, not written again"
    assert len(creates(world)) == made + 1 and len(world.posts()) == posts + 1
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}


def test_the_requesters_edit_after_the_close_opens_no_follow_up_and_reaches_the_one_their_next_word_opens(world: World) -> None:
    serve_follow_up(world, [])
    made, posts, figures = len(creates(world)), len(world.posts()), counters(world)
    # The message was carried while the ticket was open; the requester corrects it after the ticket was closed.
    world.stub.threads[(CHANNEL, ROOT_TS)].append({"type": "message", "user": USER, "text": "It was order 1243",
                                                   "ts": "1800000100.000100", "thread_ts": ROOT_TS})
    deliver(world, changed(USER, "It was order 1243", "It was order 1234", "1800000100.000100"), "EvEDIT", listed=False)
    deliver(world, changed(USER, "It was order 1243", "It was order 1234", "1800000100.000100"), "EvEDIT-RETRY", listed=False)
    settle(world)
    assert len(creates(world)) == made and len(world.posts()) == posts, "an edit hands no ticket back to agents"
    edit = f"sync:{THREAD}:1800000100.000100:edit:1800000900.000000"
    assert held(world) == {edit: ("done", {"closed": RECORD, "held": f"follow-up:{RECORD}"})}
    say(world, USER, "And it broke again this morning", "1800000301.000100")
    settle(world)
    [follow_up] = creates(world)[made:]
    assert "And it broke again this morning" in follow_up["comment"]["body"] and "1243" not in follow_up["comment"]["body"]
    assert on_follow_up(world) == [{"body": "Edited in Slack:\n\nIt was order 1243", "public": True, "author_id": REQUESTER_USER}]
    assert len(world.posts()) == posts + 1
    assert [t.escalated_to for t in world.rows(TicketRow) if t.escalated_to] == [f"zendesk:{FOLLOW_UP}"]
    assert {r.status for r in world.rows(OutboxAction)} == {"done"}
    assert counters(world) == figures
