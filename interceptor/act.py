"""The ``act`` stage: a decision becomes outbox actions (the vocabulary is in ``connectors/actions.py``).

Keys make each write happen at most once: ``answer:<ref>`` (one public answer per ticket), ``escalate:<ref>``
(one escalation per thread), ``draft:<ref>:<decision id>`` (each decision's draft; internal drafts are
at-least-once by design).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models import Ticket, Visibility
from core.outbox import NewAction
from interceptor.types import Decision, Verdict

ESCALATION_NOTICE = "I've passed this to our support team, and a person will follow up."
TICKET_NOTICE = "I've passed this to our support team; a person will follow up here:"


@dataclass(frozen=True)
class Route:
    """Where a ticket's writes go: its own connector, whether that is a help desk of record, and the help
    desk a chat thread escalates to (``None``: post the draft to the chat's triage channel instead)."""

    connector: str
    is_help_desk: bool
    escalation_target: str | None


def answer_action(ticket: Ticket, decision: Decision, decision_id: int, route: Route) -> NewAction:
    """The public answer in the ticket's own thread."""
    ref = str(ticket.ref)
    return NewAction(
        key=f"answer:{ref}",
        connector=route.connector,
        action="post_reply",
        payload={
            "ref": ref,
            "text": decision.answer or "",
            "citations": [{"title": c.title, "url": c.url} for c in decision.citations],
            "kind": "answer",
            "decision_id": decision_id,
        },
        ticket_ref=ref,
    )


def escalation_actions(ticket: Ticket, draft: str, decision_id: int, route: Route, *, reopen: bool) -> list[NewAction]:
    """Hand the ticket to people with the draft: an internal note on a help desk ticket; for a chat thread,
    a new ticket in the help desk of record (or a triage-channel note) plus a notice in the thread.

    Args:
        ticket: the ticket to hand over.
        draft: the agents' pre-drafted reply (a decision's ``draft``).
        decision_id: the decision the hand-over follows.
        route: where the ticket's writes go.
        reopen: hand a help desk ticket back to agents.

    Returns:
        The outbox actions to enqueue.
    """
    ref = str(ticket.ref)
    if route.is_help_desk:
        return [
            NewAction(
                key=f"draft:{ref}:{decision_id}",
                connector=route.connector,
                action="add_internal_note",
                payload={"ref": ref, "text": draft, "decision_id": decision_id, "reopen": reopen},
                ticket_ref=ref,
            )
        ]
    if route.escalation_target is not None:
        requester = ticket.requester
        return [
            NewAction(
                key=f"escalate:{ref}",
                connector=route.escalation_target,
                action="create_ticket",
                payload={
                    "subject": _subject(ticket),
                    "text": transcript(ticket),
                    "requester": {"external_id": requester.external_id, "name": requester.name, "email": requester.email},
                    "tags": ["hub_escalated"],
                    "draft": draft,
                    "origin": {"connector": route.connector, "ref": ref},
                    "notice": TICKET_NOTICE,
                },
                ticket_ref=ref,
            )
        ]
    return [
        NewAction(
            key=f"escalate:{ref}",
            connector=route.connector,
            action="add_internal_note",
            payload={"ref": ref, "text": f"{transcript(ticket)}\n\n{draft}", "decision_id": decision_id},
            ticket_ref=ref,
        ),
        NewAction(
            key=f"escalation-notice:{ref}",
            connector=route.connector,
            action="post_reply",
            payload={"ref": ref, "text": ESCALATION_NOTICE, "kind": "notice"},
            ticket_ref=ref,
        ),
    ]


def transcript(ticket: Ticket) -> str:
    """The public conversation as plain text, oldest first (what the agent reads in the new ticket)."""
    lines = [f"{m.author.name or m.author.external_id}: {m.text}" for m in ticket.messages if m.visibility is Visibility.PUBLIC]
    if not lines:
        lines = [f"{ticket.requester.name or ticket.requester.external_id}: {ticket.text}"]
    if ticket.url:
        lines.append(f"\nOriginal conversation: {ticket.url}")
    return "\n".join(lines)


def _subject(ticket: Ticket) -> str:
    subject = (ticket.subject or ticket.text).strip().splitlines()[0] if (ticket.subject or ticket.text).strip() else "Request"
    return subject if len(subject) <= 120 else subject[:117] + "..."


def is_answer(decision: Decision) -> bool:
    """Whether the decision posts a public answer (shadow mode never does)."""
    return decision.verdict is Verdict.ANSWER and not decision.dry_run
