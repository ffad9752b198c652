"""The shapes of the two Zendesk webhook bodies the hub reads, declared (issue 11, "validate at the door").

Every field :mod:`connectors.zendesk.events` reads is typed here; other fields pass.
https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/ (ids arrive as strings or
numbers: platform-apis.md 2.1).
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate as check

from connectors.fields import Id, Lenient, Parsed, flag, ident, nested, string, strings
from connectors.inbound import validate
from connectors.zendesk.mapping import COMMENT_ID_PLACEHOLDER, parse_time
from core.errors import PayloadError

TRIGGER_MARK = "zendesk-trigger/1"
EVENT_PREFIX = "zen:event-type:"
# marshmallow formats the message (str.format): the placeholder's braces are doubled to survive it
_NOT_A_COMMENT_ID = "Not a comment id (use {}).".format(COMMENT_ID_PLACEHOLDER.replace("{", "{{").replace("}", "}}"))


def _time(value: str) -> None:
    if parse_time(value) is None:
        raise ValueError("empty time")


class Trigger(Lenient):
    """The admin-defined trigger body (:data:`connectors.zendesk.mapping.TRIGGER_BODY`)."""

    hub = fields.String(required=True)
    event = string()
    ticket_id = Id(allow_none=True)
    requester_id = Id(allow_none=True)
    actor_id = Id(allow_none=True)
    tags = string()
    comment = string()
    # empty when the placeholder rendered nothing (a typo: Zendesk renders an unknown placeholder as ""): the
    # body is then keyed as one without it (connectors.zendesk.events.event_key)
    comment_id = Id(allow_none=True, validate=check.Regexp(r"^([1-9][0-9]{0,19})?$", error=_NOT_A_COMMENT_ID))
    updated_at = string()


class Author(Lenient):
    id = Id(allow_none=True)
    name = ident(255)  # the people table's name column
    is_staff = flag()


class Comment(Lenient):
    id = Id(allow_none=True)
    body = string()
    is_public = flag()
    author = nested(Author)


class Detail(Lenient):
    id = Id(allow_none=True)
    tags = strings()
    submitter_id = Id(allow_none=True)
    actor_id = Id(allow_none=True)
    created_at = string()
    updated_at = string()


class EventBody(Lenient):
    comment = nested(Comment)
    current = string()  # ticket.status_changed


class TicketEvent(Lenient):
    """A ``zen:event-type:ticket.*`` event webhook."""

    type = fields.String(required=True)
    id = Id(allow_none=True)
    time = Parsed(_time, "ISO-8601 time", allow_none=True)
    subject = string()
    detail = nested(Detail)
    event = nested(EventBody)


class Kind(Lenient):
    hub = string()
    type = string()


_KIND, _TRIGGER, _EVENT = Kind(), Trigger(), TicketEvent()


def checked(body: Any) -> dict[str, Any]:
    """Check a decoded Zendesk webhook body.

    Returns:
        ``body``, known to be a trigger body or a ticket event of the declared shape.

    Raises:
        PayloadError: neither kind, or a field of the wrong type (the message names its path).
    """
    kinds = validate(_KIND, body, "zendesk")
    if kinds.get("hub") == TRIGGER_MARK:
        return validate(_TRIGGER, body, "zendesk")
    if str(kinds.get("type") or "").startswith(EVENT_PREFIX):
        return validate(_EVENT, body, "zendesk")
    raise PayloadError("zendesk payload: type: not a Zendesk trigger body (see README) nor a zen:event-type webhook")
