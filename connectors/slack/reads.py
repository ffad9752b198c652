"""Reading Slack conversations page by page (``conversations.replies``, ``conversations.history``), and one message
of a thread by itself, for :class:`connectors.slack.connector.SlackConnector`.

NOTE(slack): both methods are Tier 3 (50+ calls a minute per workspace), and since 2025-05-29 commercially
distributed non-Marketplace apps get far less on them (a page of at most 15 messages, one call a minute):
https://docs.slack.dev/apis/web-api/rate-limits. A thread is read whole only where the whole is needed (a request
decided or handed over, a retry looking for its own earlier post); a message of a thread kept in step with its
ticket of record is read by itself (:func:`one`), one call whatever the thread's length.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

from slack_sdk import WebClient

from connectors.slack.errors import call

MAX_THREAD_PAGES = 10


def pages(method: str, func: Callable[..., Any], **args: Any) -> Iterator[Mapping[str, Any]]:
    """The messages of up to :data:`MAX_THREAD_PAGES` pages of 200 of a listing method, in its order.

    Raises:
        NotFound, Retriable, Fatal: a call failed (:func:`connectors.slack.errors.call`).
    """
    cursor: str | None = None
    for _ in range(MAX_THREAD_PAGES):
        page = call(method, func, limit=200, cursor=cursor, **args).data
        yield from page.get("messages") or ()  # type: ignore[union-attr]
        cursor = ((page.get("response_metadata") or {}).get("next_cursor")) or None  # type: ignore[union-attr]
        if not cursor:
            return


def thread(client: WebClient, channel: str, thread_ts: str, **extra: Any) -> Iterator[Mapping[str, Any]]:
    """A thread's messages, parent first, each once: whether a later page of ``conversations.replies`` repeats the
    parent is not documented, and reports differ. A message not of the documented shape (not an object) is yielded
    as it is, for the caller to judge.

    Raises:
        NotFound, Retriable, Fatal: a call failed.
    """
    seen: set[str] = set()
    for message in pages("conversations.replies", client.conversations_replies, channel=channel, ts=thread_ts, **extra):
        ts = str(message.get("ts") or "") if isinstance(message, Mapping) else ""
        if ts not in seen or not ts:
            seen.add(ts)
            yield message


def one(client: WebClient, channel: str, thread_ts: str, ts: str) -> Mapping[str, Any] | None:
    """The message ``ts`` of the thread ``thread_ts`` as Slack lists it now, or ``None`` (deleted, or not in that
    thread). One call: ``conversations.replies`` from ``oldest`` to ``latest`` = ``ts``, both included (Slack lists
    the thread's parent first whatever the bounds).

    Raises:
        NotFound: the thread is gone. Retriable, Fatal: the call failed.
    """
    listed = thread(client, channel, thread_ts, oldest=ts, latest=ts, inclusive=True)
    return next((m for m in listed if isinstance(m, Mapping) and m.get("ts") == ts), None)
