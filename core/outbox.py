"""The outbox: every vendor write is a row, performed at most once per idempotency key, with retries.

Writers call :func:`enqueue` inside their own transaction (so the decision and the write it implies commit
together) and :func:`schedule` after the commit. A performer does the vendor call; ``Retriable`` errors wait
(``Retry-After`` when the vendor gave one, else exponential backoff) and try again, up to the row's
the retry horizon (:mod:`core.work`); then the row is ``failed``, visible to admins and re-queueable, never
silently dropped. Performers receive the attempt number in the payload (``attempt``): from the second attempt
on, a public write first asks its connector whether it already happened (``Connector.already_wrote``), and an
answer on a help desk ticket whether people solved it or replied to it meanwhile (then it is not posted). A row
that failed before (an attempt given back for a 429, a row re-queued by ``hub retry``) counts as a retry.
A worker makes a write only while it still holds the row's claim, checked right before the vendor call
(:func:`perform` says what window remains), and stores its outcome only under that claim (:mod:`core.work`).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import work
from core.db import Database, OutboxAction, insert_ignoring
from core.heartbeat import Heartbeat
from core.jobs import JobQueue
from core.models import utcnow
from core.telemetry import count

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewAction:
    """A vendor write to enqueue.

    Args:
        key: the idempotency key; a second action with the same key is not enqueued (for example
            ``answer:slack:T1:C1:1719.01`` makes a public answer at most once per thread).
        connector: the connector that performs it (``slack``, ``zendesk``, ``jira``).
        action: what to do, in that connector's vocabulary (``post_reply``, ``add_internal_note``, ...).
        payload: JSON-safe arguments for the performer.
        ticket_ref: the ticket it concerns, for lookups and the dashboard.
    """

    key: str
    connector: str
    action: str
    payload: Mapping[str, Any]
    ticket_ref: str | None = None


@dataclass(frozen=True)
class Performed:
    """What a performer returns: a JSON-safe result, writes that must follow this one, and the outcome the row
    is counted under in ``hub_outbox_actions_total``: ``done`` for a write made (or found made by an earlier
    attempt), else why none was needed (``already_solved``, ``already_replied``, ``already_noted``: an answer not
    posted onto a ticket people solved, an agent answered, or an agent took on in a note, while it waited). The
    row is ``done`` either way."""

    result: Mapping[str, Any] = field(default_factory=dict)
    follow_ups: tuple[NewAction, ...] = ()
    outcome: str = "done"


def hand_over_key(ref: object) -> str:
    """The idempotency key of a chat thread's hand-over to people (``ref``: the thread's ``TicketRef``): the row
    that opens its ticket of record (``create_ticket``), or posts it to the triage channel; one per thread. A failed
    one is a hand-over no person has (``handover_failed`` in the figures, :mod:`core.analytics.load`)."""
    return f"escalate:{ref}"


def follow_up_key(closed: object) -> str:
    """The idempotency key of the follow-up ticket opened for the closed ticket of record ``closed`` (one per closed
    ticket: ``connectors.follow_up.on_closed``)."""
    return f"follow-up:{closed}"


def follow_up_write(closed: str, written_as: str, text: str, *, author_id: object = None, internal: bool = False) -> NewAction:
    """The write of one thread message refused by the closed ticket of record ``closed`` onto its follow-up
    (``write_on_follow_up``, key ``follow-up-write:<written_as>``, ``written_as`` the refused write's key): the
    requester's words as their comment (``author_id``: written as them), anyone else's (``internal``) as an internal
    note. One per refused write, however often it is asked for."""
    return NewAction(
        key=f"follow-up-write:{written_as}",
        connector=closed.partition(":")[0],
        action="write_on_follow_up",
        payload={"closed": closed, "written_as": written_as, "text": text, "author_id": author_id, "internal": internal},
        ticket_ref=closed,
    )


def ticket_notice(key: str, origin: Mapping[str, Any], text: str, ref: object, url: str) -> NewAction:
    """The thread ``origin`` (``{"connector", "ref"}``) told that its request goes on in the ticket ``ref`` (``text``
    then the ticket's ``url``), under ``key``; a thread that will not take it (archived, the app removed, gone) is told
    to that ticket's agents instead (``tell_if_refused``, ``undelivered``)."""
    return NewAction(
        key=key,
        connector=origin["connector"],
        action="post_reply",
        payload={"ref": origin["ref"], "text": f"{text} {url}", "kind": "notice", "ticket_url": url,
                 "tell_if_refused": str(ref), "undelivered": "hand_off"},
        ticket_ref=origin["ref"],
    )


Performer = Callable[[Mapping[str, Any]], Performed]
"""Does one vendor write from an action's payload (which also carries the row's ``idempotency_key`` and the
``attempt`` number, 1 for the first). Raises ``Retriable``/``Fatal``/``NotFound``."""

OnDone = Callable[[Session, OutboxAction], None]
"""Bookkeeping after a successful write, in the transaction that marks it done (for example recording
that an answer reached the thread)."""


def enqueue(
    session: Session,
    action: NewAction,
    *,
    max_attempts: int = 8,
    inbox_event_id: int | None = None,
) -> int | None:
    """Add ``action`` to the outbox in the caller's transaction.

    Returns:
        The new row's id, or ``None`` when an action with the same key exists (nothing is added).
    """
    now = utcnow()
    stmt = (
        insert_ignoring(session, OutboxAction, ["idempotency_key"])
        .values(
            idempotency_key=action.key,
            connector=action.connector,
            action=action.action,
            ticket_ref=action.ticket_ref,
            payload=dict(action.payload),
            status="pending",
            attempts=0,
            max_attempts=max_attempts,
            inbox_event_id=inbox_event_id,
            created_at=now,
            next_attempt_at=now,
        )
        .returning(OutboxAction.id)
    )
    row_id = session.execute(stmt).scalar()
    if row_id is None:
        count("outbox_actions", connector=action.connector, outcome="duplicate")
        log.info("outbox.duplicate-key", extra={"key": action.key})
    return row_id


def schedule(jobs: JobQueue, row_ids: Iterable[int | None]) -> None:
    """Hand newly committed outbox rows to the job queue (``None`` ids, from duplicates, are skipped)."""
    for row_id in row_ids:
        if row_id is not None:
            jobs.submit("outbox", row_id)


def perform(
    db: Database,
    jobs: JobQueue,
    row_id: int,
    performers: Mapping[tuple[str, str], Performer],
    now: datetime | None = None,
    on_done: OnDone | None = None,
    *,
    horizon: timedelta = work.HORIZON,
    lease: timedelta = work.LEASE,
    heartbeat: Heartbeat | None = None,
) -> str | None:
    """Claim outbox row ``row_id`` and perform it; on success store the result, run ``on_done`` and
    enqueue the performer's follow-up actions, all in one transaction.

    A worker makes the write only while it holds the row: right before calling the performer it renews its lease
    under its claim's token (:func:`core.work.renew`, one UPDATE), and does not write when another worker has
    claimed the row since (its own lease lapsed while it was paused or could not reach the database); then the
    newer holder makes the write, asking the vendor first. The renewal gives the write a full lease, which the
    heartbeat extends while the performer runs; the success is stored only under the same token
    (:func:`core.work.release`).

    Residual window: the vendor knows nothing of tokens. A worker that renewed, then stalls for longer than a
    lease before its request reaches the vendor (a process paused, or a database unreachable for the heartbeat
    while the performer's look-up and write take over a lease), can write after another worker claimed the row.
    The newer holder asks the vendor first (its attempt is a retry), so a keyed write is doubled only when the
    stale request lands between that look-up and the newer holder's own write; an unkeyed internal note (at least
    once) may be doubled. The stale success is then not stored, and is logged and counted
    (``hub_leases_lost_total{at="done"}``).

    Args:
        db: the database.
        jobs: the queue follow-up actions are handed to.
        row_id: the outbox row.
        performers: ``(connector, action) -> performer``.
        now: the current time (tests pass one).
        on_done: bookkeeping in the transaction that marks the row done.
        horizon: how long ``Retriable`` failures are retried, from the row's creation.
        lease: the claim's lease; ``heartbeat`` renews it while the vendor call runs.
        heartbeat: keeps the lease alive (``None``: the lease must outlast the call).

    Returns:
        The row's new status, or ``None`` when the row was not due, is held by another worker, or was claimed by
        another worker before this one's write or before its outcome was stored.
    """
    token = work.claim(db, OutboxAction, row_id, now, lease)
    if token is None:
        return None
    with db.session() as s:
        row = s.get_one(OutboxAction, row_id)
        connector, action = row.connector, row.action
        # "attempt" > 1 makes a performer ask the vendor first (the claim counted this attempt already).
        tried = max(row.attempts, 2) if may_have_written(row.attempts - 1, row.last_error) else row.attempts
        payload = {**row.payload, "idempotency_key": row.idempotency_key, "attempt": tried}
        attempts, max_attempts, others = row.attempts, row.max_attempts, row.other_failures
        since = row.requeued_at or row.created_at
    performer = performers.get((connector, action))
    done: Performed | None = None
    error: BaseException | None = None
    if performer is None:
        error = LookupError(f"no performer for {connector}.{action} (is the connector configured?)")
    elif not work.renew(db, OutboxAction, [(row_id, token)], now, lease, at="write"):
        return None  # taken over before the write: the newer holder makes it
    else:
        try:
            with heartbeat.hold(OutboxAction, row_id, token) if heartbeat is not None else nullcontext():
                done = performer(payload)
        except Exception as e:  # noqa: BLE001 - the job runner is one of the two broad boundaries
            error = e
            log.warning("outbox.perform.error", extra={"row_id": row_id, "action": f"{connector}.{action}", "error": type(e).__name__})
    outcome = work.outcome_of(error, attempts, max_attempts, now or utcnow(), since=since, horizon=horizon, other_failures=others)
    follow_ids: list[int | None] = []
    if done is not None:
        # The write happened: its result, the bookkeeping, the follow-ups and "done" commit together. A crash
        # before this commit leaves the row running; the retry asks the vendor (``already_wrote``) first.
        with db.session() as s:
            if not work.release(s, OutboxAction, row_id, token, {"locked_until": None}, at="done"):
                return None
            follow_ids = complete(s, s.get_one(OutboxAction, row_id), done, now or utcnow(), on_done)
    elif not work.finish(db, OutboxAction, row_id, token, outcome, now):
        return None
    label = done.outcome if done is not None else "retry" if outcome.status == "pending" else outcome.status
    count("outbox_actions", connector=connector, outcome=label)
    schedule(jobs, follow_ids)
    return outcome.status


def may_have_written(attempts: int, last_error: str | None) -> bool:
    """Whether an earlier attempt of a write may have reached its vendor, so that the vendor must be asked
    (``Connector.already_wrote``) before the write is tried again or given up.

    A count of 0 does not prove that nothing was written: a 429 after a write gives its attempt back, and a
    re-queued row starts from 0; a row that ever failed (``last_error``) may have written whatever its count.

    Args:
        attempts: the attempts counted before the one about to be made (or before giving the write up).
        last_error: the row's last error.

    Returns:
        ``True`` when the vendor must be asked first.
    """
    return attempts > 0 or last_error is not None


def complete(session: Session, row: OutboxAction, done: Performed, now: datetime, on_done: OnDone | None = None) -> list[int | None]:
    """Record that ``row``'s write happened, in the caller's transaction: its result, ``done``, the bookkeeping
    (``on_done``) and the follow-up actions commit together. :func:`perform` ends every successful write here;
    a caller that found the write already made by an earlier attempt (``Connector.already_wrote``) too.

    Args:
        session: the caller's transaction.
        row: the outbox row, held by the caller.
        done: the write's result and follow-ups.
        now: when it finished.
        on_done: the bookkeeping of a successful write.

    Returns:
        The follow-up rows' ids, to :func:`schedule` after the commit.
    """
    row.result = dict(done.result)
    row.status, row.last_error, row.locked_until, row.finished_at = "done", None, None, now
    if on_done is not None:
        on_done(session, row)
    return [enqueue(session, a, max_attempts=row.max_attempts) for a in done.follow_ups]


def result_of(db: Database, key: str) -> Mapping[str, Any] | None:
    """Return the stored result of the done action with idempotency key ``key``, if any."""
    with db.session() as s:
        return s.execute(
            select(OutboxAction.result).where(OutboxAction.idempotency_key == key, OutboxAction.status == "done")
        ).scalar()
