"""Slack writes and reads through outbox rows and the stub Web API: exact thread_ts, text and blocks; at most
one answer per thread; 429 and other errors mapped onto the outbox's retry rules."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, Iterator

import pytest
from sqlalchemy import update

from app import Hub, build_hub
from config import load_settings
from connectors.slack import SlackConnector
from core import outbox
from core.db import OutboxAction
from core.errors import NotFound, Retriable
from core.models import TicketRef, as_utc, utcnow
from tests.slack_stub import BOT_TOKEN, BOT_USER, SlackStub, fixture, shown, slack_settings

ROOT = fixture("event_message_channel")
TEAM, CHANNEL, ROOT_TS = ROOT["team_id"], ROOT["event"]["channel"], ROOT["event"]["ts"]
REQUESTER = ROOT["event"]["user"]
REF = f"slack:{TEAM}:{CHANNEL}:{ROOT_TS}"
CITATIONS = [
    {"title": "Reset your password", "url": "https://kb.example.com/reset"},
    {"title": "Two-factor & you", "url": "https://kb.example.com/2fa"},
]
ANSWER_BLOCKS = [
    {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "Open Settings > Security and press <Reset>."}]}]},
    {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "*Sources:* <https://kb.example.com/reset|Reset your password> · <https://kb.example.com/2fa|Two-factor &amp; you>",
            }
        ],
    },
    {
        "type": "actions",
        "block_id": "hub_feedback",
        "elements": [
            {"type": "button", "action_id": "hub_feedback_solved", "text": {"type": "plain_text", "text": "This solved it"}, "value": REF, "style": "primary"},
            {"type": "button", "action_id": "hub_feedback_not_solved", "text": {"type": "plain_text", "text": "I still need help"}, "value": REF},
        ],
    },
]


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    server = SlackStub().start()
    server.seed_thread(CHANNEL, {"type": "message", "user": REQUESTER, "text": ROOT["event"]["text"], "ts": ROOT_TS})
    server.users[REQUESTER] = {
        "id": REQUESTER,
        "name": "ada",
        "real_name": "Ada Lovelace",
        "profile": {"real_name": "Ada Lovelace", "display_name": "ada", "email": "Ada@Example.com"},
    }
    yield server
    server.stop()


@pytest.fixture
def hub(sqlite_url: str, stub: SlackStub) -> Iterator[Hub]:
    built = build_hub(load_settings(slack_settings(sqlite_url, stub)))
    yield built
    built.close()


def enqueue(hub: Hub, key: str, action: str, payload: dict[str, Any]) -> int:
    with hub.db.session() as s:
        row_id = outbox.enqueue(s, outbox.NewAction(key, "slack", action, payload, ticket_ref=payload.get("ref")))
    assert row_id is not None
    return row_id


def perform(hub: Hub, row_id: int, now: Any = None) -> str | None:
    return outbox.perform(hub.db, hub.jobs, row_id, hub.performers, now=now)


def row(hub: Hub, row_id: int) -> OutboxAction:
    with hub.db.session() as s:
        found = s.get_one(OutboxAction, row_id)
        s.expunge(found)
        return found


def answer_payload(**extra: Any) -> dict[str, Any]:
    return {"ref": REF, "text": "Open Settings > Security and press <Reset>.", "citations": CITATIONS, "kind": "answer", "decision_id": 7, **extra}


def test_answer_is_posted_in_the_thread_with_sources_and_buttons(hub: Hub, stub: SlackStub) -> None:
    row_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload())
    outbox.schedule(hub.jobs, [row_id])
    hub.jobs.drain()
    assert row(hub, row_id).status == "done"
    [post] = stub.calls_to("chat.postMessage")
    assert post.authorization == f"Bearer {BOT_TOKEN}"
    assert post.args["channel"] == CHANNEL and post.args["thread_ts"] == ROOT_TS
    assert post.args["text"] == "Open Settings &gt; Security and press &lt;Reset&gt;."
    assert post.args["blocks"] == ANSWER_BLOCKS
    assert post.args["metadata"] == {"event_type": "hub_reply", "event_payload": {"key": f"answer:{REF}"}}
    assert row(hub, row_id).result == {"external_id": stub.threads[(CHANNEL, ROOT_TS)][-1]["ts"], "url": None}


def test_answer_retried_after_a_post_that_was_not_recorded_is_not_posted_again(hub: Hub, stub: SlackStub) -> None:
    row_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload())
    assert perform(hub, row_id) == "done"
    first = row(hub, row_id).result
    # The worker died after Slack accepted the post, before the row was marked done: the row is handed out again.
    with hub.db.session() as s:
        s.execute(update(OutboxAction).where(OutboxAction.id == row_id).values(status="pending", next_attempt_at=utcnow()))
    assert perform(hub, row_id) == "done"
    assert len(stub.calls_to("chat.postMessage")) == 1
    assert row(hub, row_id).result == first
    assert len(stub.calls_to("auth.test")) == 1  # the identity is resolved once and cached


def _chatter(stub: SlackStub, n: int) -> list[str]:
    """Append ``n`` replies by a teammate to the thread; return their ts."""
    thread = stub.threads[(CHANNEL, ROOT_TS)]
    stamps = [f"17192095{10 + i:02d}.000001" for i in range(n)]
    thread.extend({"type": "message", "user": "U0HELPER1", "text": f"reply {i}", "ts": ts, "thread_ts": ROOT_TS}
                  for i, ts in enumerate(stamps))
    return stamps


def test_a_retried_answer_is_found_on_a_later_page_of_a_long_thread(hub: Hub, stub: SlackStub) -> None:
    _chatter(stub, 40)  # three pages of 15 before the answer
    row_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload())
    assert perform(hub, row_id) == "done"
    with hub.db.session() as s:
        s.execute(update(OutboxAction).where(OutboxAction.id == row_id).values(status="pending", next_attempt_at=utcnow()))
    assert perform(hub, row_id) == "done"
    assert len(stub.calls_to("chat.postMessage")) == 1
    pages = [c.args.get("cursor") for c in stub.calls_to("conversations.replies")]
    assert len(pages) >= 3 and pages[-1] not in (None, "")  # the answer was on a later page, and was found there


@pytest.mark.parametrize("repeat_parent", [False, True])
def test_fetch_reads_a_long_thread_page_by_page_each_message_once(hub: Hub, stub: SlackStub, repeat_parent: bool) -> None:
    stub.repeat_parent = repeat_parent
    stamps = _chatter(stub, 40)
    ticket = hub.connectors["slack"].fetch(TicketRef.parse(REF))
    assert [m.external_id.rsplit(":", 1)[-1] for m in ticket.messages] == [ROOT_TS, *stamps]
    assert [m.text for m in ticket.messages[1:]] == [f"reply {i}" for i in range(40)]
    assert len(stub.calls_to("conversations.replies")) >= 3


def test_concurrent_workers_post_one_answer(hub: Hub, stub: SlackStub) -> None:
    row_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload())
    barrier = threading.Barrier(3)
    results: list[str | None] = []

    def work() -> None:
        barrier.wait()
        results.append(perform(hub, row_id))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("done") == 1 and results.count(None) == 2  # one worker claimed the row
    assert len(stub.calls_to("chat.postMessage")) == 1


def test_rate_limited_post_waits_retry_after_then_succeeds(hub: Hub, stub: SlackStub) -> None:
    row_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload())
    stub.fail("chat.postMessage", 429, "ratelimited", headers={"Retry-After": "7"})
    now = utcnow()
    assert perform(hub, row_id, now=now) == "pending"
    pending = row(hub, row_id)
    assert as_utc(pending.next_attempt_at) == now + timedelta(seconds=7)
    assert "rate limited" in (pending.last_error or "")
    assert perform(hub, row_id, now=now + timedelta(seconds=3)) is None  # not due yet
    assert perform(hub, row_id, now=now + timedelta(seconds=8)) == "done"
    assert len(stub.calls_to("chat.postMessage")) == 2
    assert len(stub.threads[(CHANNEL, ROOT_TS)]) == 2  # root + one answer


@pytest.mark.parametrize(
    ("api", "status", "error", "outcome"),
    [
        ("chat.postMessage", 503, "service_unavailable", "pending"),
        ("chat.postMessage", 200, "not_in_channel", "failed"),
        ("chat.postMessage", 200, "invalid_auth", "failed"),
        ("conversations.replies", 200, "channel_not_found", "skipped"),
        ("conversations.replies", 200, "thread_not_found", "skipped"),
        ("auth.test", 200, "invalid_auth", "failed"),
    ],
)
def test_slack_errors_map_to_retry_skip_or_fail(hub: Hub, stub: SlackStub, api: str, status: int, error: str, outcome: str) -> None:
    row_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload())
    if api != "chat.postMessage":  # the thread is read (and auth.test called) only by a retry's check
        with hub.db.session() as s:
            s.execute(update(OutboxAction).where(OutboxAction.id == row_id).values(attempts=1))
    stub.fail(api, status, error)
    assert perform(hub, row_id) == outcome
    posted = stub.calls_to("chat.postMessage")
    assert len(posted) == (1 if api == "chat.postMessage" else 0)  # failed before posting, or the post itself failed
    assert len(stub.threads[(CHANNEL, ROOT_TS)]) == 1  # nothing reached the thread


def test_unreachable_slack_is_retriable(sqlite_url: str, stub: SlackStub) -> None:
    settings = load_settings(slack_settings(sqlite_url, stub, SLACK_API_URL="http://127.0.0.1:9/api/"))
    assert settings.slack is not None
    connector = SlackConnector(settings.slack, settings.policy, timeout=2)
    with pytest.raises(Retriable):
        connector.post_reply(TicketRef.parse(REF), "hi", idempotency_key="k")


def test_escalation_notice_has_no_buttons(hub: Hub, stub: SlackStub) -> None:
    text = "A person will follow up: https://desk.example.com/tickets/42?a=1&b=2"
    payload = {"ref": REF, "text": text, "kind": "notice", "ticket_url": "https://desk.example.com/tickets/42?a=1&b=2"}
    row_id = enqueue(hub, f"escalation-notice:{REF}", "post_reply", payload)
    assert perform(hub, row_id) == "done"
    [post] = stub.calls_to("chat.postMessage")
    assert post.args["thread_ts"] == ROOT_TS and post.args["text"] == text.replace("&", "&amp;")
    assert post.args["blocks"] == [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "A person will follow up: "}, {"type": "link", "url": "https://desk.example.com/tickets/42?a=1&b=2"}]}]}]


def test_internal_note_goes_to_the_triage_channel_with_the_thread_link(hub: Hub, stub: SlackStub) -> None:
    row_id = enqueue(hub, f"draft:{REF}", "add_internal_note", {"ref": REF, "text": "Try a reset <first>."})
    assert perform(hub, row_id) == "done"
    [link] = stub.calls_to("chat.getPermalink")
    assert link.args == {"channel": CHANNEL, "message_ts": ROOT_TS}
    permalink = f"https://subarachnoid.slack.com/archives/{CHANNEL}/p{ROOT_TS.replace('.', '')}"
    [post] = stub.calls_to("chat.postMessage")
    assert post.args["channel"] == "CTRIAGE01" and "thread_ts" not in post.args
    assert post.args["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"A request in <#{CHANNEL}> needs a person: <{permalink}|open the thread>"}},
        {"type": "divider"},
        {"type": "rich_text",  # the draft quotes the KB: shown as written
         "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "Try a reset <first>."}]}]},
    ]
    [triage_ts] = [ts for (channel, ts) in stub.threads if channel == "CTRIAGE01"]
    assert row(hub, row_id).result == {"external_id": triage_ts, "url": permalink}


def test_internal_note_without_a_triage_channel_fails_visibly(sqlite_url: str, stub: SlackStub) -> None:
    hub = build_hub(load_settings(slack_settings(sqlite_url, stub, SLACK_TRIAGE_CHANNEL=None)))
    try:
        row_id = enqueue(hub, f"draft:{REF}", "add_internal_note", {"ref": REF, "text": "draft"})
        assert perform(hub, row_id) == "failed"
        assert "SLACK_TRIAGE_CHANNEL" in (row(hub, row_id).last_error or "")
        assert stub.calls_to("chat.postMessage") == []
    finally:
        hub.close()


@pytest.mark.parametrize(("feedback", "line"), [("solved", f"Marked as solved by <@{REQUESTER}>"), ("not_solved", "Passed to a person")])
def test_acknowledge_feedback_replaces_the_buttons(hub: Hub, stub: SlackStub, feedback: str, line: str) -> None:
    answer_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload())
    assert perform(hub, answer_id) == "done"
    answer_ts = row(hub, answer_id).result["external_id"]  # type: ignore[index]
    ack = {"ref": REF, "feedback": feedback, "channel": CHANNEL, "ts": answer_ts, "user": REQUESTER}
    assert perform(hub, enqueue(hub, f"ack:{REF}", "acknowledge_feedback", ack)) == "done"
    [update_call] = stub.calls_to("chat.update")
    assert update_call.args["channel"] == CHANNEL and update_call.args["ts"] == answer_ts
    assert update_call.args["text"] == "Open Settings &gt; Security and press &lt;Reset&gt;."
    assert update_call.args["blocks"] == ANSWER_BLOCKS[:2] + [{"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]
    # A second click's acknowledgement finds no buttons left and changes nothing.
    again = enqueue(hub, f"ack2:{REF}", "acknowledge_feedback", ack)
    assert perform(hub, again) == "done" and row(hub, again).result == {"updated": False}
    assert len(stub.calls_to("chat.update")) == 1


def test_acknowledge_feedback_for_a_vanished_message_is_skipped(hub: Hub, stub: SlackStub) -> None:
    ack = {"ref": REF, "feedback": "solved", "channel": CHANNEL, "ts": "1719209999.000001"}
    assert perform(hub, enqueue(hub, f"ack:{REF}", "acknowledge_feedback", ack)) == "skipped"
    assert stub.calls_to("chat.update") == []


def test_fetch_reads_the_thread_as_a_ticket(hub: Hub, stub: SlackStub) -> None:
    thread = stub.threads[(CHANNEL, ROOT_TS)]
    thread.append({"type": "message", "user": BOT_USER, "bot_id": "BZYBOTHED", "text": "Try this", "ts": "1719209507.000001", "thread_ts": ROOT_TS})
    thread.append({"type": "message", "user": "U0HELPER1", "text": "Same here", "ts": "1719209508.000001", "thread_ts": ROOT_TS})
    connector: SlackConnector = hub.connectors["slack"]
    ticket = connector.fetch(TicketRef.parse(REF))
    assert str(ticket.ref) == REF
    assert ticket.subject == ticket.text == ROOT["event"]["text"]
    assert (ticket.requester.external_id, ticket.requester.name, ticket.requester.email) == (REQUESTER, "Ada Lovelace", "ada@example.com")
    assert [(m.author.external_id, m.author.is_self, m.text) for m in ticket.messages] == [
        (REQUESTER, False, ROOT["event"]["text"]),
        (BOT_USER, True, "Try this"),
        ("U0HELPER1", False, "Same here"),  # users.info said user_not_found: kept by id
    ]
    assert ticket.url == f"https://subarachnoid.slack.com/archives/{CHANNEL}/p{ROOT_TS.replace('.', '')}"
    assert [c.args["user"] for c in stub.calls_to("users.info")] == [REQUESTER, "U0HELPER1"]
    with pytest.raises(NotFound):
        connector.fetch(TicketRef.parse(f"slack:{TEAM}:{CHANNEL}:1111111111.000001"))


def test_an_answer_with_many_links_is_posted_whole_as_written(hub: Hub, stub: SlackStub) -> None:
    """A download table: every URL is a link element with its ``&`` as written (no ``&amp;``), and the posted
    rich text reads exactly as the answer."""
    rows = [f"Build {n} | https://dl.example.com/app?os=win&arch=x64&build={n}" for n in range(45)]
    text = "\n".join(rows) + "\n\nSource: Download the desktop app - https://kb.example/download"
    row_id = enqueue(hub, f"answer:{REF}", "post_reply", answer_payload(text=text))
    outbox.schedule(hub.jobs, [row_id])
    hub.jobs.drain()
    [post] = stub.calls_to("chat.postMessage")
    assert shown(post.args["blocks"]) == text
    links = [e["url"] for b in post.args["blocks"] if b["type"] == "rich_text" for e in b["elements"][0]["elements"]
             if e["type"] == "link"]
    assert links == [f"https://dl.example.com/app?os=win&arch=x64&build={n}" for n in range(45)] + ["https://kb.example/download"]
    assert post.args["text"].startswith("Build 0 | https://dl.example.com/app?os=win&amp;arch=x64")  # the fallback is mrkdwn