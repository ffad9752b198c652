"""The seam every vendor connector implements (STYLE.md "Connector seam").

A connector is built once from settings by its constructor (no second initialisation step) and holds no
hidden state. Vendor payloads and SDK objects stay inside ``connectors/<vendor>/``; everything that crosses
this seam is a ``core`` model or a plain value. Vendor exceptions are translated into ``core.errors``
(``Retriable``, ``Fatal``, ``NotFound``) with ``raise ... from e``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

from core.html import TextSection
from core.models import Message, Person, Source, Ticket, TicketEvent, TicketRef
from core.outbox import Performed
from core.telemetry import count

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostedMessage:
    """What a vendor write returned: the new message's id and, where there is one, a link to it."""

    external_id: str
    url: str | None = None


@dataclass(frozen=True)
class KnowledgeArticle:
    """An article pulled from a vendor's knowledge source (for example Zendesk Help Center).

    ``body`` is plain text; ``sections`` are its parts under their headings (``()`` when the source has
    no structure: the body is then one section). ``section`` is the vendor's category, not a heading.
    ``deleted``: the article is gone or no longer public at the source, so it leaves the KB.
    """

    external_id: str
    title: str
    body: str
    url: str | None
    locale: str | None
    section: str | None
    updated_at: datetime
    tags: tuple[str, ...] = ()
    deleted: bool = False
    sections: tuple[TextSection, ...] = ()


@runtime_checkable
class Connector(Protocol):
    """One vendor: inbound verification and parsing, reads, and writes back through the vendor's API."""

    source: Source

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check that an inbound request really comes from the vendor.

        Args:
            headers: the request headers (case-insensitive mapping).
            body: the raw request body, exactly as received.

        Raises:
            SignatureError: the signature is missing, wrong, or outside the replay window.
        """
        ...

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> TicketEvent | None:
        """Translate a verified inbound request into an event.

        Args:
            headers: the request headers.
            body: the raw request body.

        Returns:
            The event, or ``None`` when the request is valid but not for the hub (its own or a bot's
            message, an edit, a deletion, an internal note).

        Raises:
            PayloadError: the body is malformed.
        """
        ...

    def fetch(self, ref: TicketRef) -> Ticket:
        """Read a ticket with its messages.

        Args:
            ref: the ticket to read; ``ref.source`` is this connector's source.

        Returns:
            The normalised ticket.

        Raises:
            NotFound: the ticket is gone. Retriable, Fatal: the vendor call failed. UnreadableRecord (a Fatal):
                the vendor's record is not of the documented shape (:func:`connectors.records.read_record`).
        """
        ...

    def post_reply(
        self,
        ref: TicketRef,
        text: str,
        *,
        idempotency_key: str,
        kind: str = "answer",
        citations: Sequence[Mapping[str, Any]] = (),
    ) -> PostedMessage:
        """Reply publicly in the ticket's own thread.

        Args:
            ref: the ticket to answer.
            text: the reply, plain text (the connector renders it in the vendor's markup).
            idempotency_key: the outbox key of this write (for a check that it was not posted already).
            kind: ``"answer"`` (with the cited links and the way to say "solved" / "I need a person") or
                ``"notice"`` (text only, e.g. "a person will follow up").
            citations: ``[{"title", "url"}]`` for answers.

        Returns:
            The posted message.

        Raises:
            NotFound, Retriable, Fatal: as for :meth:`fetch`.
        """
        ...

    def already_wrote(self, ref: TicketRef, idempotency_key: str) -> PostedMessage | None:
        """Ask the vendor whether a public write with ``idempotency_key`` is already on the ticket.

        Called before every retry of a public write (``post_reply``), so that an attempt that reached the
        vendor but crashed before the hub recorded it is not posted twice. Each connector marks its public
        writes with the key (Slack: message metadata; Zendesk: a tag set in the same update as the comment;
        Jira: a comment property) and looks for that mark here.

        Args:
            ref: the ticket the write was for.
            idempotency_key: the outbox key of the write.

        Returns:
            The message already posted with that key, or ``None`` when there is none.

        Raises:
            NotFound: the ticket is gone. Retriable, Fatal: the check itself failed (then the write is not
                attempted: the retry waits). UnreadableRecord (a Fatal): what the check read is not of the
                documented shape.
        """
        ...

    def add_internal_note(
        self, ref: TicketRef, text: str, *, reopen: bool = False, idempotency_key: str | None = None
    ) -> PostedMessage:
        """Leave a note only agents can see (the pre-drafted reply, a synced thread message).

        Args:
            ref: the ticket to annotate.
            text: the note.
            reopen: hand the ticket back to agents (the requester said the answer did not help).
            idempotency_key: when given, the note carries it the way public writes do, so that
                :meth:`already_wrote` finds it before a retry (at most once); without it, at least once.

        Returns:
            The posted note.

        Raises:
            NotFound, Retriable, Fatal: as for :meth:`fetch`.
        """
        ...


@runtime_checkable
class HelpDesk(Connector, Protocol):
    """A connector whose vendor is a help desk of record (Zendesk, Jira): it can open tickets."""

    def create_ticket(
        self, subject: str, text: str, requester: Person, *, tags: tuple[str, ...] = (), idempotency_key: str | None = None
    ) -> TicketRef:
        """Open a ticket (used when a Slack thread is escalated).

        Args:
            subject: the ticket's subject line.
            text: the description (the thread transcript).
            requester: who asked; their email is used to find or create the vendor's user.
            tags: labels to put on the ticket.
            idempotency_key: the outbox key of this write; the ticket is marked with it for
                :meth:`created_ticket`.

        Returns:
            The new ticket's reference.

        Raises:
            Retriable, Fatal: the vendor call failed.
        """
        ...

    def created_ticket(self, idempotency_key: str) -> TicketRef | None:
        """Find the ticket an earlier attempt of the same write opened (asked before every retry of
        ``create_ticket``: the requester must not get two tickets, and two "we received your request" emails).

        Args:
            idempotency_key: the outbox key of the write.

        Returns:
            The ticket opened with that key, or ``None``.

        Raises:
            Retriable, Fatal: the look-up failed (the retry then waits).
        """
        ...

    def ticket_url(self, ref: TicketRef) -> str:
        """Return the agent-facing link to a ticket."""
        ...


@runtime_checkable
class MarksAfterCreate(Protocol):
    """Optional capability: a help desk that cannot mark a new ticket in the call that opens it (a JSM request:
    ``POST /rest/servicedeskapi/request`` sets no labels). Its marks (``hub_created``, the tags, the write's key
    mark that :meth:`HelpDesk.created_ticket` looks for) are a write of their own, enqueued as a follow-up of the
    create: a failure there is retried on its own and never opens the ticket again."""

    def marks_after_create(self) -> bool:
        """Whether :meth:`HelpDesk.create_ticket` leaves the marks to :meth:`mark_created` (as configured now)."""
        ...

    def mark_created(self, ref: TicketRef, tags: tuple[str, ...], idempotency_key: str) -> None:
        """Put the marks of a ticket the hub opened on it (idempotent: marks already there stay as they are).

        Raises:
            NotFound, Retriable, Fatal: the write failed.
        """
        ...


@runtime_checkable
class PostsAsRequester(Protocol):
    """Optional capability: a help desk that lets the hub write a public comment as the ticket's requester
    (Zendesk's ``comment.author_id``), so words the requester wrote elsewhere (a Slack thread) read as theirs."""

    def post_as(self, ref: TicketRef, text: str, author_id: str, *, idempotency_key: str) -> PostedMessage:
        """Post one public comment authored by ``author_id``, marked with ``idempotency_key`` for
        :meth:`Connector.already_wrote`.

        Raises:
            NotFound, Retriable, Fatal: as for :meth:`Connector.fetch` (Fatal too when ``author_id`` is not
                one of the vendor's user ids).
        """
        ...


@runtime_checkable
class ResolvesEvents(Protocol):
    """Optional capability: a vendor whose webhooks leave out what the pipeline needs to read an event right,
    which one vendor read in the job supplies (never in the webhook handler, which only stores): Jira Server/DC's
    ``comment_created`` names the issue by its numeric id (the hub keeps its key), and no Jira comment webhook
    names the issue's reporter (who tells an agent's comment from the requester's)."""

    def resolve(self, event: TicketEvent) -> TicketEvent:
        """Return ``event`` with what its webhook left out filled in (``event`` itself, without a call, when
        nothing is missing).

        Raises:
            NotFound, Retriable, Fatal: the vendor call failed. UnreadableRecord (a Fatal): the record read is
                not of the documented shape.
        """
        ...


@runtime_checkable
class ReadsEventAlone(Protocol):
    """Optional capability: a chat vendor whose request event carries the request's own words (a Slack message
    event) or names the one message it is about (an emoji intake), so that a request whose thread cannot be read
    (a Fatal ``fetch``) can still go to people as the event tells it, rather than reach nobody."""

    def ticket_from_event(self, event: TicketEvent) -> Ticket | None:
        """The request as its event alone tells it: the event's message (or the one message it names, read by
        itself; named by its link when even that cannot be read) as the only message, its author the requester
        (completed, where the vendor still answers, with their name, email and the link).

        Returns:
            The ticket, or ``None`` when the event neither carries nor names a message.

        Raises:
            NotFound: the message the event names is gone. Retriable: a call failed passingly (one that fails
                otherwise is left out).
        """
        ...


@runtime_checkable
class ReadsOneMessage(Protocol):
    """Optional capability: a chat vendor that reads one message of a conversation by itself, so that a thread kept
    in step with its ticket of record is not read whole for each new message (Slack's ``conversations.replies`` is
    paged and rate-limited hard)."""

    def read_message(self, ref: TicketRef, message_id: str) -> Message | None:
        """The message ``message_id`` of the conversation ``ref`` as the vendor lists it now, its author named.

        Returns:
            The message, or ``None``: deleted, or not of the documented shape.

        Raises:
            NotFound: the conversation is gone. Retriable, Fatal: a call failed.
        """
        ...


@runtime_checkable
class Pollable(Protocol):
    """Optional capability: list what changed since a cursor (the polling fallback to webhooks)."""

    def poll(self, cursor: str | None, held: Callable[[Source, Iterable[str]], set[str]] | None = None) -> tuple[list[TicketEvent], str | None]:
        """Return the events after ``cursor`` and the cursor to resume from next time (raises Retriable, Fatal:
        the vendor call failed); ``held`` says which of some events the inbox holds (:func:`core.inbox.held`)."""
        ...

    def first_cursor(self) -> str:
        """Return the cursor a first poll starts from (a little before now), stored before that poll is tried,
        so that a vendor down at the start loses nothing raised meanwhile."""
        ...


@runtime_checkable
class KnowledgeSource(Protocol):
    """Optional capability: pull knowledge articles incrementally."""

    def fetch_articles(self, since: datetime | None) -> Iterator[KnowledgeArticle]:
        """Yield the articles changed since ``since`` (all when ``None``), oldest change first; those deleted or
        no longer public (a draft again, restricted to some readers) flagged ``deleted``.

        Raises:
            Retriable, Fatal: the vendor call failed.
        """
        ...


@runtime_checkable
class KnowledgeListing(Protocol):
    """Optional capability of a :class:`KnowledgeSource` whose incremental export leaves removed articles out
    (Zendesk's archived articles): the ids of every article there is, so the KB can drop the others."""

    def article_ids(self) -> set[str]:
        """Return the ids of every article the source still holds, public or not (raises Retriable, Fatal: a call
        failed; never a partial answer, since a missing id removes an article)."""
        ...


def already_performed(connector: Connector, ref: TicketRef, idempotency_key: str) -> Performed | None:
    """The look-up a keyed write makes before it is tried again: ask the vendor (:meth:`Connector.already_wrote`)
    whether an earlier attempt already made it (counted as ``outbox_already_written``).

    The outbox's performers ask it before every retry; the answer deadline (``interceptor.overdue``) asks it
    before handing over an answer whose earlier attempt may have reached the vendor.

    Args:
        connector: the connector that made the write.
        ref: the ticket the write was for.
        idempotency_key: the outbox key of the write.

    Returns:
        The outbox result of the write already made (``{"external_id", "url"}``, as a fresh write returns), or
        ``None`` when the vendor has none.

    Raises:
        NotFound, Retriable, Fatal: the look-up itself failed.
    """
    existing = connector.already_wrote(ref, idempotency_key)
    if existing is None:
        return None
    count("outbox_already_written", connector=connector.source.value)
    return Performed({"external_id": existing.external_id, "url": existing.url})


def taken_meanwhile(connector: Connector, ref: TicketRef) -> Performed | None:
    """The look-up an answer that waited makes before it is posted again (the outbox's retry) or handed to a
    person (the answer deadline, ``interceptor.overdue``): whether people took the request meanwhile, by the
    rule the hub decides by (:meth:`core.models.Ticket.taken_by_people`: solved or closed, or an agent's public
    reply or internal note). Zendesk rate-limits the hub's API user, not its agents: during a write outage they
    answer, solve and work on tickets. The ticket is read whole (:meth:`Connector.fetch`: its status and its
    comments), only for a help desk: a chat thread has no solved state and no agent role.

    Returns:
        The row's outcome without a write (``{"withheld": "already_solved" | "already_replied" | "already_noted",
        "status"}``, counted under that outcome; the hub records it as the request's outcome, never
        ``answer_posted``), or ``None`` when the answer is still the hub's to give.

    Raises:
        NotFound, Retriable, Fatal: reading the ticket failed.
    """
    if not isinstance(connector, HelpDesk):
        return None
    ticket = connector.fetch(ref)
    taken = ticket.taken_by_people()
    if taken is None:
        return None
    log.info("outbox.answer.taken-by-people", extra={"ref": str(ref), "why": taken, "status": ticket.status.value})
    return Performed({"withheld": taken, "status": ticket.status.value}, outcome=taken)
