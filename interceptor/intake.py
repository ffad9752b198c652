"""What a new request is when the hub reads it to decide: the text it is decided on, and whether people took
it out of the hub's hands while it waited (a backlog after an outage, a vendor that would not answer)."""

from __future__ import annotations

from core.models import ALREADY_SOLVED, Status, Ticket, Visibility, subject_and_text

SOLVED_BY_PEOPLE = ALREADY_SOLVED  # the pipeline outcome of a request solved or closed before it was decided


def request_text(ticket: Ticket) -> str:
    """The request as the requester wrote it by the time it is decided: the subject, the description, and the
    requester's own public messages after it (a backlog after an outage, or deliveries out of order, can bring
    the root of a thread after "I need a person" was written in it: that reply is part of the request, not lost
    as a comment on a thread not decided yet). Never internal notes, nor anyone else's messages."""
    requester = ticket.requester.external_id
    later = [m.text.strip() for m in ticket.messages[1:]
             if m.visibility is Visibility.PUBLIC and m.author.external_id == requester and not m.author.is_self]
    return "\n".join(p for p in [subject_and_text(ticket.subject, ticket.text), *later] if p) or ticket.subject


def solved_by_people(ticket: Ticket) -> bool:
    """Whether the ticket was solved or closed before the hub decided it: an agent solved it while the request
    waited (or logged it solved, a phone call written down). The hub neither answers (Zendesk sets an answered
    ticket to pending: it would reopen what an agent solved; a closed ticket refuses the comment) nor drafts."""
    return ticket.status in (Status.SOLVED, Status.CLOSED)
