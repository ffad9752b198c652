"""Slack answering the way its documentation allows, broader than our captures: ``conversations.replies`` one
message a page with the parent repeated on each, ``has_more`` true with an empty ``next_cursor``, unknown extra
fields, users without ``profile.email`` or without ``profile``, ``users.info`` answering HTTP 200 with
``"ok": false``, 429 with ``Retry-After`` and 503. The thread is read with the right requester and messages,
the inbox row ends ``done``, and exactly one reply is posted in the thread.

Served by the loopback stub (tests/slack_stub.py); each unusual shape cites the documentation it is allowed by."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from config import load_settings
from connectors.slack import SlackConnector
from core.db import InboxEvent
from core.errors import Retriable
from core.models import Source, TicketRef
from tests.slack_stub import SlackStub, slack_settings
from tests.test_slack_flow import CHANNEL, TEAM, USER, ask, create_app, make_hub, rows

QUESTION, TS = "How do I reset my password?", "1800000900.000100"
REPLY_TS = "1800000901.000100"


class Stub(SlackStub):
    """The stub, with ``has_more`` true on the last page and an empty ``next_cursor`` when ``empty_cursor``,
    and unknown fields on every message when ``extra_fields``."""

    empty_cursor = False
    extra_fields = False

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        page = super()._conversations_replies(args)
        if self.empty_cursor and page.get("ok") and not page["response_metadata"]["next_cursor"]:
            page["has_more"] = True  # NOTE(slack): the cursor, not has_more, ends the listing (see below)
        if self.extra_fields and page.get("ok"):
            page["messages"] = [{**m, "brand_new": {"x": None}, "reactions": [], "blocks": m.get("blocks") or []} for m in page["messages"]]
            page["brand_new_top"] = None
        return page


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub().start()
    yield server
    server.stop()


def _repeats_parent_one_a_page(stub: Stub) -> None:
    # NOTE(slack): "Paginate through collections of data by setting the cursor parameter to a next_cursor
    # attribute"; the parent may be listed again on every page. https://docs.slack.dev/reference/methods/conversations.replies
    stub.replies_page_cap, stub.repeat_parent = 2, True


def _has_more_with_an_empty_cursor(stub: Stub) -> None:
    # NOTE(slack): "An empty, null, or non-existent next_cursor in the response indicates no further results."
    # https://docs.slack.dev/apis/web-api/pagination/
    stub.replies_page_cap, stub.empty_cursor = 2, True


def _unknown_extra_fields(stub: Stub) -> None:
    stub.extra_fields = True  # NOTE(slack): Slack adds fields to message objects over time


def _user_without_email(stub: Stub) -> None:
    # NOTE(slack): profile.email is only there with the users:read.email scope.
    # https://docs.slack.dev/reference/methods/users.info
    stub.users[USER] = {"id": USER, "name": "ada", "real_name": "Ada Lovelace", "profile": {"real_name": "Ada Lovelace"}}


def _user_without_profile(stub: Stub) -> None:
    stub.users[USER] = {"id": USER, "name": "ada", "deleted": False, "is_bot": False}


def _user_not_found(stub: Stub) -> None:
    # NOTE(slack): users.info answers HTTP 200 {"ok": false, "error": "user_not_found"}. Same page, "Errors".
    stub.users.pop(USER, None)


Shape = Callable[[Stub], None]
SHAPES: dict[str, Shape] = {f.__name__.lstrip("_"): f for f in (
    _repeats_parent_one_a_page, _has_more_with_an_empty_cursor, _unknown_extra_fields, _user_without_email,
    _user_without_profile, _user_not_found)}


def seed(stub: Stub, shape: Shape) -> None:
    stub.users[USER] = {"id": USER, "name": "ada", "real_name": "Ada Lovelace", "profile": {"email": "ada@example.com"}}
    shape(stub)


def asked(sqlite_url: str, stub: Stub) -> tuple[Any, InboxEvent]:
    """A hub asked QUESTION in a new thread, its jobs drained: the hub (close it) and the request's inbox row."""
    hub = make_hub(sqlite_url, stub)
    ask(create_app(hub=hub).test_client(), stub, QUESTION, TS)
    hub.jobs.drain()  # type: ignore[attr-defined]
    [row] = [r for r in rows(hub, InboxEvent) if TS in r.ticket_ref]
    return hub, row


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_slack_thread_of_a_documented_unusual_shape_is_answered_once(sqlite_url: str, stub: Stub, shape: Shape) -> None:
    seed(stub, shape)
    hub, row = asked(sqlite_url, stub)
    try:
        assert (row.status, row.last_error) == ("done", None)
        answers = [c for c in stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == TS]
        assert len(answers) == 1 and "Forgot password" in str(answers[0].args)
    finally:
        hub.close()


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_slack_thread_of_a_documented_unusual_shape_reads_requester_and_messages(sqlite_url: str, stub: Stub, shape: Shape) -> None:
    seed(stub, shape)
    stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": QUESTION, "ts": TS},
                     *({"type": "message", "user": USER, "text": f"more {i}", "ts": f"18000009{i:02d}.000100", "thread_ts": TS}
                       for i in range(1, 5)))
    settings = load_settings(slack_settings(sqlite_url, stub))
    connector = SlackConnector(settings.slack, settings.policy)  # type: ignore[arg-type]
    ticket = connector.fetch(TicketRef(Source.SLACK, f"{TEAM}:{CHANNEL}:{TS}"))
    assert ticket.requester.external_id == USER and ticket.text == QUESTION
    assert [m.text for m in ticket.messages] == [QUESTION, "more 1", "more 2", "more 3", "more 4"]


def test_a_rate_limited_users_info_leaves_the_request_pending_unanswered(sqlite_url: str, stub: Stub) -> None:
    # NOTE(slack): 429 with Retry-After (seconds): the row waits for its retry; nothing is posted, nothing lost.
    seed(stub, _user_without_email)
    stub.fail("users.info", status=429, error="ratelimited", headers={"Retry-After": "30"})
    hub, row = asked(sqlite_url, stub)
    try:
        assert row.status == "pending" and "rate limited" in row.last_error
        assert not [c for c in stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == TS]
    finally:
        hub.close()


@pytest.mark.parametrize("status,error,headers,wait", [
    (429, "ratelimited", {"Retry-After": "30"}, 30.0),  # NOTE(slack): 429 with Retry-After seconds. platform-apis.md 1.8
    (200, "ratelimited", {}, None),  # the same error code on HTTP 200 {"ok": false}
    (503, "service_unavailable", {}, None),
    (200, "internal_error", {}, None),  # https://docs.slack.dev/reference/methods/chat.postMessage#errors
])
def test_slack_rate_limits_and_outages_are_retriable(sqlite_url: str, stub: Stub, status: int, error: str,
                                                    headers: dict[str, str], wait: float | None) -> None:
    stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": QUESTION, "ts": TS})
    settings = load_settings(slack_settings(sqlite_url, stub))
    connector = SlackConnector(settings.slack, settings.policy)  # type: ignore[arg-type]
    stub.fail("conversations.replies", status=status, error=error, headers=headers)
    with pytest.raises(Retriable) as raised:
        connector.fetch(TicketRef(Source.SLACK, f"{TEAM}:{CHANNEL}:{TS}"))
    assert raised.value.retry_after == wait
    assert len(stub.calls_to("conversations.replies")) == 1, "the outbox waits, not the client"
