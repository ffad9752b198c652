"""JSON-safe encoding of the core models, for the inbox's stored event and job payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.models import EventKind, Message, Person, Source, TicketEvent, TicketRef, Visibility


def _person_to_dict(person: Person) -> dict[str, Any]:
    return {
        "external_id": person.external_id,
        "name": person.name,
        "email": person.email,
        "is_agent": person.is_agent,
        "is_self": person.is_self,
    }


def _message_to_dict(message: Message) -> dict[str, Any]:
    return {
        "external_id": message.external_id,
        "author": _person_to_dict(message.author),
        "text": message.text,
        "visibility": message.visibility.value,
        "created_at": message.created_at.isoformat(),
        "attachments": [list(pair) for pair in message.attachments],
        "automated": message.automated,
    }


def _message_from_dict(data: dict[str, Any]) -> Message:
    return Message(
        external_id=data["external_id"],
        author=Person(**data["author"]),
        text=data["text"],
        visibility=Visibility(data["visibility"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        attachments=tuple((name, link) for name, link in data.get("attachments") or ()),
        automated=bool(data.get("automated")),
    )


def event_to_dict(event: TicketEvent) -> dict[str, Any]:
    """Encode ``event`` as a JSON-safe dict (the inverse of :func:`event_from_dict`)."""
    return {
        "source": event.source.value,
        "delivery_id": event.delivery_id,
        "kind": event.kind.value,
        "ref": str(event.ref),
        "message": _message_to_dict(event.message) if event.message else None,
        "received_at": event.received_at.isoformat(),
        "data": dict(event.data),
    }


def event_from_dict(data: dict[str, Any]) -> TicketEvent:
    """Decode a dict made by :func:`event_to_dict`.

    Raises:
        KeyError, ValueError: when ``data`` is not such a dict.
    """
    return TicketEvent(
        source=Source(data["source"]),
        delivery_id=data["delivery_id"],
        kind=EventKind(data["kind"]),
        ref=TicketRef.parse(data["ref"]),
        message=_message_from_dict(data["message"]) if data.get("message") else None,
        received_at=datetime.fromisoformat(data["received_at"]),
        data=dict(data.get("data") or {}),
    )
