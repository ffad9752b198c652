"""The pipeline: events in; decisions, outcomes and outbox writes out, each at most once.

The vendors are in-memory connectors implementing the connector protocol (the seam the pipeline is written
against); their transport-level behaviour is tested with each connector.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterator, Mapping

import pytest
from sqlalchemy import select

from config import load_settings
from connectors.actions import common_performers
from connectors.base import PostedMessage
from core import outbox
from core.analytics import Costs, parse_period, stats
from core.db import Database, DecisionRow, OutboxAction, OutcomeRow, PersonRow, TicketRow
from core.jobs import InlineQueue
from core.errors import Retriable
from core.models import EventKind, Message, Person, Source, Ticket, TicketEvent, TicketRef, Visibility, utcnow
from interceptor.pipeline import Pipeline
from interceptor.record import on_action_done
from interceptor.types import Candidate, Citation, Decision, ThreadState, Verdict
from tests.conftest import settings_dict

ADA = Person("U1", "Ada", "ada@example.com")
AGENT = Person("A9", "Agent Smith", "smith@example.com", is_agent=True)


@dataclass
class FakeVendor:
    """An in-memory help desk or chat: records every write."""

    source: Source
    tickets: dict[str, Ticket] = field(default_factory=dict)
    writes: list[tuple[str, str, str]] = field(default_factory=list)
    down: bool = False  # public replies answer 503 (an outage)

    def verify(self, headers: Mapping[str, str], body: bytes) -> None: ...

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> TicketEvent | None:
        return None

    def fetch(self, ref: TicketRef) -> Ticket:
        return self.tickets[str(ref)]

    def post_reply(self, ref: TicketRef, text: str, *, idempotency_key: str, kind: str = "answer", citations: Any = ()) -> PostedMessage:
        if self.down:
            raise Retriable("503 Service Unavailable")
        self.writes.append(("reply", str(ref), text))
        return PostedMessage(f"m{len(self.writes)}")

    def already_wrote(self, ref: TicketRef, idempotency_key: str) -> PostedMessage | None:
        return None

    def add_internal_note(self, ref: TicketRef, text: str, *, reopen: bool = False) -> PostedMessage:
        self.writes.append(("note", str(ref), text))
        return PostedMessage(f"n{len(self.writes)}")


@dataclass
class FakeDesk(FakeVendor):
    def created_ticket(self, idempotency_key: str) -> TicketRef | None:
        return None

    def create_ticket(self, subject: str, text: str, requester: Person, *, tags: tuple[str, ...] = (),
                      idempotency_key: str | None = None) -> TicketRef:
        ref = TicketRef(self.source, str(100 + len(self.writes)))
        self.writes.append(("create", str(ref), f"{subject}|{requester.email}|{','.join(tags)}|{text}"))
        return ref

    def ticket_url(self, ref: TicketRef) -> str:
        return f"https://desk.example/tickets/{ref.external_id}"


class FakeEngine:
    """Answers when the text mentions a password; records what it was asked."""

    def __init__(self, dry_run: bool = False) -> None:
        self.calls: list[tuple[str, ThreadState]] = []
        self.dry_run = dry_run

    def decide(self, text: str, *, channel: str | None = None, thread: ThreadState = ThreadState()) -> Decision:
        self.calls.append((text, thread))
        top = Candidate(1, "reset-password", "Reset your password", "https://kb.example/reset", "Click Forgot password.", 0.9)
        confident = "password" in text and not thread.fallback_before
        answer = confident and not self.dry_run
        return Decision(
            verdict=Verdict.ANSWER if answer else Verdict.ESCALATE,
            confidence=0.97 if confident else 0.2,
            threshold=0.8,
            reasons=("confident",) if answer else (("dry_run",) if confident else ("confidence_below_threshold",)),
            candidates=(top,),
            answer="Click Forgot password on the sign-in page." if confident else None,
            draft="Draft: see Reset your password (confidence 0.97)",
            citations=(Citation("Reset your password", "https://kb.example/reset"),),
            dry_run=self.dry_run and confident,
        )


@dataclass
class World:
    db: Database
    jobs: InlineQueue
    pipeline: Pipeline
    vendors: dict[str, FakeVendor]
    engine: FakeEngine

    def deliver(self, event: TicketEvent, inbox_id: int | None = None) -> None:
        self.pipeline.handle(event, inbox_id)  # type: ignore[arg-type]
        self.jobs.drain()

    def rows(self, model: Any) -> list[Any]:
        with self.db.session() as s:
            return list(s.scalars(select(model).order_by(model.id)))


def make_world(url: str, *, with_desk: bool = True, dry_run: bool = False) -> World:
    settings = load_settings(settings_dict(url, **({"ZENDESK_URL": "http://127.0.0.1:1", "ZENDESK_EMAIL": "bot@x.example",
                                                  "ZENDESK_API_TOKEN": "t", "HUB_ESCALATION_TARGET": "zendesk"} if with_desk else {})))
    db = Database(url)
    vendors: dict[str, FakeVendor] = {"slack": FakeVendor(Source.SLACK)}
    if with_desk:
        vendors["zendesk"] = FakeDesk(Source.ZENDESK)
    performers = {(n, a): p for n, v in vendors.items() for a, p in common_performers(n, v).items()}  # type: ignore[arg-type]
    jobs = InlineQueue({}, workers=2)
    jobs.register("outbox", lambda row_id: outbox.perform(db, jobs, row_id, performers, on_done=on_action_done))
    engine = FakeEngine(dry_run=dry_run)
    pipeline = Pipeline(settings, db, jobs, vendors, lambda: engine)  # type: ignore[arg-type]
    return World(db, jobs, pipeline, vendors, engine)


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    w = make_world(sqlite_url)
    yield w
    w.jobs.shutdown()
    w.db.dispose()


def zendesk_ticket(number: str, text: str, requester: Person = ADA) -> Ticket:
    ref = TicketRef(Source.ZENDESK, number)
    return Ticket(ref, text, text, requester, messages=(Message("c1", requester, text),))


def created(ticket: Ticket, delivery: str = "d1") -> TicketEvent:
    return TicketEvent(ticket.ref.source, delivery, EventKind.CREATED, ticket.ref, ticket.messages[0] if ticket.messages else None)


def test_a_confident_answer_is_posted_once_in_the_ticket_and_recorded(world: World) -> None:
    desk = world.vendors["zendesk"]
    ticket = zendesk_ticket("1", "I forgot my password")
    desk.tickets[str(ticket.ref)] = ticket
    world.deliver(created(ticket))
    world.deliver(created(ticket, "d1-retry"))  # reprocessing (a redelivery under another id) does nothing new
    assert desk.writes == [("reply", "zendesk:1", "Click Forgot password on the sign-in page.")]
    [decision] = world.rows(DecisionRow)
    assert (decision.verdict, decision.trigger, decision.confidence, decision.channel) == ("answer", "request", 0.97, "zendesk")
    assert decision.candidates[0]["title"] == "Reset your password"
    assert [o.kind for o in world.rows(OutcomeRow)] == ["answer_posted"]
    [action] = world.rows(OutboxAction)
    assert (action.idempotency_key, action.status, action.payload["kind"]) == ("answer:zendesk:1", "done", "answer")
    [stored] = world.rows(TicketRow)
    assert stored.requester_id is not None


def test_an_unsure_request_gets_an_internal_draft_and_counts_as_escalated(world: World) -> None:
    desk = world.vendors["zendesk"]
    ticket = zendesk_ticket("2", "My invoice shows the wrong VAT")
    desk.tickets[str(ticket.ref)] = ticket
    world.deliver(created(ticket))
    assert desk.writes == [("note", "zendesk:2", "Draft: see Reset your password (confidence 0.97)")]
    assert [(o.kind, o.detail["reason"]) for o in world.rows(OutcomeRow)] == [("escalated", "confidence_below_threshold")]


def test_a_slack_thread_escalates_to_a_new_help_desk_ticket_with_draft_and_link(world: World) -> None:
    slack, desk = world.vendors["slack"], world.vendors["zendesk"]
    ref = TicketRef(Source.SLACK, "T1:C1:1700.1")
    ticket = Ticket(ref, "Invoices", "Why is my invoice wrong?", ADA, messages=(Message("1700.1", ADA, "Why is my invoice wrong?"),))
    slack.tickets[str(ref)] = ticket
    world.deliver(created(ticket))
    kinds = [w[0] for w in desk.writes]
    assert kinds == ["create", "note"]
    created_ref = desk.writes[0][1]
    assert "ada@example.com" in desk.writes[0][2] and "hub_escalated" in desk.writes[0][2]
    assert "Ada: Why is my invoice wrong?" in desk.writes[0][2]
    assert desk.writes[1] == ("note", created_ref, "Draft: see Reset your password (confidence 0.97)")
    [(kind, where, text)] = slack.writes
    assert (kind, where) == ("reply", "slack:T1:C1:1700.1")
    assert text.endswith(f"https://desk.example/tickets/{created_ref.split(':')[1]}")
    [row] = world.rows(TicketRow)
    assert row.escalated_to == created_ref and row.channel == "C1"


def test_without_a_help_desk_slack_escalates_to_the_triage_channel(sqlite_url: str) -> None:
    w = make_world(sqlite_url, with_desk=False)
    slack = w.vendors["slack"]
    ref = TicketRef(Source.SLACK, "T1:C1:1700.2")
    slack.tickets[str(ref)] = Ticket(ref, "", "Billing question", ADA)
    w.deliver(TicketEvent(Source.SLACK, "e1", EventKind.CREATED, ref))
    assert sorted(k for k, _, _ in slack.writes) == ["note", "reply"]
    note = next(t for k, _, t in slack.writes if k == "note")
    assert "Ada: Billing question" in note and "Draft:" in note
    w.jobs.shutdown()
    w.db.dispose()


def test_solved_feedback_is_a_verified_resolution_and_the_buttons_are_acknowledged(world: World) -> None:
    slack = world.vendors["slack"]
    ref = TicketRef(Source.SLACK, "T1:C1:1700.3")
    slack.tickets[str(ref)] = Ticket(ref, "", "password reset please", ADA)
    world.deliver(TicketEvent(Source.SLACK, "e1", EventKind.CREATED, ref))
    world.deliver(TicketEvent(Source.SLACK, "click1", EventKind.FEEDBACK, ref, data={"feedback": "solved", "ack": {"channel": "C1", "ts": "1700.4"}}))
    kinds = [o.kind for o in world.rows(OutcomeRow)]
    assert kinds == ["answer_posted", "solved"]
    ack = [a for a in world.rows(OutboxAction) if a.action == "acknowledge_feedback"]
    assert len(ack) == 1 and ack[0].payload == {"ref": str(ref), "feedback": "solved", "channel": "C1", "ts": "1700.4"}


def test_did_not_help_escalates_once_with_a_refreshed_draft(world: World) -> None:
    desk = world.vendors["zendesk"]
    ticket = zendesk_ticket("5", "password reset link never arrives")
    desk.tickets[str(ticket.ref)] = ticket
    world.deliver(created(ticket))
    reply = Message("c2", ADA, "That didn't help, the email never comes")
    for delivery in ("c2", "c2-again"):
        world.deliver(TicketEvent(Source.ZENDESK, delivery, EventKind.COMMENTED, ticket.ref, reply))
    assert [w[0] for w in desk.writes] == ["reply", "note"]
    assert [o.kind for o in world.rows(OutcomeRow)] == ["answer_posted", "not_solved", "escalated"]
    follow = [d for d in world.rows(DecisionRow) if d.trigger == "follow_up"]
    assert len(follow) == 1 and follow[0].verdict == "escalate"
    assert world.engine.calls[-1][1] == ThreadState(answered_before=True, fallback_before=True)
    note = next(a for a in world.rows(OutboxAction) if a.action == "add_internal_note")
    assert note.payload["reopen"] is True


def test_internal_notes_and_the_hubs_own_comments_are_ignored_and_agent_replies_are_recorded(world: World) -> None:
    desk = world.vendors["zendesk"]
    ticket = zendesk_ticket("6", "Where is my invoice?")
    desk.tickets[str(ticket.ref)] = ticket
    world.deliver(created(ticket))
    me = Person("bot", "Hub", is_self=True)
    world.deliver(TicketEvent(Source.ZENDESK, "c3", EventKind.COMMENTED, ticket.ref, Message("c3", me, "didn't help")))
    world.deliver(TicketEvent(Source.ZENDESK, "c4", EventKind.COMMENTED, ticket.ref, Message("c4", ADA, "didn't help", Visibility.INTERNAL)))
    world.deliver(TicketEvent(Source.ZENDESK, "c5", EventKind.COMMENTED, ticket.ref, Message("c5", AGENT, "Looking into it")))
    assert [o.kind for o in world.rows(OutcomeRow)] == ["escalated", "agent_reply"]
    assert len(world.engine.calls) == 1


def test_an_agents_reply_on_the_ticket_of_record_counts_for_the_escalated_thread(world: World) -> None:
    slack, desk = world.vendors["slack"], world.vendors["zendesk"]
    ref = TicketRef(Source.SLACK, "T1:C1:1700.9")
    slack.tickets[str(ref)] = Ticket(ref, "", "Why is my invoice wrong?", ADA)
    world.deliver(TicketEvent(Source.SLACK, "e9", EventKind.CREATED, ref))
    of_record = TicketRef.parse(desk.writes[0][1])
    reply = Message("c9", AGENT, "Fixed your invoice")
    desk.tickets[str(of_record)] = Ticket(of_record, "invoice", "Why is my invoice wrong?", ADA, messages=(reply,))
    world.deliver(TicketEvent(Source.ZENDESK, "c9", EventKind.COMMENTED, of_record, reply))
    thanks = Message("c10", ADA, "thanks")
    desk.tickets[str(of_record)] = Ticket(of_record, "invoice", "Why is my invoice wrong?", ADA, messages=(reply, thanks))
    world.deliver(TicketEvent(Source.ZENDESK, "c10", EventKind.COMMENTED, of_record, thanks))
    outcomes = [(o.kind, o.ticket_ref) for o in world.rows(OutcomeRow)]
    assert outcomes == [("escalated", str(ref)), ("agent_reply", str(ref))]  # one reply, counted once
    mirrored = [w for w in slack.writes if w[0] == "reply" and "Fixed your invoice" in w[2]]
    assert len(mirrored) == 1 and mirrored[0][1] == str(ref) and "Agent Smith" in mirrored[0][2]


def test_shadow_mode_never_posts_publicly(sqlite_url: str) -> None:
    w = make_world(sqlite_url, dry_run=True)
    desk = w.vendors["zendesk"]
    ticket = zendesk_ticket("7", "I forgot my password")
    desk.tickets[str(ticket.ref)] = ticket
    w.deliver(created(ticket))
    assert [k for k, _, _ in desk.writes] == ["note"]
    [decision] = w.rows(DecisionRow)
    assert decision.dry_run and decision.verdict == "escalate"
    w.jobs.shutdown()
    w.db.dispose()


def test_a_ticket_opened_by_an_agent_is_not_intercepted(world: World) -> None:
    desk = world.vendors["zendesk"]
    ticket = zendesk_ticket("8", "password", requester=AGENT)
    desk.tickets[str(ticket.ref)] = ticket
    world.deliver(created(ticket))
    assert desk.writes == [] and world.rows(DecisionRow) == []


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
