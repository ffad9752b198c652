"""What a new request is when the hub reads it to decide: the text it is decided on, and whether people took
it out of the hub's hands while it waited (a backlog after an outage, a vendor that would not answer): solved
it, or replied to it."""

from __future__ import annotations

from core.models import ALREADY_SOLVED, Status, Ticket, Visibility, subject_and_text

SOLVED_BY_PEOPLE = ALREADY_SOLVED  # the pipeline outcome of a request solved or closed before it was decided
REPLIED_BY_PEOPLE = "already_replied"  # ... of one an agent had replied to in public before it was decided

# The most of a request the hub decides on. A help desk takes a ticket of megabytes (a pasted log, an e-mail
# thread forwarded whole), and every stage (prefilter, spelling, retrieval, second stage, the writer's prompt)
# reads its whole text: 5 MB took 9 to 20 s of a worker's time, depending on the machine; 20,000 characters of
# it take under 0.1 s. That is some 3,000 words, room for a rambling message with a log pasted in; nobody asks a
# question longer.
# A longer request is decided on its start (where the question usually is) and its end (a question asked
# under a pasted log, or the requester's later replies: "I need a person"). The ticket stored and the
# transcript agents get are not cut here (they keep to their own limits: interceptor.act.TRANSCRIPT_CHARS).
REQUEST_CHARS = 20_000
REQUEST_END_CHARS = 5_000  # of REQUEST_CHARS, the end's share


def request_text(ticket: Ticket) -> str:
    """The request as the requester wrote it by the time it is decided: the subject, the description, and the
    requester's own public messages after it (a backlog after an outage, or deliveries out of order, can bring
    the root of a thread after "I need a person" was written in it: that reply is part of the request, not lost
    as a comment on a thread not decided yet). Never internal notes, nor anyone else's messages. At most
    :data:`REQUEST_CHARS` characters (:func:`decided_part`)."""
    requester = ticket.requester.external_id
    later = [m.text.strip() for m in ticket.replies()
             if m.visibility is Visibility.PUBLIC and m.author.external_id == requester and not m.author.is_self]
    return decided_part("\n".join(p for p in [subject_and_text(ticket.subject, ticket.text), *later] if p) or ticket.subject)


def decided_part(text: str, limit: int = REQUEST_CHARS, end: int = REQUEST_END_CHARS) -> str:
    """``text`` when it has at most ``limit`` characters; else its start and its last ``end`` characters, each
    cut where a word ends (a single word longer than its share is cut in it), with a blank line between them so
    that neither half runs into the other's sentence.

    Returns:
        At most ``limit`` characters of ``text``.
    """
    if len(text) <= limit:
        return text
    head, tail = text[: limit - end - 2], text[-end:]
    if not text[len(head)].isspace() and len(words := head.rsplit(None, 1)) == 2:
        head = words[0]  # the last word was cut
    if not text[-end - 1].isspace() and len(words := tail.split(None, 1)) == 2:
        tail = words[1]  # the first word was cut
    return f"{head.rstrip()}\n\n{tail.lstrip()}"


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
