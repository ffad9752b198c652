"""A chat request whose thread the hub cannot read goes to people as its event tells it, rather than to nobody.

A Slack thread that ``conversations.replies`` refuses for good (``missing_scope``: a mention in a private
channel or DM the app may not read; ``not_in_channel``; a revoked token) or whose first message is not of the
documented shape (``UnreadableRecord``) used to fail its inbox row: the person who asked heard nothing, and no
agent saw the request. Now the request is handed over from what the hub does know, the event's own message
(stored with the inbox row): a ticket of record (or the triage post) whose transcript starts with a note that
the thread could not be read and why, and the usual hand-off notice in the thread. It is never answered: a
thread the hub cannot read is one it could not follow either (a reply's "it did not help" reads it again).
An emoji intake (a reaction, which carries no words) on such a thread is handed over the same way, from the
reacted-to message read alone, or, when Slack will not tell even that, from a ticket that names the message
and its link (``connectors.slack.reactions``).

A thread Slack says is gone (``thread_not_found``, ``channel_not_found``: a ``NotFound``, the request deleted
before the hub read it) is skipped as before; passing failures (429, 5xx, timeouts) are retried until the retry
horizon (``HUB_RETRY_HORIZON_SECONDS``), and one that lasts past it is given up the same way (:class:`ReadGivenUp`):
the request goes to people from its event, its inbox row ends done, so ``hub retry`` has nothing to decide again. A
Zendesk or Jira ticket that cannot be read stays in its help desk for agents, and its inbox row fails.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from connectors.base import Connector, ReadsEventAlone
from core.errors import Fatal, Retriable
from core.models import Ticket, TicketEvent
from interceptor.act import Route
from interceptor.types import Decision, Verdict

THREAD_UNREADABLE = "thread_unreadable"  # the reason of such a hand-over, first in its decision's reasons

log = logging.getLogger(__name__)


class ReadGivenUp(Fatal):
    """A thread read that failed passingly (429, 5xx, a timeout) for the whole retry horizon: given up, as a read
    refused for good is. The message says so, the horizon, and the last failure."""

    def __init__(self, horizon: timedelta, last: Retriable) -> None:
        super().__init__(f"the read was given up after failing for the whole retry horizon ({horizon.total_seconds():.0f} s); "
                         f"the last failure: {type(last).__name__}: {last}")


def read(connector: Connector, event: TicketEvent, route: Route, *, horizon: timedelta | None = None) -> tuple[Ticket, Fatal | None]:
    """The request ``event`` is about: its thread as ``connector.fetch`` reads it, or, when that read fails for
    good (or, on the last attempt, passingly: :class:`ReadGivenUp`), as the event alone tells it (:func:`request_alone`).

    Args:
        connector: the event's connector.
        event: a new request (or an emoji intake).
        route: where the request's writes go.
        horizon: the retry horizon, when this attempt is the inbox row's last (it began past the horizon); ``None``
            when a passing failure is still retried.

    Returns:
        The ticket, and the error that kept the thread from being read (``None`` when it was read).

    Raises:
        NotFound, Retriable, Fatal: the read failed, and the event cannot stand in for it (or telling the request
            from the event failed in turn).
    """
    failure: Fatal | Retriable
    error: Fatal
    try:
        return connector.fetch(event.ref), None
    except Fatal as e:  # the thread cannot be read for good: a chat request goes to people as its event tells it
        failure, error = e, e
    except Retriable as e:
        if horizon is None:
            raise
        failure, error = e, ReadGivenUp(horizon, e)  # failing for the whole horizon: given up, as a read refused for good is
    alone = request_alone(connector, event, route, error)
    if alone is None:
        raise failure  # a help desk's ticket: the row fails, listed for the admin
    return alone, error


def request_alone(connector: Connector, event: TicketEvent, route: Route, error: Fatal) -> Ticket | None:
    """The request of ``event`` as the event alone tells it, after ``error`` kept ``connector.fetch`` from reading
    its thread: for a chat thread (no help desk of record holds it for agents) whose connector can tell it
    (:class:`connectors.base.ReadsEventAlone`): the message the event carries, or the one an emoji intake names
    (read alone, or named by its link when it cannot be).

    Args:
        connector: the event's connector.
        event: a new request.
        route: where the request's writes go.
        error: what the read raised.

    Returns:
        The ticket to hand over (logged as ``interceptor.pipeline.thread-unreadable``), or ``None``: the read's
        failure stands (a help desk's ticket; an event that names no message).

    Raises:
        Retriable: a look-up that reads or completes the ticket (the message an emoji intake names, the requester's
            name and email, the link) failed passingly. NotFound: the message an emoji intake names is gone.
    """
    if route.is_help_desk or not isinstance(connector, ReadsEventAlone):
        return None
    ticket = connector.ticket_from_event(event)
    if ticket is not None:
        log.warning("interceptor.pipeline.thread-unreadable", extra={"ref": str(event.ref), "error": describe(error)})
    return ticket


def handed_over(decision: Decision, error: Fatal | None) -> Decision:
    """``decision`` on a request whose thread could not be read (``error``; ``None``: it was read, and ``decision``
    stands), as a hand-over: ESCALATE with ``thread_unreadable`` first (the engine's reasons after it, so that a
    request no article answers is still a content gap), no answer; the agents' draft stays."""
    if error is None:
        return decision
    return replace(decision, verdict=Verdict.ESCALATE, reasons=(THREAD_UNREADABLE, *decision.reasons), answer=None)


def agents_note(error: Fatal | None) -> str:
    """The note the agents read first: the thread could not be read, and why (``""`` when it was read)."""
    if error is None:
        return ""
    return (f"Note from the help-desk hub: it could not read this conversation's thread ({describe(error)}), so only "
            "the message that asked is shown here; read the rest in the original conversation.")


def describe(error: Fatal | None) -> str | None:
    """The error as the admin (the log line, the ``escalated`` outcome's ``error``) and the agents see it: its
    class and message, no vendor payload (``None`` when the thread was read)."""
    return f"{type(error).__name__}: {error}"[:300] if error is not None else None
