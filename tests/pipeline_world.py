"""The pipeline's test world: in-memory vendors implementing the connector protocol (the seam the pipeline
is written against), a fake engine, and the pipeline on a real database with an inline job queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import select

from config import load_settings
from connectors.actions import common_performers
from connectors.base import PostedMessage
from core import outbox
from core.db import Database
from core.errors import Retriable
from core.jobs import InlineQueue
from core.models import EventKind, Message, Person, Source, Ticket, TicketEvent, TicketRef
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

    def add_internal_note(self, ref: TicketRef, text: str, *, reopen: bool = False, idempotency_key: str | None = None) -> PostedMessage:
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


def zendesk_ticket(number: str, text: str, requester: Person = ADA) -> Ticket:
    ref = TicketRef(Source.ZENDESK, number)
    return Ticket(ref, text, text, requester, messages=(Message("c1", requester, text),))


def created(ticket: Ticket, delivery: str = "d1") -> TicketEvent:
    return TicketEvent(ticket.ref.source, delivery, EventKind.CREATED, ticket.ref, ticket.messages[0] if ticket.messages else None)
