"""The polling fallback for installs that cannot receive Zendesk webhooks: the cursor-based incremental
ticket export, turned into the same events the webhooks give.

NOTE(zendesk): exported tickets carry no comments, so each changed ticket is read once more to see whether
it is a new request and which of its comments are the requester's replies; the export endpoints allow 10
requests a minute, and leave out what changed within the minute before the request (it comes in a later one).
https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/

Polls never repeat an event, nor repeat one a webhook brought: a new ticket and a comment are keyed as the
webhooks key them (:func:`connectors.zendesk.events.created_key`, :func:`~connectors.zendesk.events.comment_key`),
and the inbox drops a key it has seen. A changed ticket passes on each of the requester's public comments
written since polling began (:func:`poll`), not only its newest: a reply followed, before the next poll, by an
agent's note or the hub's own comment is still heard, as is one on a ticket the export held back poll after
poll; and a comment is passed on by a few polls at most, however often a busy ticket changes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Mapping

from connectors.polling import Held, events_of_record, requesters_side_only
from connectors.records import readable, record_id
from connectors.zendesk.events import comment_key, created_key
from connectors.zendesk.mapping import CREATED_TAG, parse_time
from core.errors import NotFound
from core.models import EventKind, Message, Person, Source, Ticket, TicketEvent, TicketRef, Visibility, utcnow

if TYPE_CHECKING:
    from connectors.zendesk.connector import ZendeskConnector

log = logging.getLogger(__name__)

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
CURSOR_NAME = "zendesk.poll"
FIRST_LOOKBACK = timedelta(minutes=10)
OVERLAP = timedelta(minutes=2)
"""How far before the newest change a poll read its next polls still pass comments on (as Jira's poll overlaps)."""
PAGE_SIZE = 100
MAX_PAGES = 5
START_PREFIX = "start_time:"
IGNORED_STATUSES = frozenset(("deleted", "closed"))


@dataclass(frozen=True)
class _Cursor:
    """What a poll resumes from: the export's place (an ``after_cursor``, or ``start_time:<unix>``), the newest
    ``updated_at`` the polls read (Zendesk's clock), the time from which this poll passes on comments unasked
    (``floor``), the one the next poll will (``next``), and when polling began (``start``: no comment older is
    passed on)."""

    export: str
    newest: datetime
    floor: datetime
    next: datetime
    start: datetime

    def dumps(self) -> str:
        times = {"newest": self.newest, "floor": self.floor, "next": self.next, "start": self.start}
        return json.dumps({"export": self.export, **{k: v.isoformat() for k, v in times.items()}})


def _loads(cursor: str) -> _Cursor:
    """The stored cursor. One stored before it had a ``start`` starts at its ``floor``; one stored before comments
    had a floor (the export's place alone), at its ``start_time``, or :data:`FIRST_LOOKBACK` ago."""
    if cursor.startswith("{"):
        state = json.loads(cursor)
        times = [datetime.fromisoformat(state[k]) for k in ("newest", "floor", "next")]
        return _Cursor(state["export"], *times, datetime.fromisoformat(state.get("start") or state["floor"]))
    if cursor.startswith(START_PREFIX):
        at = datetime.fromtimestamp(int(cursor[len(START_PREFIX):]), timezone.utc)
    else:
        at = utcnow() - FIRST_LOOKBACK
    return _Cursor(cursor, at, at, at, at)


def first_cursor() -> str:
    """The cursor of a first poll: the export, and the comments, from :data:`FIRST_LOOKBACK` ago."""
    start = utcnow().replace(microsecond=0) - FIRST_LOOKBACK
    return _Cursor(f"{START_PREFIX}{int(start.timestamp())}", start, start, start, start).dumps()


def poll(connector: "ZendeskConnector", cursor: str | None, held: Held | None = None) -> tuple[list[TicketEvent], str | None]:
    """Read the tickets changed after ``cursor`` and turn them into events.

    A changed ticket passes on its requester's public comments written since polling began (the cursor's
    ``start``): those written since the cursor's ``floor`` unasked, older ones only when the inbox does not hold
    them yet (``held``). The floor is the newest ``updated_at`` read by the polls up to the one before the
    previous poll that read the export to its end, less :data:`OVERLAP` (while a backlog is read, the export not
    read to its end, it stays where it was); so a busy ticket's comment is passed on by a few polls, not by every
    poll that reads the ticket, and an older one at most once.

    No comment since ``start`` is lost. NOTE(zendesk): the export gives every ticket changed since its place
    once, at its latest change, and "any items that were created or changed within the minute prior to your
    request are excluded", the next request picking up where it left off. A ticket commented on is changed then
    and stays changed since the export's place, so the first export that gives it after the comment gives it
    (once the ticket was left alone for the minute before a poll), and the ticket is read after: the comment is
    on it, and passed on unless the inbox holds it. No floor that moves could do it alone: a ticket changed
    within the minute before every poll is left out of each, however many, while the other tickets move the
    export, and the floor, past its comment. A ticket changed within the minute before every poll for ever is
    never exported; its comments come with the first poll that finds it quiet.

    Args:
        connector: the Zendesk connector (its session and :meth:`fetch`).
        cursor: what the previous poll returned; ``None`` starts :data:`FIRST_LOOKBACK` ago.
        held: which events the inbox holds (:func:`core.inbox.held`); ``None``: comments older than the floor
            are passed on unasked too.

    Returns:
        The events and the cursor to resume from (store it only once the events are stored).

    Raises:
        Retriable, Fatal: a call failed; nothing is returned, so the stored cursor stays put.
    """
    state = _loads(cursor or first_cursor())
    if state.export.startswith(START_PREFIX):
        params: dict[str, Any] = {"start_time": int(state.export[len(START_PREFIX):])}
    else:
        params = {"cursor": state.export}
    export, newest, ended = state.export, state.newest, False
    found: list[TicketEvent] = []
    for _ in range(MAX_PAGES):
        page = connector.session.get_json(EXPORT_PATH, {**params, "per_page": PAGE_SIZE})
        for item in page.get("tickets") or ():
            read = partial(_events_for, connector, item, state.start)
            found.extend(readable(Source.ZENDESK, "ticket", record_id(item, "id"), read) or ())
            newest = max(newest, parse_time(item.get("updated_at")) or newest)
        export = page.get("after_cursor") or export
        if page.get("end_of_stream", True) or not page.get("after_cursor"):
            ended = True
            break
        params = {"cursor": page["after_cursor"]}
    older = [e.delivery_id for e in found if e.message is not None and e.message.created_at < state.floor]
    known = held(Source.ZENDESK, older) if held is not None and older else set()
    found = [e for e in found if e.delivery_id not in known]
    floors = (state.next, newest - OVERLAP) if ended else (state.floor, state.next)
    return found, _Cursor(export, newest, *floors, state.start).dumps()


def _events_for(connector: "ZendeskConnector", item: Mapping[str, Any], since: datetime) -> list[TicketEvent]:
    of_record = CREATED_TAG in (item.get("tags") or ())
    if str(item.get("status", "")).lower() == "deleted" or (not of_record and str(item.get("status", "")).lower() in IGNORED_STATUSES):
        return []
    ref = TicketRef(Source.ZENDESK, str(item["id"]))
    try:
        ticket = connector.fetch(ref)
    except NotFound:
        log.info("zendesk.poll.ticket-gone", extra={"ticket": ref.external_id})
        return []
    if of_record:
        return events_of_record(ticket, {"status": ticket.status.value}, partial(comment_key, ref.external_id))
    return request_events(ticket, since)


def request_events(ticket: Ticket, since: datetime) -> list[TicketEvent]:
    """The events a changed ticket not opened by the hub stands for: its request (``created``), while the ticket
    holds only the words of the requester's side (raised for a person who is not an agent nor the hub, and no
    comment of an agent's or the hub's after the request), and each public reply of the requester's side written
    at or after ``since`` (``commented``, oldest first), whatever came after it (an agent's internal note, the
    hub's draft or answer); nothing for the hub's or an agent's comment, or an internal note.

    The request's event is passed on however many comments the requester added: they may have commented before
    any poll saw the ticket (between two polls, or while exports failed), and a comment taken for a follow-up on
    a request never received was lost. Keyed as the ticket-created webhook keys it (:func:`created_key`), it is
    one inbox row however often it is seen; a comment's event waits for the request's decision (the pipeline's
    ``request_undecided``), and one written before the decision is read as part of the request, not as a
    follow-up (the pipeline's ``_before_decision``), as the Jira poll's are
    (:func:`connectors.jira.poll.request_events`)."""
    if not ticket.messages:
        return []
    found: list[TicketEvent] = []
    later = ticket.messages[1:]  # the first is the request itself, whoever typed it in (an agent, for a phone call)
    if requesters_side_only(ticket, later):
        found.append(TicketEvent(Source.ZENDESK, created_key(ticket.ref.external_id), EventKind.CREATED, ticket.ref))
    for message in later:
        if message.created_at >= since and _requesters_reply(message, ticket):
            delivery = comment_key(ticket.ref.external_id, message.external_id)
            found.append(TicketEvent(Source.ZENDESK, delivery, EventKind.COMMENTED, ticket.ref, message=message))
    return found


def _requesters_reply(message: Message, ticket: Ticket) -> bool:
    """Whether ``message`` is a public reply of the requester's side: not an agent's nor the hub's, and by an
    author the hub knows (:func:`_known`)."""
    author = message.author
    return message.visibility is Visibility.PUBLIC and not author.is_agent and not author.is_self and _known(author, ticket)


def _known(author: Person, ticket: Ticket) -> bool:
    """Whether the comment's author is the requester, or a user ``show_many`` answered for (every user has a
    name). NOTE(zendesk): a deleted user is left out of ``show_many``, so their role is unknown: their public
    comment (a former agent's reply) is not taken for the requester's word.
    https://developer.zendesk.com/api-reference/ticketing/users/users/#show-many-users"""
    return author.external_id == ticket.requester.external_id or bool(author.name)
