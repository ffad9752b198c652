"""The polling fallback for installs that cannot receive Zendesk webhooks: the cursor-based incremental
ticket export, turned into the same events the webhooks give.

NOTE(zendesk): exported tickets carry no comments, so each changed ticket is read once more to see whether
its newest message is a new request or a requester's reply; the export endpoints allow 10 requests a
minute. https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/

Polls never repeat an event, nor repeat one a webhook brought: a new ticket and a comment are keyed as the
webhooks key them (:func:`connectors.zendesk.events.created_key`, :func:`~connectors.zendesk.events.comment_key`),
and the inbox drops a key it has seen.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Mapping

from connectors.polling import events_of_record
from connectors.records import readable, record_id
from connectors.zendesk.events import comment_key, created_key
from connectors.zendesk.mapping import CREATED_TAG
from core.errors import NotFound
from core.models import EventKind, Person, Source, Ticket, TicketEvent, TicketRef, Visibility, utcnow

if TYPE_CHECKING:
    from connectors.zendesk.connector import ZendeskConnector

log = logging.getLogger(__name__)

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
CURSOR_NAME = "zendesk.poll"
FIRST_LOOKBACK = timedelta(minutes=10)
PAGE_SIZE = 100
MAX_PAGES = 5
START_PREFIX = "start_time:"
IGNORED_STATUSES = frozenset(("deleted", "closed"))


def first_cursor() -> str:
    """The cursor of a first poll: the export from :data:`FIRST_LOOKBACK` ago."""
    return f"{START_PREFIX}{int((utcnow() - FIRST_LOOKBACK).timestamp())}"


def poll(connector: "ZendeskConnector", cursor: str | None) -> tuple[list[TicketEvent], str | None]:
    """Read the tickets changed after ``cursor`` and turn them into events.

    Args:
        connector: the Zendesk connector (its session and :meth:`fetch`).
        cursor: the ``after_cursor`` of the previous poll; ``None`` starts :data:`FIRST_LOOKBACK` ago.

    Returns:
        The events and the cursor to resume from (store it only once the events are stored).

    Raises:
        Retriable, Fatal: a call failed; nothing is returned, so the stored cursor stays put.
    """
    if cursor and not cursor.startswith(START_PREFIX):
        params: dict[str, Any] = {"cursor": cursor}
    else:
        start = int((cursor or first_cursor())[len(START_PREFIX):])
        params = {"start_time": start}
    next_cursor = cursor or f"{START_PREFIX}{params['start_time']}"
    found: list[TicketEvent] = []
    for _ in range(MAX_PAGES):
        page = connector.session.get_json(EXPORT_PATH, {**params, "per_page": PAGE_SIZE})
        for item in page.get("tickets") or ():
            found.extend(readable(Source.ZENDESK, "ticket", record_id(item, "id"), partial(_events_for, connector, item)) or ())
        next_cursor = page.get("after_cursor") or next_cursor
        if page.get("end_of_stream", True) or not page.get("after_cursor"):
            break
        params = {"cursor": page["after_cursor"]}
    return found, next_cursor


def _events_for(connector: "ZendeskConnector", item: Mapping[str, Any]) -> list[TicketEvent]:
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
    return request_events(ticket)


def request_events(ticket: Ticket) -> list[TicketEvent]:
    """The events a changed ticket not opened by the hub stands for: its request (``created``), while the ticket
    holds only the words of the requester's side (raised for a person who is not an agent nor the hub, and no
    comment of an agent's or the hub's after the request), and the requester's side's public reply (``commented``) when it is
    the newest message; nothing for the hub's or an agent's comment, or an internal note.

    The request's event is passed on however many comments the requester added: they may have commented before
    any poll saw the ticket (between two polls, or while exports failed), and a comment taken for a follow-up on
    a request never received was lost. Keyed as the ticket-created webhook keys it (:func:`created_key`), it is
    one inbox row however often it is seen; the comment's event waits for the request's decision (the pipeline's
    ``request_undecided``), as the Jira poll's does (:func:`connectors.jira.poll.request_events`)."""
    if not ticket.messages:
        return []
    found: list[TicketEvent] = []
    later = ticket.messages[1:]  # the first is the request itself, whoever typed it in (an agent, for a phone call)
    people = ticket.requester.is_agent or ticket.requester.is_self or any(m.author.is_agent or m.author.is_self for m in later)
    if not people:
        found.append(TicketEvent(Source.ZENDESK, created_key(ticket.ref.external_id), EventKind.CREATED, ticket.ref))
    last = ticket.messages[-1]
    if len(ticket.messages) > 1 and last.visibility is Visibility.PUBLIC and not last.author.is_agent \
            and not last.author.is_self and _known(last.author, ticket):
        delivery = comment_key(ticket.ref.external_id, last.external_id)
        found.append(TicketEvent(Source.ZENDESK, delivery, EventKind.COMMENTED, ticket.ref, message=last))
    return found


def _known(author: Person, ticket: Ticket) -> bool:
    """Whether the comment's author is the requester, or a user ``show_many`` answered for (every user has a
    name). NOTE(zendesk): a deleted user is left out of ``show_many``, so their role is unknown: their public
    comment (a former agent's reply) is not taken for the requester's word.
    https://developer.zendesk.com/api-reference/ticketing/users/users/#show-many-users"""
    return author.external_id == ticket.requester.external_id or bool(author.name)
