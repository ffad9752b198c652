"""The I/O side of the thread <-> ticket sync (issue 12): reads the ticket or thread, asks
:mod:`interceptor.mirror` what to write, and enqueues it in one transaction. Called by the pipeline's
comment and feedback paths; the decisions themselves are pure and live in ``mirror``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Mapping

from sqlalchemy import func, or_, select

from connectors.base import Connector, HelpDesk, PostsAsRequester, ReadsOneMessage
from core.db import Database, DecisionRow, OutboxAction
from core.errors import Retriable
from core.models import Message, Status, Ticket, TicketRef, Visibility, as_utc
from core.outbox import enqueue, follow_up_key, hand_over_key
from core.telemetry import count
from interceptor import mirror, record

log = logging.getLogger(__name__)


class Sync:
    """Mirrors between Slack threads and the tickets of record they were escalated to.

    Args:
        db: the database.
        connectors: every configured connector by name.
        max_attempts: the outbox's attempt limit for the writes enqueued here.
    """

    def __init__(self, db: Database, connectors: Mapping[str, Connector], *, max_attempts: int) -> None:
        self._db, self._connectors, self._max_attempts = db, connectors, max_attempts

    def agent_replies(self, record_ref: TicketRef, origin: TicketRef, inbox_event_id: int) -> tuple[list[int], int]:
        """Mirror every agent's public reply on ``record_ref`` not mirrored yet to the thread ``origin``,
        and count each as an agent's response on the thread's request (the analytics' first response).

        The ticket is re-read from the vendor rather than trusted from the webhook: the REST read carries the
        visibility fields the mapping judges (a webhook may not), names the author's role (a Jira Cloud
        webhook does not carry the reporter), and lists replies whose webhook was lost. A message whose
        visibility the vendor could not tell now (``Visibility.UNKNOWN``: a look-up failed) is not mirrored
        and not marked as mirrored (only a written ``mirror:`` key is), so the next read judges it again.

        Returns:
            The new outbox rows' ids (to schedule after the caller's commit), and how many messages were
            left undecided (the caller retries the event for them).

        Raises:
            NotFound, Retriable, Fatal: reading the ticket failed.
        """
        read = self._read_record(record_ref, origin)
        if read is None:
            return [], 0
        ticket, url = read
        ids: list[int] = []
        with self._db.session() as s:
            for message in ticket.messages:
                if not mirror.is_mirrorable(message):
                    continue
                action = mirror.agent_reply_action(origin, record_ref, url, message)
                new = enqueue(s, action, max_attempts=self._max_attempts, inbox_event_id=inbox_event_id)
                if new is None:
                    continue
                ids.append(new)
                record.record_outcome(s, origin, "agent_reply", author=message.author.external_id, on=str(record_ref), comment=message.external_id)
        count("sync_mirrored", direction="to_thread", outcome="posted" if ids else "nothing_new")
        undecided = sum(1 for m in ticket.messages if m.visibility is Visibility.UNKNOWN)
        if undecided:
            log.warning("interceptor.sync.visibility-unknown", extra={"ref": str(record_ref), "messages": undecided})
            count("sync_mirrored", direction="to_thread", outcome="undecided")
        return ids, undecided

    def _read_record(self, record_ref: TicketRef, origin: TicketRef) -> tuple[Ticket, str] | None:
        """Read the ticket of record from its vendor, with the link to show in the thread (``None`` when
        either side's connector is not configured).

        Raises:
            NotFound, Retriable, Fatal: reading the ticket failed.
        """
        desk = self._connectors.get(record_ref.source.value)
        if desk is None or origin.source.value not in self._connectors:
            return None
        ticket = desk.fetch(record_ref)
        return ticket, desk.ticket_url(record_ref) if isinstance(desk, HelpDesk) else (ticket.url or str(record_ref))

    def thread_message(self, thread: Connector, origin: TicketRef, record_ref: TicketRef, message: Message, inbox_event_id: int,
                       *, edited: str | None = None, deleted: str | None = None) -> tuple[list[int], str]:
        """Carry a thread message to the ticket of record (public for the requester, internal otherwise); a
        requester's word on a solved or closed ticket also reopens it. An edit (``edited``: the edit's id) carries
        the message again as it reads now, and reopens nothing; a deletion (``deleted``) is :meth:`deletion`. A
        message deleted before it was carried (Slack delivered the deletion first) is not carried.

        Returns:
            The new outbox rows' ids, and what was synced: ``"requester"`` (the requester's message: the caller
            reads it as a follow-up too), ``"synced_note"``, ``"synced_edit"``, ``"synced_deletion"``.

        Raises:
            NotFound, Retriable, Fatal: reading the thread or the ticket failed.
        """
        desk = self._connectors.get(record_ref.source.value)
        if desk is None:
            return [], "synced_note"
        if deleted:
            return self.deletion(origin, record_ref, message, inbox_event_id), "synced_deletion"
        if _withdrawn(self._db, origin, message.external_id):
            count("sync_mirrored", direction="to_ticket", outcome="deleted_first")
            return [], "synced_deletion"
        if in_transcript(self._db, origin, message):
            # Read into the hand-over's transcript already (Slack delivered it late, or it waited for the ticket
            # of record): the ticket's description has it, so it is not carried a second time.
            count("sync_mirrored", direction="to_ticket", outcome="in_transcript")
            return [], "requester" if message.author.external_id == _requester_id(self._db, origin) else "synced_note"
        if _following_up(self._db, record_ref):
            # Its ticket of record is closed and the follow-up ticket is not opened yet: the message waits for it.
            raise Retriable(f"the follow-up of the closed ticket {record_ref} is not opened yet")
        seen, requester = self._read_message(thread, origin, message.external_id)
        author = seen.author if seen is not None else message.author
        if author.is_self:
            return [], "synced_note"
        if seen is not None:  # the words as the thread shows them now: the people they mention by name, not by id
            message = replace(message, text=seen.text)
        from_requester = author.external_id == requester
        as_author, actions = None, []
        if from_requester:
            ticket = desk.fetch(record_ref)
            if isinstance(desk, PostsAsRequester) and not ticket.requester.is_self:
                as_author = ticket.requester.external_id
            # (a closed Zendesk ticket refuses both writes: they open a follow-up ticket instead, connectors.follow_up)
            if ticket.status in (Status.SOLVED, Status.CLOSED) and not edited:
                actions.append(mirror.reopen_action(origin, record_ref, ticket.status, message.external_id, by_message=True))
        actions.insert(0, mirror.thread_message_action(origin, record_ref, message, name=author.name, from_requester=from_requester,
                                                       as_author=as_author, edited=edited, thread_url=_thread_url(self._db, origin)))
        with self._db.session() as s:
            ids = [i for a in actions if (i := enqueue(s, a, max_attempts=self._max_attempts, inbox_event_id=inbox_event_id)) is not None]
        count("sync_mirrored", direction="to_ticket", outcome="requester" if from_requester else "other")
        return ids, "synced_edit" if edited else "requester" if from_requester else "synced_note"

    def _read_message(self, thread: Connector, origin: TicketRef, message_id: str) -> tuple[Message | None, str | None]:
        """A thread message as the vendor lists it now (``None``: not listed), and the thread's requester: the message
        alone where the vendor reads one (:class:`connectors.base.ReadsOneMessage`), the requester as recorded; else
        the whole thread.

        Raises:
            NotFound, Retriable, Fatal: the read failed.
        """
        requester = _requester_id(self._db, origin)
        if isinstance(thread, ReadsOneMessage) and requester is not None:
            return thread.read_message(origin, message_id), requester
        conversation = thread.fetch(origin)
        return next((m for m in conversation.messages if m.external_id == message_id), None), conversation.requester.external_id

    def deletion(self, origin: TicketRef, record_ref: TicketRef, message: Message, inbox_event_id: int) -> list[int]:
        """Tell the ticket of record that a message of its thread was deleted in Slack: one internal note per deleted
        message, quoting the first words of the copy the hub carried (its latest, when edits followed; the request
        itself for the thread's first message), never a reopen. No Slack or help desk call.

        Returns:
            The new outbox rows' ids.
        """
        ts, key = message.external_id, OutboxAction.idempotency_key
        copies = (f"sync:{origin}:{ts}", f"sync-note:{origin}:{ts}")  # mirror.thread_message_action's keys, and its edits'
        with self._db.session() as s:
            carried = s.scalars(select(OutboxAction).where(or_(key.in_(copies), *(key.like(f"{c}:edit:%") for c in copies)))
                                .order_by(OutboxAction.id.desc()).limit(1)).first()
            requester = record.requester_id_of(s, origin)
            asked = record.find_ticket(s, origin) if ts == origin.external_id.rsplit(":", 1)[-1] else None
            name, words = mirror.carried_words(carried.payload.get("text", "")) if carried is not None else ("", asked.text if asked else "")
            from_requester = carried.idempotency_key.startswith("sync:") if carried is not None else asked is not None or (
                bool(message.author.external_id) and message.author.external_id == requester)
            action = mirror.deletion_action(origin, record_ref, message, from_requester=from_requester,
                                            name=name or message.author.external_id, words=words)
            new = enqueue(s, action, max_attempts=self._max_attempts, inbox_event_id=inbox_event_id)
        count("sync_mirrored", direction="to_ticket", outcome="deletion" if new is not None else "duplicate")
        return [new] if new is not None else []

    def status(self, record_ref: TicketRef, origin: TicketRef, inbox_event_id: int) -> list[int]:
        """Tell the thread that its ticket of record is solved or closed, with the feedback buttons: once per
        solve (a reopen by the hub starts the next one), however many status events arrive.

        Returns:
            The new outbox rows' ids.

        Raises:
            NotFound, Retriable, Fatal: reading the ticket failed.
        """
        read = self._read_record(record_ref, origin)
        if read is None:
            return []
        ticket, url = read
        with self._db.session() as s:
            cycle = s.scalar(select(func.count(OutboxAction.id)).where(OutboxAction.idempotency_key.like(f"reopen:{origin}:%"))) or 0
            action = mirror.status_action(origin, record_ref, url, ticket.status, str(cycle))
            new = enqueue(s, action, max_attempts=self._max_attempts, inbox_event_id=inbox_event_id) if action else None
        return [new] if new is not None else []

    def reopen(self, origin: TicketRef, record_ref: TicketRef, reason_id: str, inbox_event_id: int) -> list[int]:
        """Reopen the ticket of record when the requester says they still need help in the thread after it
        was solved (the status message's button).

        Raises:
            NotFound, Retriable, Fatal: reading the ticket failed.
        """
        desk = self._connectors.get(record_ref.source.value)
        if desk is None:
            return []
        status = desk.fetch(record_ref).status
        if status not in (Status.SOLVED, Status.CLOSED):
            return []
        with self._db.session() as s:
            new = enqueue(s, mirror.reopen_action(origin, record_ref, status, reason_id), max_attempts=self._max_attempts, inbox_event_id=inbox_event_id)
        return [new] if new is not None else []


def record_of(db: Database, origin: TicketRef) -> TicketRef | None:
    """The ticket of record a thread was escalated to, if any."""
    with db.session() as s:
        row = record.find_ticket(s, origin)
        return TicketRef.parse(row.escalated_to) if row is not None and row.escalated_to else None


def record_for_mention(db: Database, origin: TicketRef, inbox_event_id: int) -> TicketRef | None:
    """The ticket of record of a thread that a new message mentions the hub in (the mention is a message of a
    thread kept in sync), or ``None``: the thread has none, or this very event is the thread's request (its
    decision was made from it, and a worker that died before it finished the event runs it again: the request is
    not carried into its own ticket as a comment)."""
    with db.session() as s:
        by_it = select(DecisionRow.id).where(DecisionRow.ticket_ref == str(origin), DecisionRow.inbox_event_id == inbox_event_id)
        ours = s.scalar(by_it.limit(1))
    return record_of(db, origin) if ours is None else None


def _hand_over(db: Database, origin: TicketRef) -> OutboxAction | None:
    """The outbox row that opens the ticket of record of the thread ``origin`` (``None``: none was asked for,
    e.g. a hand-over to the Slack triage channel)."""
    with db.session() as s:
        row = s.scalars(select(OutboxAction).where(OutboxAction.idempotency_key == hand_over_key(origin))).one_or_none()
        if row is not None:
            s.expunge(row)
    return row if row is not None and row.action == "create_ticket" else None


def record_opening(db: Database, origin: TicketRef) -> bool:
    """Whether the thread ``origin`` was handed over to a help desk whose ticket of record is not opened yet: the
    create waits (the help desk is down, or it failed and an admin may re-queue it). A message written in the
    thread meanwhile waits for the ticket too, rather than being lost."""
    row = _hand_over(db, origin)
    return row is not None and row.status in ("pending", "running", "failed")


def in_transcript(db: Database, origin: TicketRef, message: Message) -> bool:
    """Whether ``message`` was written before the last message the hand-over's transcript carried (a ticket of
    record opened before this was recorded says nothing: ``False``)."""
    row = _hand_over(db, origin)
    through = (row.payload or {}).get("through") if row is not None else None
    return isinstance(through, str) and as_utc(message.created_at) <= as_utc(datetime.fromisoformat(through))


def _withdrawn(db: Database, origin: TicketRef, ts: str) -> bool:
    """Whether the message ``ts`` of the thread ``origin`` was told to its ticket of record as deleted."""
    with db.session() as s:
        return s.scalar(select(OutboxAction.id).where(OutboxAction.idempotency_key == mirror.deletion_key(origin, ts))) is not None


def _requester_id(db: Database, origin: TicketRef) -> str | None:
    with db.session() as s:
        return record.requester_id_of(s, origin)


def _following_up(db: Database, record_ref: TicketRef) -> bool:
    """Whether a follow-up of the closed ticket ``record_ref`` is asked for and not opened yet."""
    with db.session() as s:
        status = s.scalar(select(OutboxAction.status).where(OutboxAction.idempotency_key == follow_up_key(str(record_ref))))
    return status in ("pending", "running", "failed")


def _thread_url(db: Database, origin: TicketRef) -> str | None:
    with db.session() as s:
        row = record.find_ticket(s, origin)
        return row.url if row is not None else None
