"""A person editing or deleting a message (``message_changed``, ``message_deleted``): not a request and never
answered, but in a thread kept in step with a ticket of record (issue 12) the agents must read what the message says
now, and know when it was withdrawn.

NOTE(slack): ``message_changed`` carries the message as it is now in ``message`` (its own ``ts``, ``thread_ts`` for
a reply, and ``edited: {user, ts}`` when a person edited it) and as it was in ``previous_message``; the event's own
``ts`` is the change's. Slack sends it for other changes too (a link unfurled, language detection), which carry no
``edited`` or leave the text as it was: those are no edit. https://docs.slack.dev/reference/events/message/message_changed
A deleted message is ``message_deleted`` (``deleted_ts``, and in the captures ``previous_message``, which names its
thread): https://docs.slack.dev/reference/events/message/message_deleted. A thread's parent deleted while it has
replies stays as a ``tombstone``: a ``message_changed`` whose ``message`` has ``subtype: "tombstone"``, ``user:
"USLACKBOT"`` and the text "This message was deleted.".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from connectors.slack import mapping, mrkdwn
from connectors.text import tidy
from core.models import EventKind, Message, Person, Source, TicketEvent, utcnow

SUBTYPE, DELETED, TOMBSTONE = "message_changed", "message_deleted", "tombstone"


def is_change(envelope: Mapping[str, Any]) -> bool:
    """Whether an Events API envelope is a ``message_changed`` or ``message_deleted`` event."""
    event = envelope.get("event") if envelope.get("type") == "event_callback" else None
    return isinstance(event, Mapping) and event.get("type") == "message" and event.get("subtype") in (SUBTYPE, DELETED)


def change_event(
    envelope: Mapping[str, Any], *, ids: mapping.SelfIds, answers_in: Callable[[str], bool], received_at: datetime | None = None
) -> TicketEvent | None:
    """Translate a ``message_changed`` or ``message_deleted`` event (:func:`is_change`): a deletion
    (:func:`deletion_event`) or an edit (:func:`edit_event`)."""
    event = envelope.get("event") or {}
    if event.get("subtype") == DELETED or (event.get("message") or {}).get("subtype") == TOMBSTONE:
        return deletion_event(envelope, ids=ids, answers_in=answers_in, received_at=received_at)
    return edit_event(envelope, ids=ids, answers_in=answers_in, received_at=received_at)


def deletion_event(
    envelope: Mapping[str, Any], *, ids: mapping.SelfIds, answers_in: Callable[[str], bool], received_at: datetime | None = None
) -> TicketEvent | None:
    """Translate a deleted message (``message_deleted``, or a thread parent's tombstone) into a comment event with
    ``data["deleted"]`` (the deletion's ts), or ``None``: the hub's own message, or a channel the hub is not in.

    The event names the deleted message by its ts (``Message.external_id``, dated when it was written, its text
    empty) and its author as ``previous_message`` names them (``""`` when it does not); its ref is the message's
    thread (``previous_message.thread_ts``, else the message itself: a top-level message is its own thread). One
    delivery per deleted message (``delete:...``).
    """
    event = envelope.get("event") or {}
    before = event.get("previous_message") or {}
    ts = event.get("deleted_ts") or (event.get("message") or {}).get("ts") or before.get("ts")
    channel, team = event.get("channel"), envelope.get("team_id") or before.get("team")
    if not (channel and ts and team) or ids.owns(before) or mapping.reply_key(before) is not None or not answers_in(channel):
        return None
    ref = mapping.thread_ref(team, channel, before.get("thread_ts") or (event.get("message") or {}).get("thread_ts") or ts)
    author = Person(before.get("user") or before.get("bot_id") or "")
    message = Message(ts, author, "", created_at=mapping.ts_to_datetime(ts))
    return TicketEvent(Source.SLACK, f"delete:{team}:{channel}:{ts}", EventKind.COMMENTED, ref, message, received_at or utcnow(),
                       {"deleted": event.get("ts") or ts})


def edit_event(
    envelope: Mapping[str, Any], *, ids: mapping.SelfIds, answers_in: Callable[[str], bool], received_at: datetime | None = None
) -> TicketEvent | None:
    """Translate a ``message_changed`` event into a comment event carrying the message as edited, or ``None``: no
    person's edit of its words (an unfurl, the hub's own or another app's message), or a channel the hub is not in.

    The event names the message by its own ts (``Message.external_id``, as when it was written) and is dated when
    it was edited; ``data["edited"]`` is the edit's ts, so that each edit is one delivery (``edit:...``), and a
    redelivered one stays a duplicate.
    """
    event = envelope.get("event") or {}
    now, before = event.get("message") or {}, event.get("previous_message") or {}
    edited = now.get("edited") or {}
    if not edited.get("ts") or now.get("bot_id") or not now.get("user") or ids.owns(now) or mapping.reply_key(now) is not None:
        return None
    if (now.get("text") or "") == (before.get("text") or "") and mapping.files_of(now) == mapping.files_of(before):
        return None
    # NOTE(slack): a captured message_changed (shared/fixtures/payloads) names the message's ts only in previous_message.
    channel, ts, team = event.get("channel"), now.get("ts") or before.get("ts"), envelope.get("team_id") or now.get("team")
    if not (channel and ts and team) or not answers_in(channel):
        return None  # an edit the hub cannot place is none of its business (never a 400: Slack would retry it)
    ref = mapping.thread_ref(team, channel, now.get("thread_ts") or ts)
    text = tidy(mrkdwn.to_text(now.get("text") or "", drop=ids.user_ids))
    message = Message(ts, Person(now["user"]), text, created_at=mapping.ts_to_datetime(edited["ts"]), attachments=mapping.files_of(now))
    data = {"edited": edited["ts"], "from_requester": now["user"] == (now.get("parent_user_id") or now["user"])}
    return TicketEvent(Source.SLACK, f"edit:{team}:{channel}:{ts}:{edited['ts']}", EventKind.COMMENTED, ref, message,
                       received_at or utcnow(), data)
