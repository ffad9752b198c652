"""Issue 12 with Zendesk as the help desk of record, end to end through the real app on SQLite and
PostgreSQL: agents' public replies reach the Slack thread (internal notes never), thread replies reach the
ticket (the requester's public, others' internal), a solved ticket reopens, and nothing loops or doubles."""

from __future__ import annotations

import json
from urllib.parse import urlencode
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import select
from datetime import timedelta

from connectors.zendesk import scheduled_jobs
from core import outbox
from core.db import OutboxAction, OutcomeRow
from core.models import utcnow
from tests.slack_stub import BOT_ID, BOT_USER, SlackStub, fixture, sign
from tests.test_zendesk_mapping import load as zendesk_load
from tests.sync_world import (
    stub,  # noqa: F401 - stub is a fixture
    running,
    assert_reply_and_solve_mirrored_once,
    AGENT_USER, HUB_USER, OTHER, REQUESTER_USER, RECORD_ID, THREAD, World, comment_added, echo_of, say, serve_record, zendesk_comment,
    zendesk_world,
)
from tests.test_slack_flow import CHANNEL, ROOT_TS, USER
from tests.test_zendesk_connector import API, BASE

TICKET_URL = f"{BASE}/agent/tickets/{RECORD_ID}"
ATTACHMENT = {"id": 5, "file_name": "invoice.pdf", "content_url": f"{BASE}/attachments/token/abc/?name=invoice.pdf", "deleted": False}


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    with running(zendesk_world, database_url, stub) as built:
        yield built


def updates(world: World) -> list[dict[str, Any]]:
    return [json.loads(c.request.body)["ticket"] for c in world.api.calls if c.request.method == "PUT"]


def test_an_agents_public_reply_reaches_the_thread_once_and_internal_notes_never(world: World) -> None:
    assert [p.args["text"].split()[-1] for p in world.posts()] == [TICKET_URL]  # the escalation notice
    serve_record(world.api, [
        zendesk_comment(11, AGENT_USER, "We refunded the second charge.", public=True, attachments=[ATTACHMENT]),
        zendesk_comment(12, AGENT_USER, "internal: customer is on the watch list", public=False),
        zendesk_comment(13, AGENT_USER, "no public flag at all: ambiguous"),
        zendesk_comment(14, HUB_USER, "the hub's own draft", public=False),
    ])
    assert world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11").status_code == 200
    world.drain()
    notice, mirrored = world.posts()
    text = mirrored.args["text"]
    assert mirrored.args["channel"] == CHANNEL and mirrored.args["thread_ts"] == ROOT_TS
    assert "Joshua Teitelbaum" in text and TICKET_URL in text and "We refunded the second charge." in text
    assert ATTACHMENT["content_url"] in text, "attachments are linked, not copied"
    for secret in ("watch list", "ambiguous", "own draft"):
        assert secret not in json.dumps([p.args for p in world.posts()])
    # Redelivery (a new invocation id) and another event on the same ticket: nothing new is posted.
    world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11-again")
    world.zendesk(comment_added(12, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-12")
    world.drain()
    assert len(world.posts()) == 2
    replies = [o for o in world.rows(OutcomeRow) if o.kind == "agent_reply"]
    assert [(o.ticket_ref, o.detail["comment"]) for o in replies] == [(THREAD, "11")]


def test_the_hubs_mirrored_message_does_not_come_back_from_slack(world: World) -> None:
    serve_record(world.api, [zendesk_comment(11, AGENT_USER, "Refunded.", public=True)])
    world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11")
    world.drain()
    mirrored = world.stub.threads[(CHANNEL, ROOT_TS)][-1]
    puts_before = len(updates(world))
    assert world.slack(echo_of(world, mirrored)).get_json() == {"status": "ignored"}
    world.drain()
    assert len(updates(world)) == puts_before and len(world.posts()) == 2


def test_thread_replies_reach_the_ticket_public_for_the_requester_internal_for_others(world: World) -> None:
    before = len(updates(world))
    say(world, USER, "It was the March invoice", "1800000100.000100")
    say(world, OTHER, "FYI she has two accounts", "1800000101.000100")
    world.drain()
    [public] = [u for u in updates(world)[before:] if u["comment"]["public"] is True]
    [internal] = [u for u in updates(world)[before:] if u["comment"]["public"] is False]
    # Zendesk lets the hub write as the requester: their words read as theirs on the ticket.
    assert public["comment"] == {"body": "It was the March invoice", "public": True, "author_id": REQUESTER_USER}
    assert internal["comment"] == {"body": "Bob Teammate wrote in Slack:\n\nFYI she has two accounts", "public": False}
    assert "status" not in public and "status" not in internal
    # A redelivery of the requester's message (Slack retries with the same event) writes nothing more.
    say(world, USER, "It was the March invoice", "1800000100.000100")
    world.drain()
    assert len(updates(world)) == before + 2
    assert len(world.posts()) == 1, "the thread gets no answer of the hub's to those messages"


def test_files_shared_in_the_thread_reach_the_ticket_as_links(world: World) -> None:
    # A screenshot posted alone (no text) is the requester's whole message: the agent gets its link, not an
    # empty comment; a teammate's log file reaches the internal note the same way. Their content stays in Slack.
    shot = {"id": "F01", "name": "error.png", "mimetype": "image/png", "url_private": "https://files.slack.com/files-pri/T1-F01/error.png",
            "permalink": "https://acme.slack.com/files/U1/F01/error.png"}
    log = {"id": "F02", "name": "app.log", "mimetype": "text/plain", "url_private": "https://files.slack.com/files-pri/T1-F02/app.log",
           "permalink": "https://acme.slack.com/files/U2/F02/app.log"}
    gone = {"id": "F03", "mode": "tombstone"}  # a deleted file: nothing to link to
    before = len(updates(world))
    say(world, USER, "", "1800000100.000100", files=(shot, gone))
    say(world, OTHER, "the log from her machine", "1800000101.000100", files=(log,))
    world.drain()
    [public] = [u for u in updates(world)[before:] if u["comment"]["public"] is True]
    [internal] = [u for u in updates(world)[before:] if u["comment"]["public"] is False]
    assert public["comment"]["body"] == f"Attachment: error.png {shot['permalink']}"
    assert internal["comment"]["body"] == f"Bob Teammate wrote in Slack:\n\nthe log from her machine\nAttachment: app.log {log['permalink']}"


def test_the_requesters_words_written_on_the_ticket_do_not_come_back_to_the_thread(world: World) -> None:
    say(world, USER, "It was the March invoice", "1800000100.000100")
    world.drain()
    posts_before = len(world.posts())
    serve_record(world.api, [zendesk_comment(21, REQUESTER_USER, "It was the March invoice", public=True),
                             zendesk_comment(22, HUB_USER, "a notice of the hub's", public=True)])
    assert world.zendesk(comment_added(21, REQUESTER_USER, "The Customer", staff=False), "inv-21").get_json() == {"status": "ignored"}
    world.zendesk(comment_added(22, HUB_USER, "Help-desk hub", staff=True), "inv-22")
    world.drain()
    assert len(world.posts()) == posts_before


def test_a_requester_reply_after_solved_reopens_the_ticket(world: World) -> None:
    serve_record(world.api, [], status="solved")
    before = len(updates(world))
    say(world, USER, "Sorry, it happened again today", "1800000200.000100")
    world.drain()
    written = updates(world)[before:]
    [public] = [u for u in written if u["comment"]["public"] is True]
    [reopen] = [u for u in written if u["comment"]["public"] is False]
    assert public["comment"]["author_id"] == REQUESTER_USER and "status" not in public
    assert reopen["status"] == "open" and len(written) == 2


def test_a_retried_mirror_asks_slack_first_and_does_not_post_twice(world: World) -> None:
    serve_record(world.api, [zendesk_comment(11, AGENT_USER, "Refunded.", public=True)])
    key = f"mirror:zendesk:{RECORD_ID}:11"
    # An earlier attempt reached Slack but its success was never recorded (the stub lists it in the thread);
    # this one fails with a 503 (which may or may not have posted), and its retry must find the key there.
    world.stub.threads[(CHANNEL, ROOT_TS)].append({"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": "Refunded.",
                                                   "ts": "1800000300.000100", "thread_ts": ROOT_TS,
                                                   "metadata": {"event_type": "hub_reply", "event_payload": {"key": key}}})
    world.stub.fail("chat.postMessage", status=503, error="service_unavailable")
    world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11")
    world.drain()
    with world.hub.db.session() as s:
        row_id = s.scalars(select(OutboxAction.id).where(OutboxAction.idempotency_key == key)).one()
    outbox.perform(world.hub.db, world.hub.jobs, row_id, world.hub.performers, now=utcnow() + timedelta(minutes=10))
    with world.hub.db.session() as s:
        row = s.get_one(OutboxAction, row_id)
        assert row.status == "done" and row.result["external_id"] == "1800000300.000100"
    assert len(world.stub.calls_to("chat.postMessage")) == 2  # the escalation notice, the failed attempt
    assert len(world.stub.threads[(CHANNEL, ROOT_TS)]) == 3  # root, notice, the one mirrored reply


def test_a_solved_ticket_is_announced_once_and_i_still_need_help_reopens_it(world: World) -> None:
    status = zendesk_load("event_status_changed.json")
    status["detail"].update(id=str(RECORD_ID), tags=["hub_created"], status="SOLVED")
    status["event"] = {"current": "SOLVED", "previous": "OPEN"}
    status["subject"] = f"zen:ticket:{RECORD_ID}"
    serve_record(world.api, [], status="solved")
    assert world.zendesk(status, "inv-status").get_json()["status"] == "accepted"
    world.zendesk(status, "inv-status-redelivered")
    world.drain()
    _, solved = world.posts()
    assert TICKET_URL in solved.args["text"] and "solved" in solved.args["text"]
    buttons = [e for b in solved.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["hub_feedback_solved", "hub_feedback_not_solved"]
    assert {b["value"] for b in buttons} == {THREAD}
    before = len(updates(world))
    click = fixture("block_actions_feedback")
    click["actions"][0].update(action_id="hub_feedback_not_solved", value=THREAD)
    click["container"]["message_ts"] = world.stub.threads[(CHANNEL, ROOT_TS)][-1]["ts"]
    raw = urlencode({"payload": json.dumps(click)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(raw)}
    assert world.client.post("/slack/events", data=raw, headers=headers).status_code == 200
    world.drain()
    [reopen] = updates(world)[before:]
    assert reopen["comment"]["public"] is False and reopen["status"] == "open"
    assert len(world.posts()) == 2


EXPORT = f"{API}/incremental/tickets/cursor.json"


def export_page(cursor: str, status: str = "open", updated: str = "2026-01-01T11:00:00Z") -> dict[str, Any]:
    """One page of Zendesk's incremental ticket export holding the ticket of record."""
    return {"tickets": [{"id": RECORD_ID, "status": status, "tags": ["hub_created"], "updated_at": updated}],
            "after_cursor": cursor, "end_of_stream": True}


def test_without_webhooks_the_next_poll_mirrors_the_reply_and_the_solve(database_url: str, stub: SlackStub) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        world = zendesk_world(database_url, stub, api, ZENDESK_POLL="true")
        api.get(EXPORT, json=export_page("CURSOR-A"))
        serve_record(api, [zendesk_comment(11, AGENT_USER, "We refunded the second charge.", public=True)])
        (_, job, _), = scheduled_jobs(world.hub)
        assert job() == 1
        world.drain()
        _, mirrored = world.posts()
        assert "We refunded the second charge." in mirrored.args["text"] and "Joshua Teitelbaum" in mirrored.args["text"]
        api.replace(responses.GET, EXPORT, json=export_page("CURSOR-B", "solved"))
        serve_record(api, [zendesk_comment(11, AGENT_USER, "We refunded the second charge.", public=True)], status="solved")
        assert job() == 1
        world.drain()
        _, _, announced = world.posts()
        assert "solved" in announced.args["text"] and any(b["type"] == "actions" for b in announced.args["blocks"])
        world.hub.close()


def test_without_webhooks_a_reply_followed_by_a_note_or_submitted_as_solved_is_still_mirrored(database_url: str, stub: SlackStub) -> None:
    # Found by bench/mirror_latency.py --poll --note-after: the poll looked at the newest comment only, so a
    # public reply followed by an internal note (or a reply submitted as solved) never reached the thread.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        world = zendesk_world(database_url, stub, api, ZENDESK_POLL="true")
        api.get(EXPORT, json=export_page("CURSOR-A"))
        reply = zendesk_comment(11, AGENT_USER, "We refunded the second charge.", public=True)
        note = zendesk_comment(12, AGENT_USER, "internal: finance approved it", public=False)
        serve_record(api, [reply, note])
        (_, job, _), = scheduled_jobs(world.hub)
        assert job() == 1
        world.drain()
        _, mirrored = world.posts()
        assert "We refunded the second charge." in mirrored.args["text"]
        # The next poll sees the same reply as the newest public one: nothing new. A last reply submitted as
        # solved gives the reply and the solved notice, the earlier reply is not posted again.
        api.replace(responses.GET, EXPORT, json=export_page("CURSOR-B"))
        assert job() == 0
        last = zendesk_comment(13, AGENT_USER, "Closing this: the refund is on its way.", public=True)
        api.replace(responses.GET, EXPORT, json=export_page("CURSOR-C", "solved", "2026-01-01T12:00:00Z"))
        serve_record(api, [reply, note, last], status="solved")
        assert job() == 2
        assert_reply_and_solve_mirrored_once(world)
        world.hub.close()


def test_a_mention_in_a_synced_thread_is_carried_like_any_thread_message(world: World) -> None:
    before = len(updates(world))
    # The hub's bot user as auth.test names it (in a workspace, the events' authorizations name the same user; the
    # captures this suite's stub and event fixtures come from are of two workspaces).
    say(world, OTHER, f"<@{BOT_USER}> can someone look at this today?", "1800000400.000100")
    world.drain()
    [note] = updates(world)[before:]
    assert note["comment"] == {"body": "Bob Teammate wrote in Slack:\n\ncan someone look at this today?", "public": False}
    assert len(world.posts()) == 1, "no second answer or escalation in the thread"
