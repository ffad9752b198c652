"""Zendesk webhook bodies -> :class:`TicketEvent`. Pure; the field names of both webhook kinds live here.

Two kinds of webhook reach ``POST /webhooks/zendesk``:

- a trigger webhook with the admin-defined body :data:`mapping.TRIGGER_BODY` (``"hub": "zendesk-trigger/1"``);
- a ticket event webhook (``"type": "zen:event-type:ticket.created" | "...ticket.comment_added"``).
  https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/

Only new requests, public comments, and tickets the hub opened becoming solved or closed become events; the hub's own comments, agents'
comments, internal notes, tickets the hub opened itself, and every other ticket change are ignored (``None``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from typing import Any, Mapping

from connectors.inbound import delivery_header
from connectors.zendesk import schemas
from connectors.zendesk.mapping import COMMENT_ID_PLACEHOLDER, CREATED_TAG, is_id, parse_time
from core.errors import PayloadError
from core.models import EventKind, Message, Person, Source, TicketEvent, TicketRef, Visibility, utcnow

log = logging.getLogger(__name__)

INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
TRIGGER_MARK = "zendesk-trigger/1"
TICKET_CREATED = "zen:event-type:ticket.created"
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
STATUS_CHANGED = "zen:event-type:ticket.status_changed"
DONE_STATUSES = ("solved", "closed")


def created_key(ticket_id: str) -> str:
    """The inbox key of a new ticket, whichever way it is seen (trigger, event webhook, poll)."""
    return f"ticket:{ticket_id}:created"


def comment_key(ticket_id: str, comment_id: str) -> str:
    """The inbox key of one comment, whichever way it is seen (event webhook, a trigger body naming the
    comment id, poll)."""
    return f"ticket:{ticket_id}:comment:{comment_id}"


def event_key(body: Mapping[str, Any], ticket_id: str, invocation: str | None = None) -> str:
    """The inbox dedupe key: what identifies the event itself, so that every delivery of one event is stored
    once, by webhook or by poll (:mod:`connectors.zendesk.poll` keys its events alike), and two events are
    never merged.

    - a new ticket: :func:`created_key` (a ticket is created once);
    - a comment: :func:`comment_key` (the event webhook's ``comment.id``; a trigger body's ``comment_id``,
      ``{{ticket.latest_public_comment.id}}``); an event webhook's other events: the event's own ``id``
      (``ticket:<id>:event:<uuid>``);
    - a trigger's comment without ``comment_id`` (an older trigger body): its ``updated_at`` with the
      commenter and the words; without ``updated_at`` either, the invocation (``invocation``, the
      ``X-Zendesk-Webhook-Invocation-Id`` Zendesk's retries of one invocation repeat), so that two comments
      with the same words are never one event.

    NOTE(zendesk): the invocation id header is not covered by the signature (``base64(HMAC-SHA256(timestamp +
    body))``), and "it is possible for a webhook to be invoked multiple times for the same action": where the
    body names the event, a signed body replayed inside the signature window under a new invocation id, or
    invoked twice, is the same event. A body that names neither its comment nor its update can only be keyed
    on the invocation: a replay of it under a new invocation id is then a second row (never two comments one).
    The placeholders reference gives the ``*_with_timestamp`` format with minute precision
    (``2013-12-12T05:35Z``; a live account rendered seconds), so two comments with the same words can share
    an ``updated_at``; never a ``comment_id``.
    https://developer.zendesk.com/documentation/webhooks/verifying/ ;
    https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/ (``id``: the event's);
    https://support.zendesk.com/hc/en-us/articles/4408886858138 (placeholders); a trigger's rendering of
    ``{{ticket.latest_public_comment.id}}`` as the comment's id, measured on a live account: HankH18/cxforge
    ``docs/zendesk-runbook.md``; Zendesk's retries are attempts of one invocation (``GET /api/v2/webhooks/{id}/
    invocations/{invocation_id}/attempts``,
    https://developer.zendesk.com/api-reference/event-connectors/webhooks/webhooks/#list-webhook-invocation-attempts).

    Raises:
        PayloadError: a trigger's comment names no comment id, no ``updated_at`` and comes with no invocation
            id: nothing tells it from the next comment with the same words.
    """
    prefix = f"ticket:{ticket_id}"
    if body.get("hub") == TRIGGER_MARK:
        event = str(body.get("event", "")).strip().lower()
        if event == "created":
            return created_key(ticket_id)
        if _present(body.get("comment_id")):
            return comment_key(ticket_id, str(body["comment_id"]))
        if _present(body.get("updated_at")):
            return f"{prefix}:commented:" + _digest([str(body["updated_at"]), str(body.get("actor_id") or ""), body.get("comment")])
        if invocation is None:
            raise PayloadError(f'zendesk payload: comment_id: missing (add "comment_id": "{COMMENT_ID_PLACEHOLDER}" to the trigger body)')
        return f"{prefix}:invocation:{invocation}"
    kind = body.get("type")
    comment_id = ((body.get("event") or {}).get("comment") or {}).get("id")
    if kind == TICKET_CREATED:
        return created_key(ticket_id)
    if kind == COMMENT_ADDED and _present(comment_id):
        return comment_key(ticket_id, str(comment_id))
    if _present(body.get("id")):
        return f"{prefix}:event:{body['id']}"
    return f"{prefix}:body:" + _digest(body)


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def parse(headers: Mapping[str, str], body: Any, self_id: str | None) -> TicketEvent | None:
    """Translate a verified Zendesk webhook body into an event.

    Args:
        headers: the request headers (the invocation id is kept in the event's ``data["delivery"]``).
        body: the decoded JSON body.
        self_id: the hub's API user id when known (its own comments are dropped).

    Returns:
        The event, keyed by :func:`event_key`, or ``None`` for what the hub must ignore.

    Raises:
        PayloadError: the body is neither a trigger body nor a ticket event, or a field has the wrong type
            (:mod:`connectors.zendesk.schemas`; the message names the field), or a trigger's comment cannot be
            told from another (:func:`event_key`).
    """
    body = schemas.checked(body)
    invocation = delivery_header(headers, INVOCATION_HEADER)
    event = _from_trigger(body, self_id, invocation) if body.get("hub") == TRIGGER_MARK else _from_event(body, self_id)
    if event is None or invocation is None:
        return event
    return replace(event, data={**event.data, "delivery": invocation})


def _ticket_ref(value: Any) -> TicketRef:
    text = str(value or "").strip()
    if text.startswith("zen:ticket:"):
        text = text.rsplit(":", 1)[-1]
    if not is_id(text):
        raise PayloadError("zendesk webhook has no numeric ticket id")
    return TicketRef(Source.ZENDESK, text)


def _from_trigger(body: Mapping[str, Any], self_id: str | None, invocation: str | None) -> TicketEvent | None:
    ref = _ticket_ref(body.get("ticket_id"))
    actor = str(body.get("actor_id") or "")
    tags = str(body.get("tags") or "").split()
    if (self_id is not None and actor == self_id) or CREATED_TAG in tags:
        return None
    event = str(body.get("event", "")).strip().lower()
    if event == "created":
        return TicketEvent(Source.ZENDESK, created_key(ref.external_id), EventKind.CREATED, ref, received_at=utcnow())
    if event != "commented":
        return None
    # NOTE(zendesk): a trigger cannot tell the comment author's role; docs/connectors/zendesk.md's trigger condition
    # "Current user is (end user)" does, and the requester check below keeps CCs' replies out too.
    if not actor or actor != str(body.get("requester_id") or ""):
        return None
    text = str(body.get("comment") or "").strip()
    if not text:
        return None
    comment_id = str(body.get("comment_id") or "")
    delivery = event_key(body, ref.external_id, invocation)
    if not comment_id:  # an older trigger body: the poll's and an event webhook's view of this comment is another row
        log.warning("zendesk.webhook.trigger-without-comment-id", extra={"ticket": ref.external_id})
    author = Person(external_id=actor)
    message = Message(comment_id or delivery, author, text, Visibility.PUBLIC, utcnow())
    return TicketEvent(Source.ZENDESK, delivery, EventKind.COMMENTED, ref, message=message)


def _from_event(body: Mapping[str, Any], self_id: str | None) -> TicketEvent | None:
    kind = body["type"]
    detail = body.get("detail") or {}
    if kind not in (TICKET_CREATED, COMMENT_ADDED, STATUS_CHANGED):
        return None
    ref = _ticket_ref(detail.get("id") or body.get("subject"))
    delivery = event_key(body, ref.external_id)
    opened_by_hub = CREATED_TAG in (detail.get("tags") or ())
    received = parse_time(body.get("time")) or utcnow()
    if kind == STATUS_CHANGED:
        # A ticket the hub opened for a Slack thread was solved or closed: the thread hears of it (issue 12).
        current = str((body.get("event") or {}).get("current") or "").lower()
        if not opened_by_hub or current not in DONE_STATUSES:
            return None
        return TicketEvent(Source.ZENDESK, delivery, EventKind.UPDATED, ref, received_at=received, data={"status": current})
    if kind == TICKET_CREATED:
        if opened_by_hub:
            return None
        submitter = str(detail.get("submitter_id") or detail.get("actor_id") or "")
        if self_id is not None and submitter == self_id:
            return None
        return TicketEvent(Source.ZENDESK, delivery, EventKind.CREATED, ref, received_at=received)
    comment = (body.get("event") or {}).get("comment") or {}
    author = comment.get("author") or {}
    author_id = str(author.get("id") or "")
    if not comment.get("is_public", False) or (self_id is not None and author_id == self_id):
        return None
    if opened_by_hub and not author.get("is_staff"):
        return None  # a ticket the hub opened for an escalated chat: only its agents' replies are measured
    # NOTE(zendesk): the ticket's first comment also arrives as comment_added; the ticket.created event
    # covers it, recognisable by an unchanged updated_at.
    if detail.get("created_at") and detail.get("created_at") == detail.get("updated_at"):
        return None
    text = str(comment.get("body") or "").strip()
    if not text:
        return None
    # An agent's public reply is passed on marked as an agent's: the pipeline records it as the agents'
    # first response on an escalated ticket and never treats it as the requester's word.
    person = Person(external_id=author_id or "unknown", name=str(author.get("name") or ""), is_agent=bool(author.get("is_staff")))
    message = Message(str(comment.get("id") or delivery), person, text, Visibility.PUBLIC, received)
    return TicketEvent(Source.ZENDESK, delivery, EventKind.COMMENTED, ref, message=message, received_at=received)
