"""The polling fallback shared by every :class:`connectors.base.Pollable` connector: read what changed
since the stored cursor, store each event in the inbox (the same path webhooks take), then advance the cursor.

A crash between storing events and storing the cursor repeats the poll; the inbox drops the repeated
delivery ids, so a restart resumes without gaps or repeats. A poll may ask which events the inbox holds
already (:func:`core.inbox.held`), for those it cannot tell it passed on before. A first poll's starting point (a little before
now) is stored before the poll is tried: a vendor down when the hub starts polling loses nothing raised
until it answers.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any, Callable, Iterable

from connectors.base import Pollable
from core import inbox
from core.cursors import get_cursor, set_cursor
from core.models import EventKind, Message, Source, Status, Ticket, TicketEvent, Visibility

Held = Callable[[Source, Iterable[str]], set[str]]
"""Which of some delivery ids of a source the inbox holds (:func:`core.inbox.held`, as :func:`poll_once` passes it)."""

log = logging.getLogger(__name__)


def poll_once(hub: Any, connector: Pollable, cursor_name: str) -> int:
    """One scheduled poll of ``connector`` resuming from cursor ``cursor_name``.

    Returns:
        How many events were new to the inbox.

    Raises:
        Retriable, Fatal: the vendor call failed (the cursor is left where it was).
    """
    cursor = get_cursor(hub.db, cursor_name)
    if cursor is None:  # the first poll: where it starts is stored before it is tried, so that its retries, however
        cursor = connector.first_cursor()  # long the vendor stays down, start from there, not from a later "now"
        with hub.db.session() as s:
            set_cursor(s, cursor_name, cursor)
    found, next_cursor = connector.poll(cursor, partial(inbox.held, hub.db))
    new = 0
    for event in found:
        raw = json.dumps({"poll": cursor_name, "ref": str(event.ref), "delivery_id": event.delivery_id})
        new += 0 if inbox.accept(hub.db, hub.jobs, event, raw).duplicate else 1
    with hub.db.session() as s:
        set_cursor(s, cursor_name, next_cursor)
    log.info(f"{cursor_name}.done", extra={"events": len(found), "new": new})
    return new


def polling_jobs(hub: Any, name: str, cursor_name: str) -> list[tuple[str, Callable[[], object], float]]:
    """The scheduled job polling connector ``name``, when it is enabled and its settings ask for polling."""
    connector = hub.connectors.get(name)
    if connector is None or not connector.settings.poll:
        return []
    return [(cursor_name, partial(poll_once, hub, connector, cursor_name), hub.settings.poll_interval_seconds)]


def requesters_side_only(ticket: Ticket, comments: Iterable[Message]) -> bool:
    """Whether a polled ticket still holds only its requester's side's words: raised for a person who is neither
    an agent nor the hub, and none of ``comments`` (those after the request) an agent's or the hub's. Such a
    ticket is a request however many comments its requester added before a poll saw it."""
    people = ticket.requester.is_agent or ticket.requester.is_self
    return not people and not any(m.author.is_agent or m.author.is_self for m in comments)


def events_of_record(ticket: Ticket, done: dict[str, Any], comment_key: Callable[[str], str]) -> list[TicketEvent]:
    """The events a changed ticket of record (one the hub opened for a Slack thread) stands for, as a poll
    sees it: its agents' newest public comment, however many comments came after it (an internal note, the
    hub's own; the pipeline reads the ticket again and mirrors every provably public reply not mirrored yet),
    and its being solved or closed (``done`` is that event's data; a reply and a solve in one poll window give
    both).

    The comment's event is keyed by ``comment_key(comment id)``, the vendor's webhook key for that comment, so
    that a comment both polled and delivered by webhook is one inbox row. A solve has no such shared identity
    (the webhook names its event or changelog, the poll only the ticket's ``updated_at``): seen both ways it is
    two rows, and the thread is still told once per solve (``interceptor.sync.Sync.status``)."""
    source, ticket_id = ticket.ref.source, ticket.ref.external_id
    events = []
    reply = next((m for m in reversed(ticket.messages)
                  if m.visibility is Visibility.PUBLIC and m.author.is_agent and not m.author.is_self), None)
    if reply is not None:
        events.append(TicketEvent(source, comment_key(reply.external_id), EventKind.COMMENTED, ticket.ref, message=reply))
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        events.append(TicketEvent(source, f"poll:status:{ticket_id}:{ticket.updated_at.isoformat()}",
                                  EventKind.UPDATED, ticket.ref, data=done))
    return events
