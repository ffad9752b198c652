"""The outbox action vocabulary every connector performs, and the performers shared by all of them.

An outbox row names a connector and an action; its payload is JSON, and performers also receive the row's
``idempotency_key`` in it. Actions (payload keys):

- ``post_reply``: answer in the ticket's own thread; at most once per key (retries ask ``already_wrote``; a
  ``notice`` whose look the vendor refuses for good is posted anyway, at least once: :func:`unchecked_write`). ``{"ref", "text", "citations": [{"title", "url"}],
  "kind": "answer" | "notice", "decision_id", "tell_if_refused", "undelivered"}``; with ``tell_if_refused`` (an agent's
  reply carried to a chat thread, the hand-off notice: ``"undelivered": "hand_off"``), a conversation that will not take
  it tells that ticket instead (:func:`undelivered`). For ``kind == "answer"`` the connector adds its way to say
  "This solved it" / "I still need help" (Slack buttons; the answer's feedback line asks for the same words
  as a reply) and marks the ticket
  (Zendesk: tag ``hub_answered``, status pending; Jira: label ``hub_answered``). A retried answer on a help desk
  ticket people took meanwhile (solved or closed it, or an agent replied in public or wrote an internal note) is
  not posted (:func:`connectors.base.taken_meanwhile`): the row is done, with the result
  ``{"withheld": "already_solved" | "already_replied" | "already_noted", "status"}``.
- ``add_internal_note``: the agents' pre-drafted reply, never visible to the requester.
  ``{"ref", "text", "decision_id", "reopen": bool, "once": bool}``; marks the ticket ``hub_escalated`` and,
  with ``reopen``, hands it back to agents (Zendesk status open). With ``once`` (synced thread messages) the
  note carries its key and retries ask ``already_wrote`` first, like a public write: at most once.
- ``create_ticket``: open a ticket in the help desk of record (escalating a Slack thread).
  ``{"subject", "text", "requester": {"external_id", "name", "email"}, "tags", "draft",
  "origin": {"connector", "ref"}, "notice"}``; on success the draft is added to the new ticket as an
  internal note and ``notice`` (with the new ticket's link appended) is posted back on the origin thread,
  both as follow-up actions. A help desk that marks a new ticket in a second call (a JSM request:
  :class:`connectors.base.MarksAfterCreate`) gets a third, ``mark_created`` (``{"ref", "tags", "created_by"}``,
  the create's key), retried on its own so that a failed mark never opens the ticket twice.

- ``post_as``: a public comment written as the ticket's requester (a requester's Slack message on a synced
  ticket of record), at most once per key like ``post_reply``. ``{"ref", "text", "author_id"}``; only for
  connectors that are :class:`connectors.base.PostsAsRequester` (Zendesk).

- ``create_follow_up``: a thread message (or "I still need help") its closed ticket of record refused
  (:func:`connectors.follow_up.on_closed`) opens a follow-up
  ticket instead, once per closed ticket (``{"closed", "text", "origin"}``; retries ask ``created_ticket``). The thread
  is re-pointed to it (``interceptor.record.on_action_done``) and told once, with its link (``follow-up-notice:``).
  Each refused message also gets ``write_on_follow_up`` (``{"closed", "written_as", "text", "author_id", "internal"}``):
  once the follow-up is open, the message is written on it under its own key, unless it is the follow-up's
  description. A refused internal note (``internal``: a teammate's message, a deletion) or edit opens no follow-up: its
  row is done, ``{"held"}``, and its ``write_on_follow_up`` is asked for once a follow-up is
  (``interceptor.record.on_action_done``). Only for connectors that are
  :class:`connectors.follow_up.FollowsUpClosed` (Zendesk).

Vendor packages may add actions of their own (Slack ``update_message``), registered the same way.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from connectors.base import Connector, HelpDesk, MarksAfterCreate, PostsAsRequester, already_performed, taken_meanwhile
from connectors.follow_up import FollowsUpClosed, create_follow_up, on_closed, write_on_follow_up
from core.errors import Fatal, NotFound, Refused
from core.models import Person, TicketRef
from core.outbox import NewAction, Performed, Performer, ticket_notice
from core.telemetry import count

log = logging.getLogger(__name__)


def _post_reply(connector: Connector) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        ref, kind = TicketRef.parse(payload["ref"]), payload.get("kind", "answer")
        unchecked: Fatal | None = None
        if int(payload.get("attempt", 1)) > 1:
            # A retry: an earlier attempt may have posted and crashed before the hub recorded it.
            try:
                found = already_performed(connector, ref, payload["idempotency_key"])
            except Fatal as e:
                if kind != "notice":
                    raise  # an answer is at most once: without the look, it is given up (a failed row)
                found, unchecked = None, e
            if found is not None:
                return found
            # The answer waited (a vendor outage): people may have solved the ticket, or answered it, meanwhile.
            taken = taken_meanwhile(connector, ref) if kind == "answer" else None
            if taken is not None:
                return taken
        try:
            posted = connector.post_reply(
                ref,
                payload["text"],
                idempotency_key=payload["idempotency_key"],
                kind=kind,
                citations=payload.get("citations") or (),
            )
        except (Refused, NotFound) as e:
            if not payload.get("tell_if_refused"):
                raise
            note = UNDELIVERED_NOTES.get(str(payload.get("undelivered")), UNDELIVERED_NOTE)
            return undelivered(ref, TicketRef.parse(payload["tell_if_refused"]), payload["idempotency_key"], e, note)
        except Fatal:
            if (closed := on_closed(connector, ref, payload)) is not None:
                return closed
            raise
        result = {"external_id": posted.external_id, "url": posted.url}
        if unchecked is not None:
            result["unchecked"] = unchecked_write(connector, ref, unchecked)
        return Performed(result)

    return perform


UNDELIVERED_NOTE = ("An agent's reply on this ticket could not be posted in the requester's conversation ({why}), so the "
                    "requester has not seen it: reach them another way.")
UNDELIVERED_NOTES = {
    "hand_off": ("The hub could not tell the requester in their conversation that a person will follow up ({why}): they "
                 "have not been told of this ticket. Reach them another way."),
}


def undelivered(ref: TicketRef, tell: TicketRef, key: str, refused: Refused | NotFound, note: str = UNDELIVERED_NOTE) -> Performed:
    """A message the conversation will not take (archived, the app removed from it, gone), for people who believe
    it was delivered (an agent's reply; with ``note``, the hand-off notice): the row is done (asking again will not
    help) with the reason in its result, and the ticket ``tell`` gets an internal note saying so, once (key
    ``undelivered:<key>``). Logged (``outbox.post.undelivered``) and counted (``hub_outbox_actions_total{outcome="undelivered"}``)."""
    why = f"{refused}"[:300]
    log.warning("outbox.post.undelivered", extra={"ref": str(ref), "error": why})
    told = NewAction(
        key=f"undelivered:{key}",
        connector=tell.source.value,
        action="add_internal_note",
        payload={"ref": str(tell), "text": note.format(why=why), "once": True},
        ticket_ref=str(tell),
    )
    return Performed({"undelivered": why}, (told,), outcome="undelivered")


def unchecked_write(connector: Connector, ref: TicketRef, refused: Fatal) -> str:
    """A notice posted on a retry whose look (``already_wrote``) the vendor refused for good, logged
    (``outbox.post.unchecked``) and counted (``hub_outbox_unchecked_writes_total{connector}``).

    A notice is at least once: a requester who never hears that a person has the request (or what the agent
    replied) is worse off than one who reads it twice, and a look that cannot be made (a Slack thread the app
    may post in but not read: ``missing_scope``, ``not_in_channel``) would otherwise give it up at every retry.
    It is doubled only when the earlier attempt's post went through and its answer was lost (a 5xx or a timeout
    after the vendor posted; a 429 is the vendor refusing the call). An answer stays at most once.

    Returns:
        Why the look was not made, kept in the outbox row's result (``unchecked``) for the admin.
    """
    why = f"{type(refused).__name__}: {refused}"[:300]
    log.warning("outbox.post.unchecked", extra={"ref": str(ref), "error": why})
    count("outbox_unchecked_writes", connector=connector.source.value)
    return why


def _add_internal_note(connector: Connector) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        ref = TicketRef.parse(payload["ref"])
        if not payload.get("once"):
            posted = connector.add_internal_note(ref, payload["text"], reopen=bool(payload.get("reopen")))
            return Performed({"external_id": posted.external_id, "url": posted.url})
        key = payload["idempotency_key"]
        if int(payload.get("attempt", 1)) > 1:
            found = already_performed(connector, ref, key)
            if found is not None:
                return found
        try:
            posted = connector.add_internal_note(ref, payload["text"], reopen=bool(payload.get("reopen")), idempotency_key=key)
        except Fatal:  # a reopen of a closed ticket (mirror_of: its thread) opens a follow-up; a note waits for one
            if (closed := on_closed(connector, ref, payload, carry=False, internal=not payload.get("reopen"))) is not None:
                return closed
            raise
        return Performed({"external_id": posted.external_id, "url": posted.url})

    return perform


def _create_ticket(name: str, desk: HelpDesk) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        requester = Person(**payload["requester"])
        key = payload["idempotency_key"]
        found = desk.created_ticket(key) if int(payload.get("attempt", 1)) > 1 else None
        if found is not None:
            count("outbox_already_written", connector=name)
        ref = found or desk.create_ticket(payload["subject"], payload["text"], requester, tags=tuple(payload.get("tags", ())),
                                          idempotency_key=key)
        url = desk.ticket_url(ref)
        origin = payload["origin"]
        marks: tuple[NewAction, ...] = ()
        if isinstance(desk, MarksAfterCreate) and desk.marks_after_create():
            marks = (
                NewAction(
                    key=f"mark-created:{ref}",
                    connector=name,
                    action="mark_created",
                    payload={"ref": str(ref), "tags": list(payload.get("tags", ())), "created_by": key},
                    ticket_ref=str(ref),
                ),
            )
        follow_ups = marks + (
            NewAction(
                key=f"draft:{ref}",
                connector=name,
                action="add_internal_note",
                payload={"ref": str(ref), "text": payload["draft"]},
                ticket_ref=str(ref),
            ),
            ticket_notice(f"escalation-notice:{origin['ref']}", origin, payload["notice"], ref, url),
        )
        return Performed({"ref": str(ref), "url": url}, follow_ups)

    return perform


def _mark_created(desk: MarksAfterCreate) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        desk.mark_created(TicketRef.parse(payload["ref"]), tuple(payload.get("tags", ())), payload["created_by"])
        return Performed({"ref": payload["ref"]})

    return perform


def _post_as(connector: Connector, desk: PostsAsRequester) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        ref, key = TicketRef.parse(payload["ref"]), payload["idempotency_key"]
        if int(payload.get("attempt", 1)) > 1:
            found = already_performed(connector, ref, key)
            if found is not None:
                return found
        try:
            posted = desk.post_as(ref, payload["text"], str(payload["author_id"]), idempotency_key=key)
        except Fatal:
            if (closed := on_closed(connector, ref, payload)) is not None:
                return closed
            raise
        return Performed({"external_id": posted.external_id, "url": posted.url})

    return perform


def common_performers(name: str, connector: Connector) -> dict[str, Performer]:
    """Return the performers of the shared actions for one connector (``create_ticket`` only for help
    desks of record, ``post_as`` only where the vendor lets the hub write as the requester)."""
    performers = {"post_reply": _post_reply(connector), "add_internal_note": _add_internal_note(connector)}
    if isinstance(connector, HelpDesk):
        performers["create_ticket"] = _create_ticket(name, connector)
    if isinstance(connector, PostsAsRequester):
        performers["post_as"] = _post_as(connector, connector)
    if isinstance(connector, FollowsUpClosed) and isinstance(connector, HelpDesk):
        performers["create_follow_up"] = create_follow_up(name, connector, connector)
        performers["write_on_follow_up"] = write_on_follow_up(connector, connector)
    if isinstance(connector, MarksAfterCreate):
        performers["mark_created"] = _mark_created(connector)
    return performers
