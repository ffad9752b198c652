"""The one message an emoji intake names, when the hub cannot read its thread.

A reaction (``reaction_added``) carries no words: the hub reads the reacted-to message with its thread
(``conversations.replies``). When Slack refuses that for good (``missing_scope``: a private channel or a DM the
app has no history scope for), the message is read alone with ``reactions.get``, which needs only the scope the
reaction event itself needs. When that is refused too (``not_in_channel``, a revoked token) or answers a record
not of the documented shape, the request still goes to people: a ticket that names the message and its link, so
that an agent can open it in Slack, its requester the message's author as the event names them.

NOTE(slack): ``reactions.get`` (``channel`` + ``timestamp``) answers the reacted-to item, for a message a
``message`` object (``text``, ``user``, ``ts``, ``thread_ts`` for a reply) and its ``channel``; its bot scope is
``reactions:read``, which also delivers ``reaction_added`` ("view emoji reactions and their associated content in
channels and conversations that your Slack app has been added to"), where ``conversations.history`` and
``conversations.replies`` need the conversation's ``*:history`` scope. ``chat.getPermalink`` needs no scope.
https://docs.slack.dev/reference/methods/reactions.get · https://docs.slack.dev/reference/scopes/reactions.read ·
https://docs.slack.dev/reference/methods/conversations.history · https://docs.slack.dev/reference/methods/chat.getPermalink
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any, Mapping

from connectors.records import readable
from connectors.slack import mapping
from connectors.slack.errors import call
from connectors.slack.schemas import TS
from core.errors import Fatal
from core.models import Message, Person, Source, Ticket, TicketEvent

if TYPE_CHECKING:
    from connectors.slack.connector import SlackConnector

log = logging.getLogger(__name__)


def reacted_ticket(slack: SlackConnector, event: TicketEvent) -> Ticket:
    """The request an emoji intake names, read alone (``reactions.get``): the message as the only one, its author
    the requester, under its thread's ref (a reply's thread is its root); or, when Slack will not tell the message,
    a ticket naming it (:func:`named_only`).

    Args:
        slack: the connector (its client, ``users.info`` and ``chat.getPermalink``).
        event: the emoji intake (its ref names the reacted-to message).

    Returns:
        The ticket to hand over.

    Raises:
        NotFound: Slack says the message is gone (``message_not_found``). Retriable: a call failed passingly.
        ValueError: ``event.ref`` is not a Slack thread reference (the connector checks it first).
    """
    team, channel, ts = mapping.split_ref(event.ref)
    try:
        item = call("reactions.get", slack.client.reactions_get, channel=channel, timestamp=ts).data
    except Fatal as e:
        log.warning("slack.reaction.unreadable", extra={"ref": str(event.ref), "error": str(e)})
        return named_only(slack, event, f"{type(e).__name__}: {e}")
    found = item.get("message") if isinstance(item, Mapping) else None
    message = _read(slack, ts, found)
    if message is None:
        return named_only(slack, event, "Slack's reactions.get did not answer it as a message with words")
    root = found.get("thread_ts") if isinstance(found, Mapping) else None
    ref = mapping.thread_ref(team, channel, root) if isinstance(root, str) and re.match(TS, root) else event.ref
    return mapping.ticket_of(ref, [message], slack.link(channel, ts))


def _read(slack: SlackConnector, ts: str, found: Any) -> Message | None:
    """The message ``reactions.get`` answered (``None``: not the one asked for, a kind that carries no words, or
    not of the documented shape, which is logged and counted as such a record is)."""
    if not isinstance(found, Mapping) or found.get("ts") != ts:
        return None
    who = found.get("user")
    people = {who: slack.person(Person(who))} if isinstance(who, str) and who else {}
    names = {user_id: p.name for user_id, p in people.items() if p.name}
    ids = mapping.self_ids({}, slack.identity())
    return readable(Source.SLACK, "message", ts, partial(mapping.thread_message, found, people, names, ids))


def named_only(slack: SlackConnector, event: TicketEvent, why: str) -> Ticket:
    """A ticket for a message the hub cannot read: its one message says so and names the message (its link, or
    its channel and ts), its requester the message's author as the reaction event names them (else who reacted).

    Args:
        slack: the connector.
        event: the emoji intake.
        why: why the message could not be read, for the agents.
    """
    _, channel, ts = mapping.split_ref(event.ref)
    who = str(event.data.get("author") or event.data.get("reactor") or "")
    identity = slack.known_identity()  # never a call: the token may be the reason nothing can be read
    is_self = identity is not None and who in mapping.self_ids({}, identity).user_ids
    author = Person(who, is_self=True) if is_self else slack.person(Person(who))
    link = slack.link(channel, ts)
    where = f"Open it in Slack: {link}" if link else f"It is the message {ts} in channel {channel}."
    text = f"[The help-desk hub could not read this Slack message ({why}). {where}]"
    return mapping.ticket_of(event.ref, [Message(ts, author, text, created_at=mapping.ts_to_datetime(ts))], link)
