"""What a new request is when the hub reads it to decide: its text. Whether people took it out of the hub's
hands while it waited is :meth:`core.models.Ticket.taken_by_people`, the rule an answer that waited asks too."""

from __future__ import annotations

from core.models import Ticket, Visibility, subject_and_text


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
