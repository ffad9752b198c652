"""The pipeline under faults: concurrent deliveries, answers stuck past their deadline or behind a rate limit,
and bursts of new people: each request still decided once, and counted for what happened to it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from core import outbox
from core.analytics import Costs, parse_period, stats
from core.db import DecisionRow, OutboxAction, OutcomeRow, PersonRow
from core.models import Ticket, utcnow
from interceptor.pipeline import Pipeline
from interceptor.types import Decision, ThreadState
from tests.pipeline_world import FakeEngine, created, make_world, zendesk_ticket


class RacingEngine(FakeEngine):
    """Holds every caller at a barrier, so that all concurrent deliveries decide before any records."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=20)

    def decide(self, text: str, *, channel: str | None = None, thread: ThreadState = ThreadState()) -> Decision:
        decision = super().decide(text, channel=channel, thread=thread)
        self.barrier.wait()
        return decision


@pytest.mark.parametrize("verdict_text", ["I forgot my password", "My invoice shows the wrong VAT"])
def test_concurrent_deliveries_of_one_request_make_one_decision(database_url: str, verdict_text: str) -> None:
    world = make_world(database_url)
    racing = RacingEngine(parties=10)
    world.pipeline = Pipeline(world.pipeline._settings, world.db, world.jobs, world.vendors, lambda: racing)  # type: ignore[arg-type]
    desk = world.vendors["zendesk"]
    ticket = zendesk_ticket("77", verdict_text)
    desk.tickets[str(ticket.ref)] = ticket
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        try:
            world.pipeline.handle(created(ticket, f"d{n}"), None)  # type: ignore[arg-type]
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    world.jobs.drain()
    assert errors == [] and len(racing.calls) == 10  # all ten decided: the race was real
    decisions = world.rows(DecisionRow)
    assert [(d.trigger, d.ticket_ref) for d in decisions] == [("request", "zendesk:77")]
    assert len(world.rows(OutboxAction)) == 1 and len(desk.writes) == 1
    outcome_kinds = [o.kind for o in world.rows(OutcomeRow)]
    assert outcome_kinds in (["answer_posted"], ["escalated"])
    world.jobs.shutdown()
    world.db.dispose()


def test_an_answer_not_posted_by_the_deadline_goes_to_a_person_and_counts_as_escalated(database_url: str) -> None:
    world = make_world(database_url)
    desk = world.vendors["zendesk"]
    desk.down = True  # public replies fail; internal notes still work
    ticket = zendesk_ticket("5", "I forgot my password")
    desk.tickets[str(ticket.ref)] = ticket
    world.deliver(created(ticket))
    [answer] = world.rows(OutboxAction)
    assert answer.status == "pending" and desk.writes == []
    deadline = timedelta(seconds=world.pipeline._settings.answer_deadline_seconds)
    assert world.pipeline.escalate_unposted(now=answer.created_at + deadline - timedelta(seconds=1)) == 0  # not yet
    assert world.pipeline.escalate_unposted(now=answer.created_at + deadline) == 1
    world.jobs.drain()
    answer_row, draft_row = world.rows(OutboxAction)
    assert answer_row.status == "superseded" and "handed to a person" in (answer_row.last_error or "")
    assert draft_row.action == "add_internal_note" and draft_row.status == "done"
    [(kind, ref, text)] = desk.writes
    assert (kind, ref) == ("note", "zendesk:5") and "Click Forgot password" in text and "could not be posted" in text
    [outcome] = world.rows(OutcomeRow)
    assert (outcome.kind, outcome.detail) == ("escalated", {"reason": "answer_not_posted"})
    # The vendor comes back: the superseded answer is never posted late, and a second sweep does nothing.
    desk.down = False
    assert outbox.perform(world.db, world.jobs, answer_row.id, {}) is None
    assert world.pipeline.escalate_unposted(now=answer.created_at + 2 * deadline) == 0
    with world.db.session() as s:
        doc = stats(s, parse_period(None, None, now=utcnow()), channel=None, costs=Costs(10.0, 1.0), now=utcnow())
    assert doc["counts"]["answered"] == 0 and doc["counts"]["escalated"] == 1 and doc["counts"]["requests"] == 1
    world.jobs.shutdown()
    world.db.dispose()


def test_answers_stuck_behind_a_rate_limit_are_not_counted_answered(database_url: str) -> None:
    world = make_world(database_url)
    desk = world.vendors["zendesk"]
    desk.down = True
    for n in range(3):
        ticket = zendesk_ticket(str(30 + n), "I forgot my password")
        desk.tickets[str(ticket.ref)] = ticket
        world.deliver(created(ticket, f"d{n}"))
    with world.db.session() as s:
        doc = stats(s, parse_period(None, None, now=utcnow()), channel=None, costs=Costs(10.0, 1.0), now=utcnow())
    assert doc["counts"]["requests"] == 3 and doc["counts"]["answered"] == 0 and doc["counts"]["unposted"] == 3
    world.jobs.shutdown()
    world.db.dispose()


def test_one_new_person_asking_in_several_tickets_at_once_gets_every_request_decided(database_url: str) -> None:
    world = make_world(database_url)
    racing = RacingEngine(parties=6)
    world.pipeline = Pipeline(world.pipeline._settings, world.db, world.jobs, world.vendors, lambda: racing)  # type: ignore[arg-type]
    desk = world.vendors["zendesk"]
    tickets = [zendesk_ticket(str(200 + n), "I forgot my password") for n in range(6)]
    for ticket in tickets:
        desk.tickets[str(ticket.ref)] = ticket
    errors: list[BaseException] = []

    def deliver(ticket: Ticket) -> None:
        try:
            world.pipeline.handle(created(ticket), None)  # type: ignore[arg-type]
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=deliver, args=(t,)) for t in tickets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    world.jobs.drain()
    assert errors == []  # the new person's row did not collide
    assert sorted(d.ticket_ref for d in world.rows(DecisionRow)) == sorted(str(t.ref) for t in tickets)
    assert len(world.rows(PersonRow)) == 1 and len(desk.writes) == 6
    world.jobs.shutdown()
    world.db.dispose()
