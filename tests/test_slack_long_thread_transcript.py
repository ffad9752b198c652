"""A long Slack thread handed to people carries its first message and its latest (``connectors.slack.reads.excerpt``,
``interceptor.act.transcript``). Slack serves ``conversations.replies`` at most 15 messages a page to commercially
distributed non-Marketplace apps since 2025-05-29 (https://docs.slack.dev/reference/methods/conversations.replies),
and the read used to stop at 10 pages: a thread of 400 messages was handed over with its first 150, and what the
requester said last never reached the agent. Now the read goes to the thread's end, keeping the first message and a
bounded window of the latest, within a bound on calls that, when hit, the transcript states.

Through the real app on SQLite and PostgreSQL: Slack is the loopback stub (15 a page), Zendesk and Jira ``responses``
at the transport; the assertions are on the ticket of record's description as sent.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from slack_sdk import WebClient

from connectors.slack import reads
from core.errors import Retriable
from tests.slack_stub import SlackStub
from tests.sync_world import OTHER, REFUND, World, jira_world, running, zendesk_world
from tests.sync_world import stub  # noqa: F401 - a fixture
from tests.test_slack_flow import ROOT_TS, USER

FIRST = int(ROOT_TS.split(".")[0]) + 1
LAST = "Update: it happened again this morning, order 5521"


def replies(n: int) -> tuple[dict[str, Any], ...]:
    """``n`` replies by Bob and Ada in turn, the last one Ada's (the requester's): :data:`LAST`."""
    listed = [{"type": "message", "user": (OTHER, USER)[i % 2], "text": f"note {i}", "ts": f"{FIRST + i}.000100", "thread_ts": ROOT_TS}
              for i in range(n)]
    listed[-1].update(user=USER, text=LAST)
    return tuple(listed)


def zendesk_description(world: World) -> str:
    [body] = [json.loads(c.request.body)["ticket"]["comment"]["body"] for c in world.api.calls
              if c.request.method == "POST" and c.request.url.endswith("/tickets.json")]
    return str(body)


def jira_description(world: World) -> str:
    """The issue's description as sent, after its "Requested by" line, read as plain text (Jira wiki markup escapes
    square brackets)."""
    [body] = [json.loads(c.request.body)["fields"]["description"] for c in world.api.calls
              if c.request.method == "POST" and c.request.url.endswith("/rest/api/2/issue")]
    requested_by, _, text = str(body).partition("\n\n")
    assert requested_by == "Requested by Ada Lovelace (ada@example.com)"
    return text.replace("\\[", "[").replace("\\]", "]")


DESKS = [pytest.param(zendesk_world, zendesk_description, id="zendesk"), pytest.param(jira_world, jira_description, id="jira")]


@pytest.mark.parametrize("make,description", DESKS)
def test_a_400_message_thread_is_handed_over_with_its_first_and_latest_messages(
    database_url: str, stub: SlackStub, make: Callable[..., World], description: Callable[[World], str]
) -> None:
    assert stub.replies_page_cap == 15
    with running(make, database_url, stub, listed=replies(400)) as world:
        text = description(world)
        reads_made = stub.calls_to("conversations.replies")
    assert text.startswith(f"Ada Lovelace: {REFUND}\n"), "the request first"
    assert f"Ada Lovelace: {LAST}" in text, "what the requester said last"
    kept = reads.LATEST_KEPT
    assert f"\n[{400 - kept} earlier messages not shown: see the original conversation]\n" in text
    assert "note 199" not in text and "note 200" in text and "note 398" in text, "the latest 200, in order"
    assert text.index("note 200") < text.index("note 398") < text.index(LAST)
    assert "too long to read to its end" not in text
    # One read of the thread, page after page to its end: the parent and 14 replies, then 15 a page (401 messages).
    assert [c.args.get("cursor") for c in reads_made] == [None, *(str(14 + 15 * i) for i in range(26))]


def test_a_thread_longer_than_the_read_may_go_says_what_was_not_read(database_url: str, stub: SlackStub) -> None:
    calls = reads.MAX_CALLS
    read = 15 * calls  # the parent and 749 replies: 50 pages of 15
    with running(zendesk_world, database_url, stub, listed=replies(1_000)) as world:
        text = zendesk_description(world)
        assert len(stub.calls_to("conversations.replies")) == calls
    assert text.startswith(f"Ada Lovelace: {REFUND}\n") and LAST not in text
    assert f"\n[{read - 1 - reads.LATEST_KEPT} earlier messages not shown: see the original conversation]\n" in text
    assert f"note {read - 2}\n" in text, "the latest read"
    unread = 1_000 + 1 - read  # the parent's reply_count says how many the thread has
    assert f"\n[The thread was too long to read to its end: {unread} later messages are not shown: see the original conversation]\n" in text


def seed_hundred(stub: SlackStub) -> WebClient:
    """A thread of 100 replies in channel C1, and a client of the stub."""
    stub.seed_thread("C1", {"type": "message", "user": USER, "text": "first", "ts": "1.000100"},
                     *({"type": "message", "user": OTHER, "text": f"r{i}", "ts": f"{2 + i}.000100", "thread_ts": "1.000100"} for i in range(100)))
    return WebClient(base_url=stub.url, token="xoxb-test")


def test_a_429_on_a_later_page_is_retriable_after_slacks_retry_after(stub: SlackStub) -> None:
    listed = reads.thread(seed_hundred(stub), "C1", "1.000100")
    assert [next(listed)["text"] for _ in range(20)][-1] == "r18"  # two pages read
    stub.fail("conversations.replies", 429, headers={"Retry-After": "30"})
    with pytest.raises(Retriable) as raised:
        list(listed)
    assert (raised.value.retry_after, raised.value.rate_limited) == (30.0, True)
    assert len(stub.calls_to("conversations.replies")) == 3, "no call after the 429"


def test_a_read_stops_when_its_time_is_up_and_says_so(stub: SlackStub) -> None:
    client = seed_hundred(stub)
    ticks = iter(range(0, 10_000, 40))  # 40 seconds a page
    read = reads.excerpt(client, "C1", "1.000100", keep=5,
                         max_seconds=reads.MAX_SECONDS, clock=lambda: float(next(ticks)))
    assert len(stub.calls_to("conversations.replies")) == 2 and read.cut_short == "60 seconds"
    assert [m["text"] for m in read.messages] == ["first", "r24", "r25", "r26", "r27", "r28"]
    assert (read.left_out, read.unread) == (24, 100 + 1 - 30)


def test_a_retry_finds_its_own_post_at_the_end_of_a_long_thread(sqlite_url: str, stub: SlackStub) -> None:
    # Before a retry, the outbox asks whether the post was made (an answer lost on the way back): a look that
    # stopped at 150 messages missed it in a longer thread, and the reply was posted twice.
    from config import load_settings
    from connectors.slack.connector import SlackConnector
    from core.models import TicketRef
    from tests.slack_stub import slack_settings

    settings = load_settings(slack_settings(sqlite_url, stub))
    assert settings.slack is not None
    connector = SlackConnector(settings.slack, settings.policy)
    seed_hundred(stub)
    stub.threads[("C1", "1.000100")].extend(
        {"type": "message", "user": OTHER, "text": f"s{i}", "ts": f"{200 + i}.000100", "thread_ts": "1.000100"} for i in range(200))
    ref = TicketRef.parse("slack:T1:C1:1.000100")
    posted = connector.post_reply(ref, "Here is how", idempotency_key="answer:slack:T1:C1:1.000100", kind="notice")
    before = len(stub.calls_to("conversations.replies"))
    assert connector.already_wrote(ref, "answer:slack:T1:C1:1.000100") == posted
    assert len(stub.calls_to("conversations.replies")) - before == 21  # 302 messages: 14, then 15 a page
