"""The normalised ticket model every part of the hub speaks (DESIGN.md section 5).

Frozen dataclasses, timezone-aware UTC datetimes, no I/O. Vendor payloads never reach this module:
``connectors/<vendor>/mapping.py`` translates them into these types.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken to be UTC).

    Raises:
        TypeError: when ``value`` is not a datetime.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class Source(str, enum.Enum):
    """Where a ticket lives."""

    ZENDESK = "zendesk"
    JIRA = "jira"
    SLACK = "slack"
    WEB = "web"


class Status(str, enum.Enum):
    """Vendor-neutral ticket status."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


# What became of a request people took out of the hub's hands before its answer reached it
# (:meth:`Ticket.taken_by_people`). Before it was decided: a pipeline outcome, and nothing is recorded. While its
# answer waited in the outbox (a vendor outage), or at the answer deadline: the answer is neither posted nor handed
# over, and these name the outbox outcome, the outcome row and the analytics bucket.
ALREADY_SOLVED = "already_solved"  # people solved or closed the ticket
ALREADY_REPLIED = "already_replied"  # an agent replied to the requester in public
ALREADY_NOTED = "already_noted"  # an agent wrote an internal note (or a comment not provably public): on it
TAKEN_BY_PEOPLE = (ALREADY_SOLVED, ALREADY_REPLIED, ALREADY_NOTED)
# The id a vendor's mapping gives the author of a message the vendor names no one for (a deleted or anonymous
# user's comment): who wrote it is unknown, so it is never proof that an agent took the request.
UNKNOWN_AUTHOR = "unknown"


class Priority(str, enum.Enum):
    """Vendor-neutral ticket priority."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Visibility(str, enum.Enum):
    """Who can see a message: the requester too (public) or agents only (internal). ``UNKNOWN``: the vendor
    could not tell yet (a look-up it needs failed, or was not made); shown to no one, like an internal one,
    and asked again on the next read."""

    PUBLIC = "public"
    INTERNAL = "internal"
    UNKNOWN = "unknown"


class EventKind(str, enum.Enum):
    """What happened to a ticket."""

    CREATED = "created"
    COMMENTED = "commented"
    UPDATED = "updated"
    FEEDBACK = "feedback"


@dataclass(frozen=True)
class TicketRef:
    """Identifies a ticket in its source.

    ``external_id`` is the Zendesk ticket id, the Jira issue key, or ``team:channel:thread_ts`` for Slack.
    """

    source: Source
    external_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Source(self.source))
        if not self.external_id:
            raise ValueError("TicketRef.external_id must not be empty")

    def __str__(self) -> str:
        return f"{self.source.value}:{self.external_id}"

    @property
    def channel(self) -> str:
        """The channel the ticket belongs to, for per-channel policy and stats: the Slack channel id for a
        Slack thread (``team:channel:thread_ts``), else the source's name."""
        if self.source is Source.SLACK:
            parts = self.external_id.split(":")
            if len(parts) == 3:
                return parts[1]
        return self.source.value

    @classmethod
    def parse(cls, text: str) -> "TicketRef":
        """Parse the ``str()`` form back into a reference.

        Raises:
            ValueError: when ``text`` is not ``source:external_id``.
        """
        source, sep, external_id = text.partition(":")
        if not sep:
            raise ValueError(f"not a ticket reference: {text!r}")
        return cls(Source(source), external_id)


# A UTF-16 surrogate code point: JSON may escape one unpaired ("\ud800"), and Python reads it as a character.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` as a database can hold it: without NUL characters and with each lone surrogate made U+FFFD.

    A vendor's API can return either (an e-mailed ticket's odd bytes; a JSON escape of half a character pair),
    nobody reads them, and neither can be stored (PostgreSQL text cannot hold NUL; neither database driver can
    encode a lone surrogate): the request's rows would fail at every retry."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = LONE_SURROGATE.sub("\ufffd", text)
    return text


# A person as the hub keeps them, in the people table's columns (core/db.py ``PersonRow``; PostgreSQL refuses a
# longer value, and the request would fail at every retry): a vendor may name someone at any length (a Slack
# ``real_name`` of 100 KB), and lower-casing can lengthen an address ("İ" lower-cased is two characters).
PERSON_ID_CHARS, NAME_CHARS, EMAIL_CHARS = 255, 255, 320


@dataclass(frozen=True)
class Person:
    """Someone who writes on a ticket.

    ``is_self`` marks the hub's own messages (the loop breaker); ``email`` (lower-cased) joins one requester
    across channels. A ``name`` longer than ``NAME_CHARS`` is cut to it; an ``email`` longer than ``EMAIL_CHARS``
    is none (cut, it would be someone else's address).

    Raises:
        ValueError: ``external_id`` is longer than ``PERSON_ID_CHARS`` (a vendor's record that says so is not of
            the documented shape: :func:`connectors.records.read_record`; cut, it would be someone else's).
    """

    external_id: str
    name: str = ""
    email: str | None = None
    is_agent: bool = False
    is_self: bool = False

    def __post_init__(self) -> None:
        if len(self.external_id) > PERSON_ID_CHARS:
            raise ValueError(f"a person's id is longer than {PERSON_ID_CHARS} characters")
        object.__setattr__(self, "name", storable(self.name)[:NAME_CHARS])
        if self.email is not None:
            email = storable(self.email).strip().lower()
            object.__setattr__(self, "email", email if 0 < len(email) <= EMAIL_CHARS else None)


@dataclass(frozen=True)
class Message:
    """One comment or chat message on a ticket. ``attachments`` are ``(file name, link)`` pairs: links to
    the files where they live, never their content. ``automated`` marks a message a rule or an integration
    wrote in an agent's name (a Zendesk trigger or API client, Automation for Jira), not a person: an
    acknowledgement sent to every new ticket is not an agent taking the request on."""

    external_id: str
    author: Person
    text: str
    visibility: Visibility = Visibility.PUBLIC
    created_at: datetime = field(default_factory=utcnow)
    attachments: tuple[tuple[str, str], ...] = ()
    automated: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "visibility", Visibility(self.visibility))
        object.__setattr__(self, "text", storable(self.text))
        object.__setattr__(self, "attachments", tuple((storable(str(n)), storable(str(u))) for n, u in self.attachments))
        object.__setattr__(self, "created_at", as_utc(self.created_at))


# NOTE(zendesk): a ticket created without a subject (by e-mail, the web widget) gets one made of the description's
# first words, cut off (mid-word, line breaks made spaces) and ending with an ellipsis. Not seen in the captured
# payloads (../shared/fixtures/payloads/), whose subjects were all typed.
ELLIPSES = ("...", "\u2026")


def subject_and_text(subject: str, text: str) -> str:
    """Return a request's words once: its subject, then its text, leaving the subject out where the text begins
    with it (a Slack request's subject is its first line; an e-mailed ticket's is often the description's, or
    the description's beginning cut off with "..." or "\u2026": :func:`_cut_from`). A subject counted twice weighs
    its words twice, and a request would score otherwise than its words typed once."""
    subject, text = subject.strip(), text.strip()
    if not subject or text.startswith(subject) or _cut_from(subject, text):
        return text or subject
    return f"{subject}\n{text}" if text else subject


def _cut_from(subject: str, text: str) -> bool:
    """Whether ``subject`` is ``text``'s beginning cut off with an ellipsis: it ends with "..." or "\u2026", and
    ``text`` begins with what comes before it, both with their runs of whitespace read as one space (the cut
    may fall mid-word). A subject that ends with an ellipsis but is not the text's beginning ("Export fails...")
    is not."""
    for ellipsis in ELLIPSES:
        if subject.endswith(ellipsis):
            before = " ".join(subject[: -len(ellipsis)].split())
            return bool(before) and " ".join(text.split()).startswith(before)
    return False


@dataclass(frozen=True)
class Ticket:
    """A request in the help desk, normalised. ``raw`` is kept for debugging only.

    ``messages`` are in order. The first is the request itself (a Zendesk ticket's first comment, a Slack
    thread's parent) unless ``request_in_messages`` is false: a Jira issue's description is not one of its
    comments. :meth:`replies` is what came after it."""

    ref: TicketRef
    subject: str
    text: str
    requester: Person
    status: Status = Status.NEW
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    url: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    raw: Any = field(default=None, compare=False, repr=False)
    request_in_messages: bool = True
    # A conversation too long to keep whole (a Slack thread of thousands of messages): ``messages`` holds its first
    # message and its latest; ``left_out`` counts those read between them but not kept, ``unread`` those after the
    # last one read that were never read (0: it was read to its end; ``None``: not to its end, how many more unknown).
    left_out: int = 0
    unread: int | None = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        if self.priority is not None:
            object.__setattr__(self, "priority", Priority(self.priority))
        object.__setattr__(self, "subject", storable(self.subject))
        object.__setattr__(self, "text", storable(self.text))
        object.__setattr__(self, "tags", tuple(storable(str(t)) for t in self.tags))  # a vendor tag of another type: text
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "created_at", as_utc(self.created_at))
        object.__setattr__(self, "updated_at", as_utc(self.updated_at))

    def replies(self) -> tuple[Message, ...]:
        """Return the messages written after the request."""
        return self.messages[1:] if self.request_in_messages else self.messages

    def public_messages(self) -> tuple[Message, ...]:
        """Return the messages the requester can see (internal notes never feed a public answer)."""
        return tuple(m for m in self.messages if m.visibility is Visibility.PUBLIC)

    def taken_by_people(self) -> str | None:
        """Why the hub leaves this request to people (:data:`ALREADY_SOLVED`, :data:`ALREADY_REPLIED`,
        :data:`ALREADY_NOTED`), or ``None``.

        Asked when the hub reads a request to decide it, and again before an answer that waited (a vendor outage:
        Zendesk rate-limits the hub's API user, not its agents) is posted or handed to a person: people may
        have taken the request meanwhile. An agent solved or closed the ticket (or logged it solved, a phone call
        written down): answering would reopen it (Zendesk sets an answered ticket to pending) or be refused (a
        closed ticket). Or an agent replied to the requester in public: the conversation is theirs, and an answer
        from the hub would talk over it. Or an agent wrote an internal note ("checking with billing", a colleague
        @mentioned): they are working on it, a public answer from the hub would go over their heads, and a draft
        for them is noise. A comment whose visibility the vendor could not prove (``INTERNAL`` as ambiguous, or
        ``UNKNOWN``) is an agent's word either way: a note. Solved before replied, replied before noted.

        Only a person's comment counts (:meth:`_by_an_agent`): an agent's, not the requester's, not the hub's
        own (its drafts and notes are internal comments too), not one a rule or an integration wrote in an
        agent's name (:attr:`Message.automated`: an acknowledgement every new ticket gets, a trigger's or an
        Automation for Jira's internal note), not one whose author the vendor does not name."""
        if self.status in (Status.SOLVED, Status.CLOSED):
            return ALREADY_SOLVED
        written = [m for m in self.replies() if self._by_an_agent(m)]
        if any(m.visibility is Visibility.PUBLIC for m in written):
            return ALREADY_REPLIED
        return ALREADY_NOTED if written else None

    def _by_an_agent(self, message: Message) -> bool:
        """Whether ``message`` is a person's on the agents' side: an agent who is neither the requester nor the
        hub, by hand (not :attr:`Message.automated`), and named (not :data:`UNKNOWN_AUTHOR`)."""
        author = message.author
        return (author.is_agent and not author.is_self and not message.automated
                and author.external_id not in (self.requester.external_id, UNKNOWN_AUTHOR))


@dataclass(frozen=True)
class TicketEvent:
    """Something that happened to a ticket, as received from a vendor.

    ``delivery_id`` is the inbox's dedupe key with ``source``: what identifies the event itself, so that
    every delivery of one event (a retry, a replay under a new vendor delivery id, the same event through two
    webhooks) is stored once and two events never share it: Slack ``team:channel:ts`` of the message, Zendesk
    the ticket with its comment or event id, Jira the comment, issue or changelog id. A vendor's own id for
    the delivery (Zendesk invocation id, Atlassian webhook identifier) never keys anything; it travels in
    ``data["delivery"]`` to trace the delivery. ``data`` carries small vendor-neutral extras (for example a
    feedback button's value); never a vendor payload.
    """

    source: Source
    delivery_id: str
    kind: EventKind
    ref: TicketRef
    message: Message | None = None
    received_at: datetime = field(default_factory=utcnow)
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Source(self.source))
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "received_at", as_utc(self.received_at))
        if not self.delivery_id:
            raise ValueError("TicketEvent.delivery_id must not be empty")
