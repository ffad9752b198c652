"""Closed tickets of record: a help desk whose closed tickets take no write at all (Zendesk) gets, for a thread
message refused by one, a follow-up ticket that names it; the thread is re-pointed to it
(``interceptor.record.on_action_done``) and told once; a note the closed ticket refused waits for the follow-up and
is written there. The outbox actions ``create_follow_up`` and ``write_on_follow_up`` (:mod:`connectors.actions`)."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Protocol, runtime_checkable

from connectors.base import Connector, HelpDesk, PostsAsRequester, already_performed
from core.errors import Retriable
from core.models import TicketRef
from core.outbox import NewAction, Performed, Performer, follow_up_key, follow_up_write, ticket_notice
from core.telemetry import count

log = logging.getLogger(__name__)


@runtime_checkable
class FollowsUpClosed(Protocol):
    """Optional capability: a help desk whose closed tickets take no write at all (Zendesk), where a word on one
    goes to a follow-up ticket that names it instead."""

    def is_closed(self, ref: TicketRef) -> bool:
        """Whether the ticket is closed (read back from the vendor).

        Raises:
            NotFound, Retriable, Fatal: the read failed.
        """
        ...

    def follow_up(self, closed: TicketRef, text: str, *, idempotency_key: str, written_as: str) -> TicketRef:
        """Open a follow-up of the closed ticket ``closed`` (same requester, ``text`` as its description), marked
        with ``idempotency_key`` for :meth:`HelpDesk.created_ticket`, and with ``written_as`` (the key of the write whose
        words ``text`` carries) for :meth:`Connector.already_wrote`.

        Raises:
            NotFound, Retriable, Fatal: the call failed.
        """
        ...


FOLLOW_UP_NOTICE = "Your earlier ticket is closed, so this goes on in a new ticket; a person will follow up here:"
FOLLOW_UP_INTRO = "{said}\n\n(From the Slack thread {thread}, after ticket {closed} was closed.)"


def on_closed(connector: Connector, ref: TicketRef, payload: Mapping[str, Any], *, carry: bool = True,
              internal: bool = False) -> Performed | None:
    """A thread message (``mirror_of``: its thread) the ticket of record refused: when the ticket reads back as closed
    (Zendesk: a closed ticket takes no update, :class:`FollowsUpClosed`), the row is done and the message goes to a
    follow-up ticket instead (``create_follow_up``, key :func:`core.outbox.follow_up_key`); with ``carry`` it is also
    written on that ticket should another message have opened it (``write_on_follow_up``). A reopen (``carry=False``:
    "I still need help") only asks for the follow-up, which is the hand-back; one that came with a message
    (``by_message``) asks for nothing, the message's own write does. ``None``: the refusal has another cause (the
    caller raises it).

    A write that is no word of the requester's to agents opens no ticket: an ``internal`` note (a teammate's message,
    a deletion, an edit of theirs) and the requester's edit (``edited``: an edit never hands a ticket back) are held,
    ``{"held": <the follow-up's key>}``, and written on the follow-up (:func:`core.outbox.follow_up_write`) once one is
    asked for, by the outbox bookkeeping (``interceptor.record.on_action_done``), which alone sees both rows.

    The status is read back rather than the 422 answer's words matched: Zendesk documents that a closed ticket takes no
    update, not the wording of its refusal, and a 422 has other causes (a required field, a bad author)."""
    origin = payload.get("mirror_of")
    if not origin or not isinstance(connector, FollowsUpClosed) or not connector.is_closed(ref):
        return None
    log.info("outbox.write.closed-ticket", extra={"ref": str(ref)})
    if internal or payload.get("edited"):
        return Performed({"closed": str(ref), "held": follow_up_key(str(ref))})
    if not carry and payload.get("by_message"):  # the requester's message, refused as well, opens the follow-up
        return Performed({"closed": str(ref), "withheld": "closed"})
    thread, key = TicketRef.parse(str(origin)), payload["idempotency_key"]
    text = FOLLOW_UP_INTRO.format(said=payload["text"], thread=payload.get("thread_url") or thread, closed=ref.external_id)
    create = NewAction(
        key=follow_up_key(str(ref)),
        connector=ref.source.value,
        action="create_follow_up",
        payload={"closed": str(ref), "text": text, "written_as": key, "origin": {"connector": thread.source.value, "ref": str(thread)}},
        ticket_ref=str(ref),
    )
    # Another message refused by the same closed ticket before the follow-up was opened finds the create asked for
    # already (its key): it goes onto the follow-up as a comment. The message whose words the create carries is found
    # written there by its key (the follow-up is tagged with it), so it is not written twice.
    written = follow_up_write(str(ref), key, payload["text"], author_id=payload.get("author_id"))
    return Performed({"closed": str(ref), "follow_up": create.key}, (create, written) if carry else (create,))


def create_follow_up(name: str, desk: FollowsUpClosed, help_desk: HelpDesk) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        key, origin = payload["idempotency_key"], payload["origin"]
        found = help_desk.created_ticket(key) if int(payload.get("attempt", 1)) > 1 else None
        if found is not None:
            count("outbox_already_written", connector=name)
        ref = found or desk.follow_up(TicketRef.parse(payload["closed"]), payload["text"], idempotency_key=key,
                                      written_as=payload["written_as"])
        url = help_desk.ticket_url(ref)
        notice = ticket_notice(f"follow-up-notice:{origin['ref']}:{ref}", origin, FOLLOW_UP_NOTICE, ref, url)
        return Performed({"ref": str(ref), "url": url, "follow_up_of": payload["closed"]}, (notice,))

    return perform


def write_on_follow_up(connector: Connector, help_desk: HelpDesk) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        ref = help_desk.created_ticket(follow_up_key(payload["closed"]))
        if ref is None:  # the create waits (or failed: an admin re-queues it), and this message with it
            raise Retriable(f"the follow-up of the closed ticket {payload['closed']} is not opened yet")
        key = payload["written_as"]
        found = already_performed(connector, ref, key)  # always: the follow-up's description may be this message
        if found is not None:
            return found
        if payload.get("internal"):  # a teammate's message, a deletion: an internal note, as on the closed ticket
            posted = connector.add_internal_note(ref, payload["text"], idempotency_key=key)
        elif payload.get("author_id") and isinstance(connector, PostsAsRequester):
            posted = connector.post_as(ref, payload["text"], str(payload["author_id"]), idempotency_key=key)
        else:
            posted = connector.post_reply(ref, payload["text"], idempotency_key=key, kind="notice")
        return Performed({"external_id": posted.external_id, "url": posted.url})

    return perform
