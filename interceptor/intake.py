"""What a new request is when the hub reads it to decide: its text, and whether people took
it out of the hub's hands while it waited (a backlog after an outage, a vendor that would not answer): solved
it, or replied to it."""

from __future__ import annotations

from core.models import ALREADY_SOLVED, Status, Ticket, Visibility, subject_and_text

SOLVED_BY_PEOPLE = ALREADY_SOLVED  # the pipeline outcome of a request solved or closed before it was decided
REPLIED_BY_PEOPLE = "already_replied"  # ... of one an agent had replied to in public before it was decided


def request_text(ticket: Ticket) -> str:
    """The request as the requester wrote it by the time it is decided: the subject, the description, and the
    requester's own public messages after it (a backlog after an outage, or deliveries out of order, can bring
    the root of a thread after "I need a person" was written in it: that reply is part of the request, not lost
    as a comment on a thread not decided yet). Never internal notes, nor anyone else's messages. Whole: the
    prefilter reads at most :data:`interceptor.prefilter.REQUEST_CHARS` of it."""
    requester = ticket.requester.external_id
    later = [m.text.strip() for m in ticket.replies()
             if m.visibility is Visibility.PUBLIC and m.author.external_id == requester and not m.author.is_self]
    return "\n".join(p for p in [subject_and_text(ticket.subject, ticket.text), *later] if p) or ticket.subject


def taken_by_people(ticket: Ticket) -> str | None:
    """Why the hub leaves a request to people before deciding it (the pipeline's outcome), or ``None``.

    People took it out of the hub's hands while it waited (an outage, a backlog): an agent solved or closed the
    ticket (or logged it solved, a phone call written down): answering would reopen it (Zendesk sets an answered
    ticket to pending) or be refused (a closed ticket); or an agent replied to the requester in public: the
    conversation is theirs, and an answer from the hub would talk over it. A reply written by a rule or an
    integration in an agent's name (an acknowledgement every new ticket gets) is not an agent taking it on.
    The hub then neither answers nor drafts."""
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        return SOLVED_BY_PEOPLE
    if any(m.visibility is Visibility.PUBLIC and m.author.is_agent and not m.author.is_self and not m.automated
           for m in ticket.replies()):
        return REPLIED_BY_PEOPLE
    return None
