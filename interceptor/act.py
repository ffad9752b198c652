"""The ``act`` stage: a decision becomes outbox actions (the vocabulary is in ``connectors/actions.py``).

Keys make each write happen at most once: ``answer:<ref>`` (one public answer per ticket), ``escalate:<ref>``
(one escalation per thread: a ticket of record, or the triage channel's post, asked for before a retry),
``draft:<ref>:<decision id>`` (each decision's draft on a help desk ticket; at least once by design).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import Ticket, Visibility
from core.outbox import NewAction, hand_over_key
from core.words import plural
from interceptor.compose import truncate
from interceptor.types import Decision, Verdict

ESCALATION_NOTICE = "I've passed this to our support team, and a person will follow up."
TICKET_NOTICE = "I've passed this to our support team; a person will follow up here:"
# The transcript a hand-over carries is bounded, so that it and the draft fit where they go: a Jira issue's
# description holds at most 32,767 characters (a longer one is a 400 and the escalation fails), and the Slack
# triage post's sections hold 36,000 (blocks.MAX_SECTIONS), transcript and draft together.
# NOTE(jira): https://jira.atlassian.com/browse/JRACLOUD-59124 ("exceeds the allowed limit of 32,767 characters")
TRANSCRIPT_CHARS = 20_000
MESSAGE_CHARS = 4_000
MESSAGE_CUT = " [cut: the whole message is in the original conversation]"
MAX_ATTACHMENTS = 10  # per message; Slack shares at most 10 files in one message


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


def escalation_actions(
    ticket: Ticket, draft: str, decision_id: int, route: Route, *, reopen: bool, note: str = ""
) -> list[NewAction]:
    """Hand the ticket to people with the draft: an internal note on a help desk ticket; for a chat thread,
    a new ticket in the help desk of record (or a triage-channel note) plus a notice in the thread.

    Args:
        ticket: the ticket to hand over.
        draft: the agents' pre-drafted reply (a decision's ``draft``).
        decision_id: the decision the hand-over follows.
        route: where the ticket's writes go.
        reopen: hand a help desk ticket back to agents.
        note: what the agents must know first (a thread the hub could not read), put before a chat thread's
            transcript.

    Returns:
        The outbox actions to enqueue.
    """
    ref = str(ticket.ref)
    told = f"{note}\n\n{transcript(ticket)}" if note else transcript(ticket)
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
                key=hand_over_key(ref),
                connector=route.escalation_target,
                action="create_ticket",
                payload={
                    "subject": _subject(ticket),
                    "text": told,
                    "requester": {"external_id": requester.external_id, "name": requester.name, "email": requester.email},
                    "tags": ["hub_escalated"],
                    "draft": draft,
                    "origin": {"connector": route.connector, "ref": ref},
                    "through": transcript_through(ticket).isoformat(),
                    "notice": TICKET_NOTICE,
                },
                ticket_ref=ref,
            )
        ]
    return [
        NewAction(
            key=hand_over_key(ref),
            connector=route.connector,
            action="add_internal_note",
            payload={"ref": ref, "text": f"{told}\n\n{draft}", "decision_id": decision_id, "once": True},
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


def transcript(ticket: Ticket, limit: int = TRANSCRIPT_CHARS) -> str:
    """The public conversation as plain text, oldest first (what the agent reads in the new ticket), with the
    links of the files shared in it.

    At most ``limit`` characters and the link: each message is cut at ``MESSAGE_CHARS``, and a thread too long
    for the rest keeps its first message (the request) and the latest ones that fit, saying how many it left
    out (those the connector already left out, ``Ticket.left_out``, counted in); a conversation not read to its
    end (``Ticket.unread``) says so after its last line. The link leads to the whole conversation.
    """
    lines = [_line(m.author.name or m.author.external_id, m.text, m.attachments) for m in ticket.messages if m.visibility is Visibility.PUBLIC]
    if not lines:
        lines = [_line(ticket.requester.name or ticket.requester.external_id, ticket.text, ())]
    unread = _unread(ticket.unread)
    left_out = ticket.left_out
    limit -= len(unread) + 1 if unread else 0
    if sum(len(line) + 1 for line in lines) > limit:
        first, kept, used = lines[0], list[str](), 0
        budget = limit - len(first) - 80  # room for the line saying what was left out
        for line in reversed(lines[1:]):
            if used + len(line) + 1 > budget:
                break
            kept.insert(0, line)
            used += len(line) + 1
        left_out += len(lines) - 1 - len(kept)
        lines = [first, *kept]
    if left_out:
        lines.insert(1, f"[{plural(left_out, 'earlier message')} not shown: see the original conversation]")
    if unread:
        lines.append(unread)
    if ticket.url:
        lines.append(f"\nOriginal conversation: {ticket.url}")
    return "\n".join(lines)


def _unread(unread: int | None) -> str:
    """The line saying a conversation was not read to its end (``""`` when it was)."""
    if unread == 0:
        return ""
    later = "its later messages are" if unread is None else f"{plural(unread, 'later message')} {'is' if unread == 1 else 'are'}"
    return f"[The thread was too long to read to its end: {later} not shown: see the original conversation]"


def transcript_through(ticket: Ticket) -> datetime:
    """When the last message a hand-over's transcript carries was written: the thread's later messages are
    carried to its ticket of record one by one (:mod:`interceptor.sync`), earlier ones are in the description."""
    return max((m.created_at for m in ticket.messages), default=ticket.created_at)


def _line(author: str, text: str, attachments: tuple[tuple[str, str], ...]) -> str:
    if len(text) > MESSAGE_CHARS:
        text = truncate(text, MESSAGE_CHARS - len(MESSAGE_CUT)) + MESSAGE_CUT
    return "\n".join([f"{author}: {text}", *attachment_lines(attachments[:MAX_ATTACHMENTS])])


def attachment_lines(attachments: tuple[tuple[str, str], ...]) -> list[str]:
    """A message's files as lines of links (never their content): ``Attachment: <name> <link>``."""
    return [f"Attachment: {name} {link}" for name, link in attachments]


def _subject(ticket: Ticket) -> str:
    subject = (ticket.subject or ticket.text).strip().splitlines()[0] if (ticket.subject or ticket.text).strip() else "Request"
    return subject if len(subject) <= 120 else subject[:117] + "..."


def is_answer(decision: Decision) -> bool:
    """Whether the decision posts a public answer (shadow mode never does)."""
    return decision.verdict is Verdict.ANSWER and not decision.dry_run
