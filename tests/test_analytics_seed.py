"""Hand-built analytics scenarios: a small writer of people, tickets, decisions and outcomes rows.

Other analytics, stats-API and dashboard tests import ``Seed`` from here.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import Database, DecisionRow, OutcomeRow, PersonRow, TicketRow

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
_ids = itertools.count(1)


class Seed:
    """Writes rows the way the interceptor records them (``ticket_ref`` = ``source:external_id``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def person(self, source: str, email: str | None = None, name: str = "") -> PersonRow:
        row = PersonRow(source=source, external_id=f"u{next(_ids)}", email=email, name=name or (email or "someone"))
        self.session.add(row)
        self.session.flush()
        return row

    def ask(
        self,
        person: PersonRow | None,
        at: datetime,
        *,
        verdict: str = "answer",
        dry_run: bool = False,
        channel: str | None = None,
        subject: str = "How do I reset my password?",
        text: str = "",
        confidence: float = 0.9,
        threshold: float = 0.6,
        reasons: list[str] | None = None,
        created_before: timedelta = timedelta(seconds=30),
        posted: bool = True,
    ) -> DecisionRow:
        """A new request: its ticket (created ``created_before`` earlier) and its ``request`` decision; an
        ANSWER (not dry run) is posted 2 s later (``answer_posted``) unless ``posted`` is false."""
        source = person.source if person is not None else "slack"
        ticket = TicketRow(
            source=source,
            external_id=f"t{next(_ids)}",
            channel=channel or ("C1" if source == "slack" else source),
            subject=subject,
            text=text or subject,
            requester_id=person.id if person is not None else None,
            created_at=at - created_before,
            updated_at=at,
            first_seen_at=at,
        )
        self.session.add(ticket)
        self.session.flush()
        decided = self.decide(ticket, at, verdict=verdict, dry_run=dry_run, trigger="request", confidence=confidence,
                              threshold=threshold, reasons=reasons)
        if posted and verdict == "answer" and not dry_run:
            self.outcome(decided, "answer_posted", at + timedelta(seconds=2))
        return decided

    def decide(self, ticket: TicketRow, at: datetime, *, verdict: str, trigger: str = "follow_up", dry_run: bool = False,
               confidence: float = 0.5, threshold: float = 0.6, reasons: list[str] | None = None) -> DecisionRow:
        row = DecisionRow(
            ticket_id=ticket.id,
            ticket_ref=f"{ticket.source}:{ticket.external_id}",
            source=ticket.source,
            channel=ticket.channel,
            requester_id=ticket.requester_id,
            trigger=trigger,
            verdict=verdict,
            confidence=confidence,
            threshold=threshold,
            reasons=reasons if reasons is not None else (["confident"] if verdict == "answer" else ["confidence_below_threshold"]),
            candidates=[{"title": "Resetting your password", "score": 3.2}],
            dry_run=dry_run,
            created_at=at,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def follow_up(self, request: DecisionRow, at: datetime, verdict: str = "escalate") -> DecisionRow:
        return self.decide(self.session.get(TicketRow, request.ticket_id), at, verdict=verdict)

    def outcome(self, decision: DecisionRow, kind: str, at: datetime, value: float | None = None,
                ref: str | None = None, **detail: Any) -> OutcomeRow:
        row = OutcomeRow(decision_id=decision.id, ticket_ref=ref or decision.ticket_ref, kind=kind, value=value,
                         detail=detail, created_at=at)
        self.session.add(row)
        self.session.flush()
        return row


def seed_demo(db: Database, now: datetime) -> None:
    """A realistic fortnight: answered, verified, re-contacted, escalated, shadow and gap requests."""
    topics = [
        ("How do I reset my password?", "answer"),
        ("VPN keeps disconnecting on macOS", "escalate"),
        ("Where can I download my invoice?", "answer"),
        ("Expense report approval is stuck", "escalate"),
        ("VPN client cannot connect from hotel wifi", "escalate"),
        ("Password reset link expired", "answer"),
        ("Request access to the staging database", "escalate"),
        ("Expense approval pending for two weeks", "escalate"),
    ]
    with db.session() as session:
        seed = Seed(session)
        people = [seed.person("slack" if i % 2 else "zendesk", f"user{i}@example.com") for i in range(30)]
        people += [seed.person("jira", f"user{i}@example.com") for i in range(0, 30, 5)]  # same people, other desk
        for day in range(14, 0, -1):
            for j, (subject, verdict) in enumerate(topics[: 3 + day % 6]):
                at = now - timedelta(days=day, hours=j, minutes=7 * day)
                who = people[(day * 7 + j * 11) % len(people)]
                d = seed.ask(who, at, verdict=verdict, subject=subject, dry_run=(day == 3 and j == 0),
                             confidence=0.82 if verdict == "answer" else 0.2 + 0.03 * j,
                             created_before=timedelta(seconds=5 + 4 * j))
                if verdict == "answer" and not d.dry_run:
                    seed.outcome(d, "answer_posted", at + timedelta(seconds=2))
                    if (day + j) % 3 == 0:
                        seed.outcome(d, "solved", at + timedelta(minutes=20))
                        seed.outcome(d, "csat", at + timedelta(hours=1), value=1.0 if day % 4 else 0.6)
                    elif (day + j) % 3 == 1:
                        seed.outcome(d, "not_solved", at + timedelta(minutes=10))
                        seed.outcome(d, "escalated", at + timedelta(minutes=11), reason="not_solved")
                        seed.outcome(d, "agent_reply", at + timedelta(hours=2))
                else:
                    seed.outcome(d, "escalated", at, reason="confidence_below_threshold")
                    seed.outcome(d, "agent_reply", at + timedelta(minutes=25 + 9 * j + day))
        for day in (2, 5, 9):  # policy hand-offs and a greeting: escalated, but not content gaps
            refund = seed.ask(people[day], now - timedelta(days=day, hours=5), verdict="escalate", confidence=0.3,
                              subject="I want a refund for my subscription", reasons=["sensitive_topic:refund", "confidence_below_threshold"])
            seed.outcome(refund, "escalated", refund.created_at, reason="sensitive_topic:refund")
        hello = seed.ask(people[4], now - timedelta(days=4, hours=6), verdict="escalate", confidence=0.0, subject="hello",
                         reasons=["no_candidate"])
        seed.outcome(hello, "escalated", hello.created_at, reason="no_candidate")
        fresh = seed.ask(people[3], now - timedelta(hours=3), subject="Where can I download my invoice?")
        seed.outcome(fresh, "answer_posted", fresh.created_at + timedelta(seconds=2))  # still in its 48 h window


def test_seed_writes_one_request_decision_per_ticket(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    seed_demo(db, NOW)
    with db.session() as session:
        tickets = session.scalar(select(func.count()).select_from(TicketRow))
        requests = session.scalar(select(func.count()).select_from(DecisionRow).where(DecisionRow.trigger == "request"))
    db.dispose()
    assert tickets == requests > 40
