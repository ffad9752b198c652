"""Reading Slack conversations page by page (``conversations.replies``, ``conversations.history``), and one message
of a thread by itself, for :class:`connectors.slack.connector.SlackConnector`.

NOTE(slack): both methods are Tier 3 (50+ calls a minute per workspace), and since 2025-05-29 commercially
distributed non-Marketplace apps get far less on them (a page of at most 15 messages, one call a minute):
https://docs.slack.dev/apis/web-api/rate-limits, https://docs.slack.dev/reference/methods/conversations.replies.
A thread is read whole only where the whole is needed (a request decided or handed over, a retry looking for its own
earlier post), to its end, within a bound on calls and time (:class:`Listing`); what is kept of it is its first
message and its latest (:func:`excerpt`), so that a thread of thousands of messages costs no more memory than one of
two hundred. A message of a thread kept in step with its ticket of record is read by itself (:func:`one`), one call
whatever the thread's length. A 429 on any page is ``Retriable`` (:func:`connectors.slack.errors.call`), as for
every other call: the read is made again after ``Retry-After``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from slack_sdk import WebClient

from connectors.slack.errors import call
from core.telemetry import count

log = logging.getLogger(__name__)

PAGE_SIZE = 200  # NOTE(slack): "We recommend no more than 200 results at a time" (Slack may send fewer: 15, above)
MAX_CALLS = 50  # the most calls one read of a thread makes: 10,000 messages at 200 a page, 750 at 15
MAX_SECONDS = 60.0  # and the longest it goes on calling (checked between pages)
MAX_HISTORY_CALLS = 10  # the triage channel's history searched for a post of the hub's (SlackConnector.already_wrote)
LATEST_KEPT = 200  # the latest messages of a thread an excerpt keeps after its first


class Listing:
    """The messages of a listing method (``conversations.replies``, ``conversations.history``) in its order, page
    after page to its end, or until ``max_calls`` calls were made or ``max_seconds`` passed (then :attr:`cut_short`
    says so, and the read is logged as ``slack.read.cut-short`` and counted).

    Args:
        method: the Web API method, for errors and logs.
        func: the ``WebClient`` method that calls it.
        max_calls: the most calls to make.
        max_seconds: the longest to go on calling, by ``clock``.
        clock: seconds, monotonic.
        args: the method's arguments (``channel``, ``ts``, ...), besides ``limit`` and ``cursor``.
    """

    def __init__(self, method: str, func: Callable[..., Any], *, max_calls: int = MAX_CALLS, max_seconds: float = MAX_SECONDS,
                 clock: Callable[[], float] = time.monotonic, **args: Any) -> None:
        self.method, self._func, self._args = method, func, args
        self._max_calls, self._max_seconds, self._clock = max_calls, max_seconds, clock
        self.calls = 0
        self.cut_short: str | None = None  # why the read stopped before the listing's end (``None``: it did not)

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        """The messages, page after page.

        Raises:
            NotFound, Retriable, Fatal: a call failed (:func:`connectors.slack.errors.call`).
        """
        cursor: str | None = None
        deadline = self._clock() + self._max_seconds
        while True:
            page = call(self.method, self._func, limit=PAGE_SIZE, cursor=cursor, **self._args).data
            self.calls += 1
            yield from page.get("messages") or ()  # type: ignore[union-attr]
            cursor = ((page.get("response_metadata") or {}).get("next_cursor")) or None  # type: ignore[union-attr]
            if not cursor:
                return
            if self.calls >= self._max_calls or self._clock() >= deadline:
                self.cut_short = f"{self.calls} calls" if self.calls >= self._max_calls else f"{self._max_seconds:g} seconds"
                log.warning("slack.read.cut-short", extra={"method": self.method, "calls": self.calls, "bound": self.cut_short})
                count("slack_reads_cut_short", method=self.method)
                return


@dataclass(frozen=True)
class Excerpt:
    """What the hub keeps of a thread (:func:`excerpt`).

    Attributes:
        messages: the thread's first message, then the latest ones read (at most :data:`LATEST_KEPT`), in order.
        left_out: how many messages read between the first and the latest kept were not kept.
        unread: 0 when the thread was read to its end; else how many later messages were not read, as the parent's
            ``reply_count`` tells (``None`` when it does not).
        cut_short: why the read stopped before the thread's end (``None``: it did not).
    """

    messages: list[Any]
    left_out: int = 0
    unread: int | None = 0
    cut_short: str | None = None


def replies(client: WebClient, channel: str, thread_ts: str, **extra: Any) -> Listing:
    """A thread as ``conversations.replies`` lists it, parent first (a :class:`Listing`; ``extra``: its arguments)."""
    return Listing("conversations.replies", client.conversations_replies, channel=channel, ts=thread_ts, **extra)


def history(client: WebClient, channel: str, **extra: Any) -> Listing:
    """A channel's top-level messages as ``conversations.history`` lists them (newest first), for at most
    :data:`MAX_HISTORY_CALLS` calls."""
    return Listing("conversations.history", client.conversations_history, max_calls=MAX_HISTORY_CALLS, channel=channel, **extra)


def once(listing: Listing) -> Iterator[Any]:
    """A thread's messages, parent first, each once: whether a later page of ``conversations.replies`` repeats the
    parent is not documented, and reports differ. A message not of the documented shape (not an object) is yielded
    as it is, for the caller to judge. The ts remembered are bounded as the listing is (by its calls).

    Raises:
        NotFound, Retriable, Fatal: a call failed.
    """
    seen: set[str] = set()
    for message in listing:
        ts = str(message.get("ts") or "") if isinstance(message, Mapping) else ""
        if ts not in seen or not ts:
            seen.add(ts)
            yield message


def thread(client: WebClient, channel: str, thread_ts: str, **extra: Any) -> Iterator[Any]:
    """A thread's messages, parent first, each once (:func:`once`), to its end or the bound of :class:`Listing`.

    Raises:
        NotFound, Retriable, Fatal: a call failed.
    """
    return once(replies(client, channel, thread_ts, **extra))


def excerpt(client: WebClient, channel: str, thread_ts: str, keep: int = LATEST_KEPT, **bounds: Any) -> Excerpt:
    """A thread read to its end (or the bound of :class:`Listing`; ``bounds``: its ``max_calls``, ``max_seconds``,
    ``clock``), keeping its first message and its latest ``keep``: memory bounded whatever the thread's length.

    Raises:
        NotFound, Retriable, Fatal: a call failed.
    """
    listing = replies(client, channel, thread_ts, **bounds)
    first: list[Any] = []
    latest: deque[Any] = deque(maxlen=keep)
    read = 0
    for message in once(listing):
        read += 1
        (latest if first else first).append(message)
    if not first:
        return Excerpt([])
    unread: int | None = 0
    if listing.cut_short:
        counted = first[0].get("reply_count") if isinstance(first[0], Mapping) else None
        unread = counted + 1 - read if isinstance(counted, int) and not isinstance(counted, bool) and counted + 1 > read else None
    return Excerpt([*first, *latest], left_out=read - 1 - len(latest), unread=unread, cut_short=listing.cut_short)


def one(client: WebClient, channel: str, thread_ts: str, ts: str) -> Mapping[str, Any] | None:
    """The message ``ts`` of the thread ``thread_ts`` as Slack lists it now, or ``None`` (deleted, or not in that
    thread). One call: ``conversations.replies`` from ``oldest`` to ``latest`` = ``ts``, both included (Slack lists
    the thread's parent first whatever the bounds).

    Raises:
        NotFound: the thread is gone. Retriable, Fatal: the call failed.
    """
    listed = once(Listing("conversations.replies", client.conversations_replies, max_calls=1,
                          channel=channel, ts=thread_ts, oldest=ts, latest=ts, inclusive=True))
    return next((m for m in listed if isinstance(m, Mapping) and m.get("ts") == ts), None)
