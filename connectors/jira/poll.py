"""The polling fallback for installs that cannot receive Jira webhooks: JQL on ``updated``, with an
overlapping window and a dedupe on issue key + ``updated``.

NOTE(jira): JQL dates have minute resolution and are read in the API user's profile time zone, so each poll
re-reads :data:`OVERLAP` before the last change it saw and skips the ``key@updated`` pairs it already
handled. https://support.atlassian.com/jira-software-cloud/docs/jql-fields/#Updated

Polls never repeat an event, nor repeat one a webhook brought: a new issue and a comment are keyed as the
webhooks key them (:func:`connectors.jira.events.created_key`, :func:`~connectors.jira.events.comment_key`).
A changed issue passes on each of the requester's public comments written since the cursor's ``floor``
(:func:`poll`), not only its newest: a reply followed, before the next poll, by an agent's note or the hub's
own comment is still heard, and a comment is passed on by a few polls at most, however often a busy issue
changes.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.jira import comments, mapping
from connectors.jira.events import comment_key, created_key
from connectors.polling import events_of_record, requesters_side_only
from connectors.records import readable, record_id
from core.errors import Retriable
from core.models import EventKind, Source, Status, Ticket, TicketEvent, Visibility, utcnow

if TYPE_CHECKING:
    from connectors.jira.connector import JiraConnector

log = logging.getLogger(__name__)

CURSOR_NAME = "jira.poll"
FIRST_LOOKBACK = timedelta(minutes=10)
OVERLAP = timedelta(minutes=2)
PAGE_SIZE = 50
MAX_PAGES = 10


def jql(project_key: str | None, since: datetime, zone: str | None) -> str:
    """The search: issues updated at or after ``since`` (written in the API user's time zone), oldest first."""
    try:
        tz: Any = ZoneInfo(zone) if zone else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    stamp = since.astimezone(tz).strftime("%Y/%m/%d %H:%M")
    scope = f'project = "{project_key}" AND ' if project_key else ""
    return f'{scope}updated >= "{stamp}" ORDER BY updated ASC'


def first_cursor() -> str:
    """The cursor of a first poll: the issues updated since :data:`FIRST_LOOKBACK` ago."""
    return json.dumps({"since": (utcnow() - FIRST_LOOKBACK).isoformat(), "seen": []})


def poll(connector: "JiraConnector", cursor: str | None) -> tuple[list[TicketEvent], str | None]:
    """Read the issues changed since ``cursor`` and turn them into events.

    A changed issue passes on its requester's public comments written since the cursor's ``floor``: where this
    poll's search starts (``since`` less :data:`OVERLAP`, on Jira's clock), once the polls before read every
    page. A comment written before it was on its issue when an earlier poll searched (Jira indexes a change
    within the overlap), so that poll passed it on; while a backlog is read (pages left over) the floor stays
    where it was.

    Args:
        connector: the Jira connector (its :meth:`search` and identity).
        cursor: ``{"since": iso, "seen": ["KEY@updated", ...], "floor": iso}`` from the previous poll, or
            ``None`` (a cursor without ``floor`` starts it at ``since`` less :data:`OVERLAP`).

    Returns:
        The events and the cursor to resume from (store it only once the events are stored).

    Raises:
        Retriable, Fatal: a call (a search, a comment's visibility look-up) failed; the stored cursor then
            stays put.
    """
    state = json.loads(cursor or first_cursor())
    since = datetime.fromisoformat(state["since"]) if state.get("since") else utcnow() - FIRST_LOOKBACK
    seen = set(state.get("seen") or ())
    floor = datetime.fromisoformat(state["floor"]) if state.get("floor") else since - OVERLAP
    query = jql(connector.settings.project_key, since - OVERLAP, connector.myself().get("timeZone"))
    found: list[TicketEvent] = []
    marks: dict[str, datetime] = {}
    newest, token, ended = since, None, False
    for _ in range(MAX_PAGES):
        page = connector.search(query, token, PAGE_SIZE)
        for issue in page.get("issues") or ():
            ticket = readable(Source.JIRA, "issue", record_id(issue, "key"),
                              partial(_ticket, connector, issue))
            if ticket is None:
                continue
            mark = f"{ticket.ref.external_id}@{(issue.get('fields') or {}).get('updated')}"
            marks[mark], newest = ticket.updated_at, max(newest, ticket.updated_at)
            if mark not in seen:
                found.extend(events_from_ticket(ticket, floor))
        # NOTE(jira): "isLast" is optional and no "nextPageToken" marks the last page: a page without "isLast"
        # but with a token is followed. https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-search/#api-rest-api-2-search-jql-get
        token = page.get("nextPageToken")
        if page.get("isLast") is True or not token:
            ended = True
            break
    keep = sorted(m for m, at in marks.items() if at >= newest - OVERLAP)
    floor = newest - OVERLAP if ended else floor
    return found, json.dumps({"since": newest.isoformat(), "seen": keep, "floor": floor.isoformat()})


def _ticket(connector: "JiraConnector", issue: dict[str, Any]) -> Ticket:
    """The issue as a ticket, with all its comments (a search hit's ``comment`` may be a partial page, or
    absent: :func:`connectors.jira.comments.complete`) and the verdicts on who sees them (:func:`_verdicts`)."""
    issue = comments.complete(connector.jira, issue)
    return mapping.ticket(issue, connector._self(), connector.settings.url, _verdicts(connector, issue))


def _verdicts(connector: "JiraConnector", issue: dict[str, Any]) -> dict[str, Visibility]:
    """Who sees the agents' comments without ``jsdPublic`` (Jira Server/DC) on an issue the hub opened for a
    Slack thread, whose public replies the poll passes on (:func:`connectors.polling.events_of_record`): the
    verdicts held, or a look-up (:class:`connectors.jira.visibility.CommentVisibility`). Other issues' agent
    comments are not passed on, so they are not looked up.

    Raises:
        Retriable: a look-up failed (the cursor stays put: the next poll reads the issue again).
        Fatal: Jira refused a look-up.
    """
    if mapping.CREATED_LABEL not in ((issue.get("fields") or {}).get("labels") or ()):
        return {}
    found = {comment_id: connector.visibility.of(comment_id) for comment_id in mapping.lookups_needed(issue, connector._self())}
    if Visibility.UNKNOWN in found.values():
        raise Retriable(f"jira poll: who may see a comment on {issue.get('key')} could not be told yet")
    return found


def events_from_ticket(ticket: Ticket, since: datetime) -> list[TicketEvent]:
    """The events of a changed issue: those of an issue the hub opened for a Slack thread
    (:func:`connectors.polling.events_of_record`), else :func:`request_events` (its comments from ``since``)."""
    if mapping.CREATED_LABEL in ticket.tags:
        return events_of_record(ticket, {"status_change": True}, comment_key)
    return request_events(ticket, since)


def request_events(ticket: Ticket, since: datetime) -> list[TicketEvent]:
    """The events a changed issue not opened by the hub stands for: its request, while the issue holds only the
    words of the requester's side (raised by a person who is not an agent nor the hub, and no comment of an agent's
    or the hub's yet) and it is not resolved, and each comment of the requester's side (not internal, not an
    agent's nor the hub's) written at or after ``since``, oldest first, whatever came after it (an agent's
    internal note, the hub's draft or answer, the issue resolved: the comment webhook would have brought it all
    the same). ``ticket.raw`` is the issue as searched (its ``id`` keys the request).

    The request's event is passed on however many comments the requester added: they may have commented before
    any poll saw the issue (between two polls, or while searches failed), and a comment taken for a follow-up on a
    request never received was lost. Keyed as the ``jira:issue_created`` webhook keys it (:func:`created_key`), it
    is one inbox row however often it is seen (a request the hub has decided but not yet written on is seen again:
    a duplicate, counted); a comment's event waits for the request's decision (the pipeline's
    ``request_undecided``), and one written before the decision is read as part of the request, not as a
    follow-up (the pipeline's ``_before_decision``)."""
    found: list[TicketEvent] = []
    if requesters_side_only(ticket, ticket.messages) and ticket.status not in (Status.SOLVED, Status.CLOSED):
        found.append(TicketEvent(Source.JIRA, created_key(str(ticket.raw["id"])), EventKind.CREATED, ticket.ref))
    for message in ticket.messages:
        author = message.author
        if message.created_at >= since and message.visibility is not Visibility.INTERNAL and not author.is_agent and not author.is_self:
            found.append(TicketEvent(Source.JIRA, comment_key(message.external_id), EventKind.COMMENTED, ticket.ref, message=message))
    return found
