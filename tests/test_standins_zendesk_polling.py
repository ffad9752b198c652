"""The hub's Zendesk polling against the independent stand-in (tests/vendor_standins.py), whose incremental export
answers as Zendesk documents: a request its requester commented on before a poll saw it, a first poll during an
outage, and every reply of the requester's side heard once or nearly (after an agent's note or the hub's answer,
two between polls, a busy ticket, a ticket the export held back poll after poll)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connectors.zendesk.poll import CURSOR_NAME
from core.cursors import get_cursor, set_cursor
from core.db import DecisionRow, InboxEvent
from core.errors import Retriable
from core.models import utcnow
from tests.test_standins_zendesk import ADA, QUESTION, desk, hub_comments, hub_for  # noqa: F401 (desk: the stand-in fixture)
from tests.outage_world import run_outbox
from tests.truth_world import figures, outcomes, polled_comments
from tests.vendor_standins import ZendeskStandin


@pytest.mark.parametrize("polls", [1, 2])
def test_a_ticket_its_requester_commented_on_before_a_poll_saw_it_is_a_request(database_url: str, desk: ZendeskStandin,
                                                                               polls: int) -> None:
    """Raised, then commented on by its requester before any poll saw it (between two polls, or while exports
    failed): the poll brings the request it is, answered once and counted. It was taken for a follow-up on a
    request the hub never had ("unknown ticket"): never answered, in no bucket of the stats."""
    desk.clock = int(utcnow().timestamp()) - 300
    tid = desk.ticket(78, "Password", ADA, (ADA, QUESTION, True))
    desk.comment(tid, ADA, "I tried the link in the email twice already")
    hub = hub_for(database_url, ZENDESK_POLL="true")
    from connectors.zendesk import scheduled_jobs
    (_, job, _), = scheduled_jobs(hub)
    for _ in range(polls):  # polled again: nothing new
        job()
        hub.jobs.drain()
    [answer] = hub_comments(desk, tid, public=True)
    assert "https://kb.example/reset-password" in answer["body"]
    counts = figures(hub)
    assert (counts["requests"], counts["answered"]) == (1, 1)
    with hub.db.session() as s:  # the comment written before the decision is part of the request, not a follow-up
        assert [(d.trigger, d.verdict) for d in s.scalars(select(DecisionRow))] == [("request", "answer")]
        assert sorted(r.kind for r in s.scalars(select(InboxEvent))) == ["commented", "created"]
    hub.close()


def test_a_first_poll_that_fails_starts_from_where_it_was_first_tried(database_url: str, desk: ZendeskStandin) -> None:
    """The first poll starts a little before now (10 minutes). When Zendesk is down then, its retries start from
    that same point, stored before it was tried, however much later Zendesk answers: they started from a new "now"
    each time, so a ticket raised before the outage's last 10 minutes was never seen (here, 2 seconds suffice)."""
    hub = hub_for(database_url, ZENDESK_POLL="true")
    from connectors.zendesk import scheduled_jobs
    (_, job, _), = scheduled_jobs(hub)
    started = int(utcnow().timestamp())
    desk.fail("GET", r"/api/v2/incremental/tickets/cursor.json", 503, {"error": "unavailable"})
    with pytest.raises(Retriable):
        job()
    time.sleep(2.5)  # Zendesk answers again later
    desk.clock = started - 600 - 60 + 1  # the request's comment is stamped a minute on: just inside the first lookback
    tid = desk.ticket(79, "Password", ADA, (ADA, QUESTION, True))
    assert job() == 1
    hub.jobs.drain()
    assert len(hub_comments(desk, tid, public=True)) == 1
    hub.close()


# -- polling: every reply of the requester's side, once or nearly ------------------------------------

AGENT = 362


def polled_hub(database_url: str, desk: ZendeskStandin, ahead: dict[str, timedelta]) -> tuple[Any, Any]:
    """A polling hub, with Zendesk's clock ``ahead["by"]`` ahead of the hub's (what the requester writes is
    dated after the hub's decision), and its export asked two minutes after (nothing in its left-out minute)."""
    desk.time = lambda: utcnow() + ahead["by"]
    desk.now = lambda: utcnow() + ahead["by"] + timedelta(minutes=2)
    desk.user(AGENT, "Agent Smith", "smith@example.com", "agent")
    hub = hub_for(database_url, ZENDESK_POLL="true")
    from connectors.zendesk import scheduled_jobs
    (_, job, _), = scheduled_jobs(hub)
    return hub, job



def answered_by_poll(database_url: str, desk: ZendeskStandin, number: int) -> tuple[Any, Any, dict[str, timedelta], int]:
    """A polled hub (its clock moved by the returned ``ahead``), and ticket ``number``, which its first poll answered."""
    ahead = {"by": timedelta(0)}
    hub, job = polled_hub(database_url, desk, ahead)
    tid = desk.ticket(number, "Password", ADA, (ADA, QUESTION, True))
    job()
    hub.jobs.drain()
    return hub, job, ahead, tid

@pytest.mark.parametrize("then", ["agent_note", "hub_answer"])
def test_a_reply_followed_by_a_note_or_the_hubs_answer_before_the_next_poll_is_heard(database_url: str, desk: ZendeskStandin,
                                                                                    then: str) -> None:
    """The requester writes back, and before the next poll an agent adds an internal note (or the hub's answer,
    whose first write failed, lands): the reply is heard, recorded and escalated with a draft, and the answer is
    no deflection. Only the newest comment was passed on: the reply was never seen, nothing reopened the
    ticket, and the stats counted a deflection the requester denied."""
    ahead = {"by": timedelta(0)}
    hub, job = polled_hub(database_url, desk, ahead)
    tid = desk.ticket(80, "Password", ADA, (ADA, QUESTION, True))
    if then == "hub_answer":
        desk.fail("PUT", f"/api/v2/tickets/{tid}.json", 503, {"error": "Service Unavailable"})
    job()
    hub.jobs.drain()
    ahead["by"] = timedelta(minutes=1)
    reply = desk.comment(tid, ADA, "It still does not work" if then == "agent_note" else "I still need a person, please")
    ahead["by"] = timedelta(minutes=2)
    if then == "agent_note":
        desk.comment(tid, AGENT, "Looking at the logs", public=False)
    else:
        run_outbox(hub, utcnow() + timedelta(hours=1))  # the answer, retried, lands after the reply
    assert hub_comments(desk, tid, public=True) and desk.comments[tid][-1]["author_id"] != ADA
    job()
    hub.jobs.drain()
    assert polled_comments(hub) == [(f"ticket:{tid}:comment:{reply['id']}", 0)]
    why = "not_solved" if then == "agent_note" else "human"
    assert outcomes(hub) == [("answer_posted", None), ("escalated", why), ("not_solved", why)]
    [draft] = hub_comments(desk, tid, public=False)
    assert "reset" in draft["body"].lower() and "hub_escalated" in desk.tickets[tid]["tags"] and desk.tickets[tid]["status"] == "open"
    counts = figures(hub, utcnow() + timedelta(days=3))  # past the window in which silence counts as solved
    assert (counts["requests"], counts["answered"], counts["deflected"], counts["escalated"]) == (1, 1, 0, 1)
    hub.close()


def test_two_replies_between_polls_are_both_heard_in_order(database_url: str, desk: ZendeskStandin) -> None:
    """"Thanks, that worked!", then "it still does not work" before the next poll: both are passed on, oldest first
    (the solve, then the denial and its escalation). Only the newest was: the first was lost."""
    hub, job, ahead, tid = answered_by_poll(database_url, desk, 81)
    ahead["by"] = timedelta(minutes=1)
    first = desk.comment(tid, ADA, "thanks, that worked!")
    ahead["by"] = timedelta(minutes=2)
    second = desk.comment(tid, ADA, "Sorry, it still does not work")
    job()
    hub.jobs.drain()
    assert polled_comments(hub) == [(f"ticket:{tid}:comment:{first['id']}", 0), (f"ticket:{tid}:comment:{second['id']}", 0)]
    assert outcomes(hub) == [("answer_posted", None), ("escalated", "not_solved"), ("not_solved", "not_solved"), ("solved", "reply")]
    assert len(hub_comments(desk, tid, public=False)) == 1
    hub.close()


def test_a_busy_ticket_polled_again_and_again_does_not_pass_its_reply_on_each_time(database_url: str, desk: ZendeskStandin) -> None:
    """The requester's reply stays the ticket's newest comment while agents keep changing it (its priority),
    each change seen by the next poll: the reply is passed on by the polls whose floor it is above, then no
    more, so its inbox row's duplicates stop growing. Only the newest comment was passed on, by every poll."""
    hub, job, ahead, tid = answered_by_poll(database_url, desk, 82)
    ahead["by"] = timedelta(minutes=1)
    desk.comment(tid, ADA, "thanks, that worked!")
    duplicates = []
    for n in range(1, 7):
        ahead["by"] = timedelta(minutes=1 + 5 * n)
        desk.tickets[tid]["priority"] = ["low", "normal", "high"][n % 3]
        desk.changed(tid)
        job()
        hub.jobs.drain()
        [(_, seen)] = polled_comments(hub)
        duplicates.append(seen)
    assert duplicates[-1] <= 1 and len(set(duplicates[2:])) == 1, duplicates
    assert outcomes(hub) == [("answer_posted", None), ("solved", "reply")]
    hub.close()


@pytest.mark.parametrize("stored", ["cursor", "older_cursor"])
@pytest.mark.parametrize("held", [2, 4])
def test_a_reply_on_a_ticket_held_back_by_polls_in_a_row_is_heard(database_url: str, desk: ZendeskStandin, held: int,
                                                                  stored: str) -> None:
    """"It still does not work", then agents keep changing the ticket within the minute before each of the next
    polls (the export leaves that minute out, and gives a ticket once, at its latest change), while other tickets
    change and are exported: the reply is heard once the ticket is exported, recorded and escalated, and the answer
    is no deflection; later polls of the ticket do not pass it on again. It was lost: the floor had moved past it
    with the other tickets' changes. A cursor stored by the previous version (``older_cursor``) is read alike."""
    ahead, ask = {"by": timedelta(0)}, {"at": timedelta(minutes=2)}
    hub, job = polled_hub(database_url, desk, ahead)
    desk.now = lambda: utcnow() + ask["at"]
    tid = desk.ticket(83, "Password", ADA, (ADA, QUESTION, True))
    other = desk.ticket(84, "Closed long ago", AGENT)
    desk.tickets[other]["status"] = "closed"  # exported, and not passed on
    job()
    hub.jobs.drain()
    if stored == "older_cursor":
        with hub.db.session() as s:
            state = json.loads(get_cursor(hub.db, CURSOR_NAME) or "")
            set_cursor(s, CURSOR_NAME, json.dumps({k: state[k] for k in ("export", "newest", "floor", "next")}))
    ahead["by"] = timedelta(minutes=1)
    reply = desk.comment(tid, ADA, "It still does not work")
    for n in range(1, held + 4):
        ask["at"] = timedelta(minutes=1 + 5 * n)
        ahead["by"] = ask["at"] - timedelta(seconds=90)
        desk.changed(other)  # exported by this poll
        ahead["by"] = ask["at"] - timedelta(seconds=30 if n <= held else 90)
        desk.tickets[tid]["priority"] = ["low", "normal", "high"][n % 3]
        desk.changed(tid)  # left out by the first ``held`` polls, exported by the next
        job()
        hub.jobs.drain()
    [(key, duplicates)] = polled_comments(hub)
    assert key == f"ticket:{tid}:comment:{reply['id']}" and duplicates <= 1
    assert outcomes(hub) == [("answer_posted", None), ("escalated", "not_solved"), ("not_solved", "not_solved")]
    counts = figures(hub, utcnow() + timedelta(days=3))
    assert (counts["requests"], counts["answered"], counts["deflected"], counts["escalated"]) == (1, 1, 0, 1)
    hub.close()
