"""The interceptor's job: one stored inbox event in, rows and outbox actions out.

``prefilter -> retrieve -> score -> decide -> compose -> act -> record``: the engine does retrieve to
compose; this module prefilters, acts and records, in one transaction per event so that a crash leaves
either nothing (the sweeper retries the event) or the decision with every write it implies.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Protocol

from sqlalchemy.exc import IntegrityError

from config import Settings
from connectors.base import Connector, HelpDesk, ResolvesEvents
from core.db import Database
from core.errors import Retriable
from core.inbox import request_undecided
from core.jobs import JobQueue
from core.models import EventKind, Message, Ticket, TicketEvent, TicketRef, Visibility, as_utc
from core.outbox import NewAction, enqueue, schedule
from core.telemetry import count, observe
from core.words import plural
from interceptor import intake, record, unread
from interceptor.act import Route, answer_action, escalation_actions, is_answer
from interceptor.guard import classify_followup, confirms_answer
from interceptor.overdue import escalate_unposted_answers
from interceptor.sync import Sync, record_for_mention, record_of, record_opening
from interceptor.types import Decision, ThreadState, Verdict

PERSON_ESCALATED = "person_escalated"  # the reason of an emoji intake: a person asked for a ticket

log = logging.getLogger(__name__)


class _Escalated(Exception):
    """Rolls back an escalation's transaction that lost the request to a concurrent one."""


class Decider(Protocol):
    """The engine's side: a decision on a request's text."""

    def decide(self, text: str, *, channel: str | None = None, thread: ThreadState = ThreadState()) -> Decision: ...


class Pipeline:
    """Processes inbox events (``handle`` is the inbox's event handler)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        jobs: JobQueue,
        connectors: Mapping[str, Connector],
        engine: Callable[[], Decider],
    ) -> None:
        self._settings, self._db, self._jobs = settings, db, jobs
        self._connectors = connectors
        self._engine = engine
        self._sync = Sync(db, connectors, max_attempts=settings.outbox_max_attempts)

    def handle(self, event: TicketEvent, inbox_event_id: int, *, last_attempt: bool = False) -> None:
        """Process one event. Raises (to be retried by the job runner) when a vendor read fails; on the
        ``last_attempt`` (begun past the retry horizon) a chat thread still unreadable is given up (:func:`unread.read`)."""
        horizon = timedelta(seconds=self._settings.retry_horizon_seconds) if last_attempt else None
        connector = self._connectors.get(event.source.value)
        if connector is None:
            log.warning("interceptor.pipeline.no-connector", extra={"source": event.source.value})
            count("pipeline_events", kind=event.kind.value, outcome="no_connector")
            return
        if isinstance(connector, ResolvesEvents):  # e.g. a Jira comment: its issue's key, its author's role
            event = connector.resolve(event)
        if event.kind is EventKind.CREATED and event.data.get("intake") == "emoji":
            outcome = self._on_emoji(connector, event, inbox_event_id, horizon)
        elif event.kind is EventKind.CREATED and event.message is not None and record_for_mention(self._db, event.ref, inbox_event_id):
            outcome = self._on_comment(connector, event, inbox_event_id)  # a mention in a thread kept in sync
        elif event.kind is EventKind.CREATED:
            outcome = self._on_request(connector, event, inbox_event_id, horizon)
        elif event.kind is EventKind.FEEDBACK:
            outcome = self._on_feedback(connector, event, inbox_event_id)
        elif event.kind is EventKind.COMMENTED:
            outcome = self._on_comment(connector, event, inbox_event_id)
        elif event.kind is EventKind.UPDATED:
            outcome = self._on_status(event, inbox_event_id)
        else:
            outcome = "ignored"
        count("pipeline_events", kind=event.kind.value, outcome=outcome)

    # -- new requests --------------------------------------------------------------------------

    def _on_request(self, connector: Connector, event: TicketEvent, inbox_event_id: int, horizon: timedelta | None) -> str:
        with self._db.session() as s:
            seen = record.first_decision(s, event.ref) is not None
            asker = record.requester_id_of(s, event.ref) if seen else None
        if seen:
            # The requester addressing the bot in a thread it already decided ("@hub that didn't help"): a
            # follow-up like any other of theirs. Anyone else's mention there changes nothing.
            if event.data.get("reply") and event.message is not None and (
                event.message.author.external_id == asker or record_opening(self._db, event.ref)
            ):
                return self._on_comment(connector, event, inbox_event_id)
            return "already_decided"
        ticket, unread_error = unread.read(connector, event, self._route(event.ref), horizon=horizon)
        if ticket.requester.is_self or ticket.requester.is_agent:
            return "ignored_agent_or_self"
        taken = ticket.taken_by_people()  # solved or replied to by people while it waited: theirs
        if taken is not None:
            return taken
        text = intake.request_text(ticket)
        decision = self._engine().decide(text, channel=ticket.ref.channel)
        observe("decision", sum(decision.latency_ms.values()) / 1000.0)
        decision = unread.handed_over(decision, unread_error)
        try:
            with self._db.session() as s:
                decided = record.record_request(s, ticket, decision, inbox_event_id=inbox_event_id, error=unread.describe(unread_error))
                route = self._route(ticket.ref)
                if is_answer(decision):
                    actions = [answer_action(ticket, decision, decided.id, route)]
                else:
                    note = unread.agents_note(unread_error)
                    actions = escalation_actions(ticket, decision.draft, decided.id, route, reopen=False, note=note)
                ids = [enqueue(s, a, max_attempts=self._settings.outbox_max_attempts, inbox_event_id=inbox_event_id) for a in actions]
        except IntegrityError as e:
            # A concurrent delivery of the same request won the race: the database allows one "request"
            # decision per ticket (uq_decisions_one_request), so this one's transaction wrote nothing.
            with self._db.session() as s:
                if record.first_decision(s, event.ref) is not None:
                    log.info("interceptor.pipeline.already-decided", extra={"ref": str(event.ref)})
                    return "already_decided"
            raise Retriable("a concurrent write collided (ticket or person row); retrying") from e
        schedule(self._jobs, ids)
        return unread.THREAD_UNREADABLE if unread_error is not None else decision.verdict.value

    # -- what follows an answer ----------------------------------------------------------------

    def _on_feedback(self, connector: Connector, event: TicketEvent, inbox_event_id: int) -> str:
        feedback = str(event.data.get("feedback", ""))
        if feedback not in ("solved", "not_solved"):
            return "ignored"
        with self._db.session() as s:
            decided = record.first_decision(s, event.ref) is not None  # every decided thread has its request's
            requester = record.requester_id_of(s, event.ref)
        if not decided:
            return self._undecided_feedback(event)
        if event.message is not None and requester is not None and event.message.author.external_id != requester:
            # Anyone in the channel can press the buttons under an answer; only the requester's press is the
            # requester's word (as only their replies in the thread are follow-ups). The buttons stay for them.
            log.info("interceptor.feedback.not-the-requester", extra={"ref": str(event.ref)})
            return "not_requester"
        ack = dict(event.data.get("ack") or {})
        follow: list[NewAction] = []
        if ack:
            follow.append(
                NewAction(
                    key=f"ack:{event.source.value}:{event.delivery_id}",
                    connector=event.source.value,
                    action="acknowledge_feedback",
                    payload={"ref": str(event.ref), "feedback": feedback, **ack},
                    ticket_ref=str(event.ref),
                )
            )
        record_ref = record_of(self._db, event.ref) if feedback == "not_solved" else None
        if record_ref is not None:  # "I still need help" under the ticket's solved message: reopen it, once
            # per solved message however often it is clicked (each solve posts its own message).
            clicked = f"button:{ack['ts']}" if ack.get("ts") else f"feedback:{event.delivery_id}"
            schedule(self._jobs, self._sync.reopen(event.ref, record_ref, clicked, inbox_event_id))
        if feedback == "solved":
            with self._db.session() as s:
                if record.find_ticket(s, event.ref) is not None:
                    record.record_outcome(s, event.ref, "solved", via="button")
                ids = [enqueue(s, a, inbox_event_id=inbox_event_id) for a in follow]
            schedule(self._jobs, ids)
            return "solved"
        return self._fall_back(connector, event.ref, "button", inbox_event_id, follow)

    def _undecided_feedback(self, event: TicketEvent) -> str:
        """A button press naming a request the hub has no decision on. While that request is stored and being
        decided (:func:`core.inbox.request_undecided`) the press waits for the decision, as a reply does. A request
        the hub never had (only a holder of the signing secret can send such a press, with a made-up value) cannot
        get one: the press is dropped at once, with nothing recorded and nothing sent to the vendor, rather than
        acknowledged on a thread the hub never answered.

        Raises:
            Retriable: the request is not decided yet.
        """
        if request_undecided(self._db, event.ref):
            raise Retriable(f"the request of {event.ref} is not decided yet")
        log.info("interceptor.feedback.unknown-request", extra={"ref": str(event.ref)})
        return "unknown_request"

    def _on_comment(self, connector: Connector, event: TicketEvent, inbox_event_id: int) -> str:
        message = event.message
        if message is None or message.visibility is Visibility.INTERNAL or message.author.is_self:
            return "ignored"
        with self._db.session() as s:
            row = record.find_ticket(s, event.ref)
            origin = record.escalated_from(s, event.ref) if row is None else None
            record_ref = TicketRef.parse(row.escalated_to) if row is not None and row.escalated_to else None
        if row is not None and record_ref is None and record_opening(self._db, event.ref):
            # Handed over to a help desk whose ticket is not opened yet (it is down): the message waits for the
            # ticket, to be carried to it, rather than being read as a follow-up on a thread people already have.
            raise Retriable(f"the ticket of record of {event.ref} is not opened yet")
        change = {k: str(event.data[k]) for k in ("edited", "deleted") if event.data.get(k)}
        if change and record_ref is None:
            return "ignored"  # an edit or a deletion is never a request or a follow-up; only a ticket of record is told
        if row is None:
            if origin is None:
                if request_undecided(self._db, event.ref):
                    # The thread's request is stored but not decided yet (another worker decides it right now, from
                    # a read that may predate this reply): the reply waits for the decision instead of being lost.
                    raise Retriable(f"the request of {event.ref} is not decided yet")
                return "unknown_ticket"
            # A comment on the ticket of record opened for an escalated chat thread: agents' public replies
            # go to the thread (and count as the agents' response), judged on a fresh read of the ticket.
            ids, undecided = self._sync.agent_replies(event.ref, origin, inbox_event_id)
            schedule(self._jobs, ids)
            if undecided:  # a visibility look-up failed: this event is retried, and asks again
                raise Retriable(f"{plural(undecided, 'comment')} on {event.ref} whose visibility the help desk could not tell yet")
            return "agent_reply"
        if record_ref is not None:  # a thread kept in sync with its ticket of record
            ids, synced = self._sync.thread_message(connector, event.ref, record_ref, message, inbox_event_id, **change)
            schedule(self._jobs, ids)
            if synced != "requester":
                return synced
        elif not event.data.get("from_requester", True):
            # Someone else in a thread that has no ticket of record (a Slack-only hand-off): after the hand-off,
            # a person's reply there is the people's response to it (Slack has no agent role to tell them by).
            if event.data.get("bot"):
                return "ignored"
            with self._db.session() as s:
                if not record.has_outcome(s, event.ref, "escalated"):
                    return "ignored"
                record.record_outcome(s, event.ref, "agent_reply", author=message.author.external_id, comment=message.external_id)
            return "agent_reply"
        if message.author.is_agent:
            with self._db.session() as s:
                handed_over = record.has_outcome(s, event.ref, "escalated")
                if message.visibility is Visibility.PUBLIC and handed_over:
                    record.record_outcome(s, event.ref, "agent_reply", author=message.author.external_id)
            if message.visibility is Visibility.UNKNOWN and handed_over:
                # a note that may be internal (Jira Server/DC, whose look-up of who sees it failed for now) is no
                # response to the requester yet: the event is retried, and asks again
                raise Retriable(f"comment {message.external_id} on {event.ref}: the help desk could not tell yet who sees it")
            return "agent_reply"
        verdict = classify_followup(message.text)
        if verdict in ("solved", "not_solved", "new_ask") and self._before_decision(event.ref, message):
            # "thanks!" or "it still fails" sent before the hub decided is no word on its answer: the decision
            # read it as part of the request (a request for a person, though, is honoured whenever it was written)
            return "ignored"
        if verdict == "solved":
            with self._db.session() as s:
                answered = record.has_outcome(s, event.ref, "answer_posted") or record.was_answered(s, event.ref)
                if answered:
                    record.record_outcome(s, event.ref, "solved", via="reply")
            return "solved" if answered else "ignored"
        if verdict in ("not_solved", "human"):
            return self._fall_back(connector, event.ref, verdict, inbox_event_id, [])
        if verdict == "new_ask":
            # The hub answers a thread once: a new question, or a problem met trying the answer, after it goes to a
            # person with a draft for the whole conversation (in a Slack thread nobody else would see it). It is no
            # "not solved"; a reply that also says the answer worked ("thanks, that worked! also, ...?") records
            # that. A thread a person has is left to them.
            with self._db.session() as s:
                open_answer = record.was_answered(s, event.ref) and not record.has_outcome(s, event.ref, "escalated")
                if open_answer and confirms_answer(message.text):
                    record.record_outcome(s, event.ref, "solved", via="reply")
            return self._fall_back(connector, event.ref, verdict, inbox_event_id, []) if open_answer else "ignored"
        return "ignored"

    def _before_decision(self, ref: TicketRef, message: Message) -> bool:
        """Whether ``message`` was written before the request of ``ref`` was decided."""
        with self._db.session() as s:
            decided = record.first_decision(s, ref)
            return decided is not None and message.created_at < as_utc(decided.created_at)

    def _on_status(self, event: TicketEvent, inbox_event_id: int) -> str:
        """A ticket of record changed status: a solved or closed one is announced in its thread."""
        with self._db.session() as s:
            origin = record.escalated_from(s, event.ref)
        if origin is None:
            return "unknown_ticket"
        ids = self._sync.status(event.ref, origin, inbox_event_id)
        schedule(self._jobs, ids)
        return "status_posted" if ids else "ignored"

    def _fall_back(self, connector: Connector, ref: TicketRef, why: str, inbox_event_id: int, follow: list[NewAction]) -> str:
        """The requester needs a person: record it and escalate once, with a refreshed draft.

        Once even when two "it did not help" are processed at the same moment: the ``escalated`` outcome is
        claimed in the transaction that writes the escalation (:func:`record.record_outcome`), so the one
        that loses the claim rolls its own escalation back and only records what it was told.
        """
        with self._db.session() as s:
            row = record.find_ticket(s, ref)
            already = row is None or record.has_outcome(s, ref, "escalated")
        if already:
            self._heard(ref, why, inbox_event_id, follow)
            return "already_escalated" if row is not None else "unknown_ticket"
        ticket = connector.fetch(ref)
        decision = self._engine().decide(
            intake.request_text(ticket), channel=ref.channel,
            thread=ThreadState(answered_before=True, fallback_before=_judges_answer(why)),
        )
        try:
            with self._db.session() as s:
                row = record.upsert_ticket(s, ticket)
                if _judges_answer(why) and record.was_answered(s, ref):
                    record.record_outcome(s, ref, "not_solved", via=why)
                decided = record.record_decision(s, row, decision, trigger="follow_up", inbox_event_id=inbox_event_id)
                if not record.record_outcome(s, ref, "escalated", decision_id=decided.id, reason=why):
                    raise _Escalated  # another worker escalated this request meanwhile: nothing of ours is kept
                actions = follow + escalation_actions(ticket, decision.draft, decided.id, self._route(ref), reopen=True)
                ids = [enqueue(s, a, max_attempts=self._settings.outbox_max_attempts, inbox_event_id=inbox_event_id) for a in actions]
        except _Escalated:
            log.info("interceptor.pipeline.already-escalated", extra={"ref": str(ref)})
            self._heard(ref, why, inbox_event_id, follow)
            return "already_escalated"
        schedule(self._jobs, ids)
        return "escalated"

    def _heard(self, ref: TicketRef, why: str, inbox_event_id: int, follow: list[NewAction]) -> None:
        """A "did not help" on a request already with a person: record it (once) and acknowledge it."""
        with self._db.session() as s:
            if _judges_answer(why) and record.find_ticket(s, ref) is not None and record.was_answered(s, ref):
                record.record_outcome(s, ref, "not_solved", via=why)
            ids = [enqueue(s, a, inbox_event_id=inbox_event_id) for a in follow]
        schedule(self._jobs, ids)

    def _on_emoji(self, connector: Connector, event: TicketEvent, inbox_event_id: int, horizon: timedelta | None) -> str:
        """Someone reacted with ``SLACK_TICKET_EMOJI``: the thread goes to a person, once however many react
        (one inbox row per reacted message; one ``escalate:<ref>`` outbox key), escalated by a person. A thread
        the hub cannot read goes from the reacted-to message alone, with the agents' note saying why."""
        # its ref is the thread's root, also when a reply was reacted to
        ticket, unread_error = unread.read(connector, event, self._route(event.ref), horizon=horizon)
        if ticket.requester.is_self:
            return "ignored_agent_or_self"
        ref = ticket.ref
        with self._db.session() as s:
            if record.has_outcome(s, ref, "escalated"):
                return "already_escalated"
            decided_before = record.first_decision(s, ref) is not None
        draft = self._engine().decide(intake.request_text(ticket), channel=ticket.ref.channel).draft
        unreadable = (unread.THREAD_UNREADABLE,) if unread_error is not None else ()
        decision = Decision(Verdict.ESCALATE, 0.0, 0.0, (PERSON_ESCALATED, *unreadable), (), None, draft)
        try:
            with self._db.session() as s:
                row = record.upsert_ticket(s, ticket)
                trigger = "follow_up" if decided_before else "request"
                decided = record.record_decision(s, row, decision, trigger=trigger, inbox_event_id=inbox_event_id)
                reactor = str(event.data.get("reactor") or "")
                error: dict[str, Any] = {"error": unread.describe(unread_error)} if unread_error is not None else {}
                if not record.record_outcome(s, ref, "escalated", decision_id=decided.id, reason=PERSON_ESCALATED, by=reactor, **error):
                    raise _Escalated  # escalated meanwhile (another reaction, "I still need help")
                note = unread.agents_note(unread_error)
                actions = escalation_actions(ticket, draft, decided.id, self._route(ref), reopen=False, note=note)
                ids = [enqueue(s, a, max_attempts=self._settings.outbox_max_attempts, inbox_event_id=inbox_event_id) for a in actions]
        except IntegrityError as e:  # the thread's own request decision landed meanwhile: decide again
            raise Retriable("a concurrent request decision on the same thread; retrying") from e
        except _Escalated:
            return "already_escalated"
        schedule(self._jobs, ids)
        return "escalated"

    def escalate_unposted(self, now: datetime | None = None) -> int:
        """Hand answers not posted within ``HUB_ANSWER_DEADLINE_SECONDS`` to a person (a periodic job), unless
        the vendor, asked about an answer an earlier attempt may have posted, has it (asked again after, until the
        retry horizon and past it hourly, when it could not say), or people took the ticket (:mod:`interceptor.overdue`).

        Returns:
            How many answers were handed over.
        """
        settings = self._settings
        return escalate_unposted_answers(
            self._db, self._jobs, self._route, timedelta(seconds=settings.answer_deadline_seconds), connectors=self._connectors,
            max_attempts=settings.outbox_max_attempts, lease=timedelta(seconds=settings.lease_seconds),
            horizon=timedelta(seconds=settings.retry_horizon_seconds), now=now,
        )

    def _route(self, ref: TicketRef) -> Route:
        name = ref.source.value
        connector = self._connectors[name]
        target = self._settings.policy(ref.channel).escalation_target or self._settings.escalation_target
        if target is not None and not isinstance(self._connectors.get(target), HelpDesk):
            target = None  # e.g. "slack": no ticket anywhere, the triage channel gets the draft
        return Route(connector=name, is_help_desk=isinstance(connector, HelpDesk), escalation_target=target)


def _judges_answer(why: str) -> bool:
    """Whether a hand-off for ``why`` is the requester's word that the answer did not help (``not_solved``,
    ``human``); a new question (``new_ask``) says nothing of the answer."""
    return why != "new_ask"

