"""Zendesk JSON <-> the hub's models. Pure: every Zendesk field name lives here, nothing does I/O.

Inbound shapes: the REST ticket/comment/user objects, Help Center articles, and the two webhook bodies
(the admin-defined trigger body in :data:`TRIGGER_BODY`, and ``zen:event-type:ticket.*`` event webhooks).
Outbound shapes: the ``ticket`` objects the connector sends to ``PUT/POST /api/v2/tickets``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import partial
from typing import Any, Iterable, Mapping, Sequence

from connectors.base import KnowledgeArticle
from connectors.records import readable, record_id
from connectors.text import html_to_text, tidy, with_sources
from core.html import parse_html
from core.models import UNKNOWN_AUTHOR, Message, Person, Priority, Source, Status, Ticket, TicketRef, Visibility

ANSWERED_TAG = "hub_answered"
ESCALATED_TAG = "hub_escalated"
CREATED_TAG = "hub_created"
# NOTE(zendesk): ticket, comment and user ids are 64-bit integers (JSON numbers; strings in webhooks); ASCII digits
# only ("²".isdigit() is true). https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format
ID = re.compile(r"[1-9][0-9]{0,19}")

# The body an admin pastes into a trigger's "Notify active webhook" action (docs/connectors/zendesk.md). Only ids and
# one comment go in: free-text placeholders are rendered as unformatted text. ``comment_id`` names the comment
# as the event webhook and the poll do, so that one comment is one event however it arrives.
COMMENT_ID_PLACEHOLDER = "{{ticket.latest_public_comment.id}}"
TRIGGER_BODY = {
    "hub": "zendesk-trigger/1",
    "event": "created | commented",
    "ticket_id": "{{ticket.id}}",
    "requester_id": "{{ticket.requester.id}}",
    "actor_id": "{{current_user.id}}",
    "tags": "{{ticket.tags}}",
    "comment": "{{ticket.latest_public_comment}}",
    "comment_id": COMMENT_ID_PLACEHOLDER,
}

STATUSES = {"new": Status.NEW, "open": Status.OPEN, "pending": Status.PENDING, "hold": Status.ON_HOLD,
            "on-hold": Status.ON_HOLD, "solved": Status.SOLVED, "closed": Status.CLOSED}
PRIORITIES = {"low": Priority.LOW, "normal": Priority.NORMAL, "high": Priority.HIGH, "urgent": Priority.URGENT}
AGENT_ROLES = frozenset(("agent", "admin"))
# NOTE(zendesk): a comment's ``via.channel`` says how it was made. "rule" is a trigger or an automation, "api"
# an integration (an auto-acknowledgement app; the hub itself) and "system" Zendesk: none is an agent typing a
# reply. Agents reply via "web", "email", "mobile"... The comments API names channels by type (a string); a via
# id (an integer) is read as unknown, so as a person's.
# https://developer.zendesk.com/documentation/ticketing/reference-guides/via-object-reference
AUTOMATED_VIA = frozenset(("rule", "api", "system"))


def parse_time(value: Any) -> datetime | None:
    """Parse a Zendesk timestamp (ISO-8601 with ``Z``, or epoch seconds) into aware UTC (``None`` when it is
    none: empty, or not a time)."""
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        text = str(value).strip().replace("Z", "+00:00")
        # NOTE(zendesk): event webhooks send nanosecond "time" values (2025-01-08T14:25:30.123456789Z).
        if "." in text:
            head, _, rest = text.partition(".")
            digits = "".join(ch for ch in rest if ch.isdigit())
            text = f"{head}.{digits[:6]}{rest[len(digits):]}"
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):  # OverflowError, OSError: epoch seconds beyond any calendar
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def status_of(value: Any) -> Status:
    """Map a Zendesk status; event webhooks may send it upper-case (``"OPEN"``)."""
    return STATUSES.get(str(value or "new").lower(), Status.OPEN)


def priority_of(value: Any) -> Priority | None:
    """Map a Zendesk priority (``None`` when unset)."""
    return PRIORITIES.get(str(value).lower()) if value else None


def person(user_id: Any, users: Mapping[str, Mapping[str, Any]], self_id: str | None) -> Person:
    """Build a :class:`Person` from a user id and the side-loaded users (``GET /users/show_many``).

    ``is_agent`` is true for agents and admins; ``is_self`` when the id is the hub's API user.
    """
    uid = str(user_id) if user_id is not None else UNKNOWN_AUTHOR
    user = users.get(uid, {})
    return Person(
        external_id=uid,
        name=str(user.get("name") or ""),
        email=user.get("email") or None,
        is_agent=str(user.get("role", "")).lower() in AGENT_ROLES,
        is_self=self_id is not None and uid == self_id,
    )


def comment_text(comment: Mapping[str, Any]) -> str:
    """The comment as plain text: ``plain_body``, else ``html_body`` stripped, else ``body``."""
    if comment.get("plain_body"):
        return tidy(str(comment["plain_body"]))
    if comment.get("html_body"):
        return html_to_text(str(comment["html_body"]))
    return tidy(str(comment.get("body") or ""))


def message(comment: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], self_id: str | None) -> Message:
    """Build a :class:`Message` from a ticket comment: public only when ``public`` is ``true``; ``false``,
    missing or anything else is an internal note (ambiguous counts as internal, issue 12).

    Raises:
        KeyError: the comment has no ``id`` (every comment has one: without it, two such comments would be one).
    """
    if comment.get("id") is None:
        raise KeyError("id")
    return Message(
        external_id=str(comment["id"]),
        author=person(comment.get("author_id"), users, self_id),
        text=comment_text(comment),
        visibility=Visibility.PUBLIC if comment.get("public") is True else Visibility.INTERNAL,
        created_at=parse_time(comment.get("created_at")) or datetime.now(timezone.utc),
        attachments=attachment_links(comment),
        automated=via_channel(comment) in AUTOMATED_VIA,
    )


def via_channel(record: Mapping[str, Any]) -> str | None:
    """The record's ``via.channel`` when it is a via type (a string), else ``None``."""
    via = record.get("via")
    channel = via.get("channel") if isinstance(via, Mapping) else None
    return channel if isinstance(channel, str) else None


def attachment_links(comment: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``(file name, content_url)`` of a comment's attachments that are not deleted (linked, never copied)."""
    found = []
    for item in comment.get("attachments") or ():
        if isinstance(item, Mapping) and item.get("content_url") and not item.get("deleted"):
            found.append((str(item.get("file_name") or "attachment"), str(item["content_url"])))
    return tuple(found)


def ticket(
    data: Mapping[str, Any],
    comments: Sequence[Mapping[str, Any]],
    users: Mapping[str, Mapping[str, Any]],
    self_id: str | None,
    base_url: str,
) -> Ticket:
    """Build a :class:`Ticket` from ``GET /tickets/{id}``, its comments, and the users they mention.

    Args:
        data: the ``ticket`` object.
        comments: the ticket's comments, oldest first (one not of the documented shape, such as one without an
            ``id``, is passed over: logged and counted, :func:`connectors.records.readable`).
        users: user objects by id (as strings).
        self_id: the hub's API user id, to mark its own comments ``is_self``.
        base_url: ZENDESK_URL, for the agent-facing link.
    """
    read = (readable(Source.ZENDESK, "comment", record_id(c, "id"), partial(message, c, users, self_id)) for c in comments)
    messages = tuple(m for m in read if m is not None)  # a comment not of the documented shape is passed over
    first = messages[0].text if messages else ""
    now = datetime.now(timezone.utc)
    return Ticket(
        ref=TicketRef(Source.ZENDESK, str(data["id"])),
        subject=str(data.get("subject") or data.get("raw_subject") or ""),
        text=first or tidy(str(data.get("description") or "")),
        requester=person(data.get("requester_id"), users, self_id),
        status=status_of(data.get("status")),
        priority=priority_of(data.get("priority")),
        tags=tags_of(data),
        messages=messages,
        url=agent_url(base_url, str(data["id"])),
        created_at=parse_time(data.get("created_at")) or now,
        updated_at=parse_time(data.get("updated_at")) or now,
        raw=dict(data),
    )


def tags_of(data: Mapping[str, Any]) -> tuple[str, ...]:
    """A ticket's ``tags``, each as text. NOTE(zendesk): ``tags`` is an array of strings.
    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format

    Raises:
        TypeError: ``tags`` is not an array (a string would otherwise be read as its letters).
    """
    tags = data.get("tags") or ()
    if not isinstance(tags, (list, tuple)):
        raise TypeError(f"tags is {type(tags).__name__}, not an array")
    return tuple(str(t) for t in tags)


def user_ids(data: Mapping[str, Any], comments: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every user id a ticket and its comments refer to (for one ``show_many`` call)."""
    ids = {str(data.get("requester_id"))} | {str(c.get("author_id")) for c in comments if isinstance(c, Mapping)}
    return sorted(i for i in ids if i not in ("None", ""))


def agent_url(base_url: str, ticket_id: str) -> str:
    """The agent-facing link to a ticket."""
    return f"{base_url.rstrip('/')}/agent/tickets/{ticket_id}"


def answer_body(text: str, citations: Iterable[Mapping[str, Any]] = ()) -> str:
    """The public comment for a reply: the text and the cited articles it does not link already."""
    return with_sources(text, citations, lambda title, url: f"- {title}: {url}")


def answer_update(body: str) -> dict[str, Any]:
    """The ``ticket`` update for a public answer: one public comment, tag, status pending."""
    return {"comment": {"body": body, "public": True}, "status": "pending", "additional_tags": [ANSWERED_TAG]}


def notice_update(body: str) -> dict[str, Any]:
    """The ``ticket`` update for a public notice (no tag, no status change)."""
    return {"comment": {"body": body, "public": True}}


def requester_comment_update(body: str, author_id: int) -> dict[str, Any]:
    """The ``ticket`` update for the requester's own words from a synced Slack thread: one public comment
    authored by them (no tag, no status change)."""
    return {"comment": {"body": tidy(body), "public": True, "author_id": author_id}}


def note_update(body: str, reopen: bool) -> dict[str, Any]:
    """The ``ticket`` update for the agents' draft: a private comment, tag, and status open on ``reopen``.

    NOTE(zendesk): ``public`` must always be explicit; a comment otherwise inherits the ticket's initial
    visibility. https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/
    """
    update: dict[str, Any] = {"comment": {"body": body, "public": False}, "additional_tags": [ESCALATED_TAG]}
    if reopen:
        update["status"] = "open"
    return update


def create_fields(subject: str, text: str, requester: Person, tags: Iterable[str]) -> dict[str, Any]:
    """The ``ticket`` to create for an escalated conversation (the requester found or created by email)."""
    who: dict[str, Any] = {"name": requester.name or requester.email or requester.external_id}
    if requester.email:
        who["email"] = requester.email
    return {
        "subject": subject,
        "comment": {"body": text, "public": False},
        "requester": who,
        "tags": sorted({*tags, CREATED_TAG}),
    }


def follow_up_fields(closed: Mapping[str, Any], closed_id: int, text: str, written: str) -> dict[str, Any]:
    """The follow-up ``ticket`` of the closed ticket ``closed`` (its show answer): the same requester and subject, ``text``
    as its private description, and the closed ticket's tags without the hub's write keys (``hub_w_``), ``hub_created``
    and ``written`` (the key tag of the write ``text`` carries) added.

    NOTE(zendesk): a closed ticket cannot be reopened or updated; a new ticket with ``via_followup_source_id`` naming it
    is its follow-up. It inherits the closed ticket's tags unless the request gives tags, which then replace them.
    https://developer.zendesk.com/documentation/ticketing/managing-tickets/creating-and-updating-tickets
    """
    tags = [t for t in tags_of(closed) if not t.startswith("hub_w_")]
    fields: dict[str, Any] = {"via_followup_source_id": closed_id, "comment": {"body": text, "public": False},
                              "tags": sorted({*tags, CREATED_TAG, written})}
    if closed.get("subject"):
        fields["subject"] = str(closed["subject"])
    if is_id(str(closed.get("requester_id") or "")):
        fields["requester_id"] = int(closed["requester_id"])
    return fields


def is_id(text: str) -> bool:
    """Whether ``text`` is a Zendesk id (:data:`ID`)."""
    return bool(ID.fullmatch(text))


def posted_comment_id(audit: Mapping[str, Any]) -> Any:
    """The id of the ``Comment`` event in a ticket update's audit, as the answer gives it (``None``: no such event)."""
    for event in audit.get("events") or ():
        if event.get("type") in ("Comment", "VoiceComment"):
            return event.get("id")
    return None


def in_locale(data: Any, locale: str | None) -> bool:
    """Whether a Help Center article, as the export or the listing gives it, is in ``locale`` (lower case; ``None``:
    every article is), its ``locale`` read whatever its case. Anything but an object is let through, for the
    caller's reading of it to refuse.

    NOTE(zendesk): the incremental export has no locale-scoped form (``/api/v2/help_center/incremental/articles``
    only); ``/api/v2/help_center/{locale}/articles`` is the plain listing, paged by position, not by change time.
    So the export is filtered on the article's ``locale``: the export gives each article once, in that locale.
    https://developer.zendesk.com/documentation/help_center/help-center-api/understanding-incremental-article-exports/
    """
    if locale is None or not isinstance(data, Mapping):
        return True
    return str(data.get("locale") or "").lower() == locale


def article_id(data: Mapping[str, Any]) -> str:
    """A listed Help Center article's id.

    Raises:
        KeyError, TypeError: the article has no id (or it is not a Zendesk id).
    """
    if not is_id(str(data["id"])):
        raise TypeError(f"article id {str(data['id'])[:40]!r} is not a Zendesk id")
    return str(data["id"])


def article(data: Mapping[str, Any]) -> KnowledgeArticle:
    """Build a :class:`KnowledgeArticle` from a Help Center article. One that is not public is flagged ``deleted``
    (with no body: it is never read into the KB), so that a published article made a draft again or restricted to
    a user segment leaves the KB as an archived one does (never cited in public answers); an ``archived`` or
    ``deleted`` flag, which Zendesk's export does not send, is read too.
    The HTML body becomes plain text and sections (``core.html``: ``h1``..``h4`` and bold-only lines); its
    relative links (``/hc/en-us/articles/...``, as the Help Center editor writes them) resolve against the
    article's ``html_url``."""
    # NOTE(zendesk): "user_segment_ids" (a list; null for everyone) restricts an article as the older single
    # "user_segment_id" does; "draft" is true for an unpublished article (Guide's "Unpublish" sets it again).
    # The incremental export lists an article again after either change (its updated_at moves).
    # https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/#json-format
    public = not (data.get("draft") or data.get("user_segment_id") is not None or data.get("user_segment_ids"))
    deleted = not public or bool(data.get("archived") or data.get("deleted") or data.get("archived_at") or data.get("deleted_at"))
    section = data.get("section_id")
    body = parse_html(data.get("body") if public else None, data.get("html_url"))  # NOTE(zendesk): ``body`` is HTML
    labels = data.get("label_names") if isinstance(data.get("label_names"), list) else ()
    return KnowledgeArticle(
        external_id=str(data["id"]),
        title=str(data.get("title") or data.get("name") or ""),
        body=body.text,
        sections=body.sections,
        url=data.get("html_url"),
        locale=data.get("locale"),
        section=str(section) if section is not None else None,
        updated_at=parse_time(data.get("edited_at") or data.get("updated_at")) or datetime.now(timezone.utc),
        tags=tuple(str(label) for label in labels if label is not None),
        deleted=deleted,
    )
