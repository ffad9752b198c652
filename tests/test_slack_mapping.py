"""The pure Slack mapping and Block Kit helpers, as tables; and the cached identity's effect on parsing."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

import connectors.slack as slack_package
from config import load_settings
from connectors.slack import SlackConnector, blocks, events, mapping
from connectors.slack.errors import translate
from core.errors import Fatal, NotFound, PayloadError, Refused, Retriable
from core.models import EventKind
from tests.slack_stub import BOT_ID, SlackStub, fixture, shown, slack_settings


def parse(payload: dict[str, Any], *, channels: tuple[str, ...] = ("*",), bots: tuple[str, ...] = (), identity: mapping.Identity | None = None) -> Any:
    return mapping.to_event(
        payload,
        ids=mapping.self_ids(payload, identity),
        answers_in=lambda c: "*" in channels or c in channels,
        allows_bots=lambda c: c in bots,
        identity_known=identity is not None,
    )


@pytest.mark.parametrize(
    ("name", "kind", "ref"),
    [
        ("event_message_channel", EventKind.CREATED, "slack:T06NRA6HM3P:C06NRA6JLER:1719209506.817929"),
        ("event_message_thread_reply", EventKind.COMMENTED, "slack:T06NRA6HM3P:C06NRA6JLER:1719209506.817929"),
        ("event_message_thread_broadcast", EventKind.COMMENTED, "slack:T111:C111:1633663824.000500"),
        ("event_app_mention", EventKind.CREATED, "slack:T06NRA6HM3P:C06NRA6JLER:1719209700.000300"),
        ("block_actions_feedback", EventKind.FEEDBACK, "slack:T06NRA6HM3P:C06NRA6JLER:1719209506.817929"),
        ("event_message_changed", None, None),
        ("event_message_deleted", None, None),
        ("event_message_channel_join", None, None),
        ("event_message_self_bot_message", None, None),
        ("event_message_bot_id_no_subtype", None, None),
        ("event_message_bot_message_subtype", None, None),
        ("app_rate_limited", None, None),
        ("url_verification", None, None),
    ],
)
def test_what_counts_as_a_request(name: str, kind: EventKind | None, ref: str | None) -> None:
    event = parse(fixture(name))
    assert (event.kind if event else None, str(event.ref) if event else None) == (kind, ref)


def test_thread_root_with_thread_ts_equal_to_ts_is_a_new_request() -> None:
    payload = fixture("event_message_channel")
    payload["event"]["thread_ts"] = payload["event"]["ts"]
    assert parse(payload).kind is EventKind.CREATED


def test_cached_identity_catches_our_legacy_bot_message_where_bots_are_allowed() -> None:
    ours = fixture("event_message_self_bot_message")
    identity = mapping.Identity("W23456789", BOT_ID, "T0G9PQBBK", None)
    assert parse(ours, bots=("C111",), identity=identity) is None
    other = copy.deepcopy(ours)
    other["event"]["bot_id"] = "BOTHERAPP"
    assert parse(other, bots=("C111",)) is None  # not provable without the identity: dropped
    assert parse(other, bots=("C111",), identity=identity).kind is EventKind.CREATED


def test_parse_with_the_connector_after_identity_is_resolved(sqlite_url: str) -> None:
    stub = SlackStub().start()
    try:
        settings = load_settings(slack_settings(sqlite_url, stub, HUB_CHANNEL_POLICIES={"C111": {"respond_to_bots": True}}))
        assert settings.slack is not None
        connector = SlackConnector(settings.slack, settings.policy)
        body = json.dumps(fixture("event_message_self_bot_message")).encode()
        assert connector.parse_event({"Content-Type": "application/json"}, body) is None
        hub_like = type("HubLike", (), {"connectors": {"slack": connector}})()
        [(name, job, seconds)] = slack_package.scheduled_jobs(hub_like)
        job(), job()
        assert name == "slack.identity" and len(stub.calls_to("auth.test")) == 1
        assert connector.known_identity() == mapping.Identity("W23456789", "BZYBOTHED", "T0G9PQBBK", "https://subarachnoid.slack.com/")
        assert connector.parse_event({"Content-Type": "application/json"}, body) is None
    finally:
        stub.stop()


def test_malformed_payloads_raise_payload_error() -> None:
    with pytest.raises(PayloadError):
        events.read({"Content-Type": "application/json"}, b"[1, 2]")
    broken = fixture("event_message_channel")
    del broken["event"]["ts"]
    with pytest.raises(PayloadError):
        parse(broken)
    assert events.read({"Content-Type": "application/x-www-form-urlencoded"}, b"ssl_check=1&token=x") is None


def test_ts_is_converted_without_float_rounding() -> None:
    assert mapping.ts_to_datetime("1719209506.817929") == datetime(2024, 6, 24, 6, 11, 46, 817929, tzinfo=timezone.utc)


def test_mrkdwn_is_escaped_and_links_are_safe() -> None:
    assert blocks.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert blocks.link("https://x.test/a|b>c", "T <1> | 2") == "<https://x.test/a%7Cb%3Ec|T &lt;1&gt; ¦ 2>"
    text, body = blocks.answer("x" * 5000, [], "slack:T:C:1.2")
    assert [len(b["elements"][0]["elements"][0]["text"]) for b in body[:2]] == [3000, 2000]  # split, not cut
    assert [b["type"] for b in body] == ["rich_text", "rich_text", "actions"] and text == "x" * 2999 + "…"
    _, posted = blocks.triage("C1", "https://x.slack.com/archives/C1/p1", "y" * 7000)
    assert [len(b["elements"][0]["elements"][0]["text"]) for b in posted[2:]] == [3000, 3000, 1000]


@pytest.mark.parametrize("draft", [
    "a" * 2998 + " & b" * 400,
    ("Line of the transcript & more.\n" * 300),
    "x" * 2999 + "&" + "y" * 10,
])
def test_a_long_triage_post_is_split_at_line_breaks_and_shows_the_draft_as_written(draft: str) -> None:
    _, posted = blocks.triage("C1", "https://x.slack.com/archives/C1/p1", draft)
    pieces = [shown([b]) for b in posted[2:]]
    assert "".join(pieces) == draft  # nothing lost, nothing added, nothing escaped (rich text shows it as written)
    assert all(len(p) <= 3000 for p in pieces) and len(pieces) > 1
    if "\n" in draft:
        assert all(p.endswith("\n") for p in pieces[:-1])  # a line is never cut in two


def response(status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> SlackResponse:
    return SlackResponse(client=None, http_verb="POST", api_url="u", req_args={}, data=data, headers=headers or {}, status_code=status)


@pytest.mark.parametrize(
    ("status", "error", "headers", "expected", "retry_after"),
    [
        (429, "ratelimited", {"retry-after": "30"}, Retriable, 30.0),
        (429, "ratelimited", {}, Retriable, None),
        (500, "internal_error", {}, Retriable, None),
        (200, "channel_not_found", {}, NotFound, None),
        (200, "message_not_found", {}, NotFound, None),
        (200, "thread_not_found", {}, NotFound, None),
        (200, "invalid_auth", {}, Fatal, None),
        (200, "not_in_channel", {}, Refused, None),  # a Fatal: the conversation will not take the app's messages
        (200, "is_archived", {}, Refused, None),
        (400, "invalid_blocks", {}, Fatal, None),
    ],
)
def test_slack_errors_translate(status: int, error: str, headers: dict[str, str], expected: type, retry_after: float | None) -> None:
    translated = translate("chat.postMessage", SlackApiError("failed", response(status, {"ok": False, "error": error}, headers)))
    assert type(translated) is expected
    assert getattr(translated, "retry_after", None) == retry_after


def test_legacy_mention_form_counts_and_is_stripped() -> None:
    reply = fixture("event_message_thread_reply")
    reply["event"].update(user="U0SOMEONE", text="<@U074G5E1ANR|hub> where is the VPN guide?")
    event = parse(reply)
    assert event.kind is EventKind.CREATED and event.message.text == "where is the VPN guide?"


@pytest.mark.parametrize(
    ("delivered", "plain"),
    [
        ("Tom &amp; Jerry &lt;3, a &gt; b", "Tom & Jerry <3, a > b"),
        ("I typed &amp;lt;b&amp;gt; literally", "I typed &lt;b&gt; literally"),  # an entity the person typed stays one
        ("ask <@U0ADA|ada> or <@U0BOB>", "ask @ada or @Bob Builder"),
        ("in <#C0123|general> <!here> <!channel> <!subteam^S01|@support-team>", "in #general @here @channel @support-team"),
        # NOTE(slack): a channel mention may come with its label empty, or none: named by conversations.info, or its id
        ("see <#C0456|> and <#C0456>, not <#C0789|>", "see #billing and #billing, not #C0789"),
        ("see <https://x.example/a?b=1&amp;c=2|the guide> or <https://y.example> or <mailto:a@b.example|a@b.example>",
         "see the guide (https://x.example/a?b=1&c=2) or https://y.example or a@b.example"),
        ("due <!date^1392734382^{date_short}|Feb 18, 2014>", "due Feb 18, 2014"),
        ("line one\nline two", "line one\nline two"),
    ],
)
def test_slack_text_reaches_the_hub_as_plain_text(delivered: str, plain: str) -> None:
    # The request, the follow-ups carried to a ticket of record and the transcript an agent reads are plain text,
    # as Zendesk's and Jira's are: not Slack's escaped mrkdwn (an agent reading "&amp;" or "<@U0BOB>").
    from connectors.slack.mrkdwn import to_text

    assert to_text(delivered, {"U0BOB": "Bob Builder", "C0456": "billing"}) == plain


@pytest.mark.parametrize(
    ("delivered", "plain"),
    [
        (":thumbsup: :+1: :white_check_mark: :tada::tada:", "\U0001F44D \U0001F44D \u2705 \U0001F389\U0001F389"),
        ("thanks :wave::skin-tone-3: :v::skin-tone-6:", "thanks \U0001F44B\U0001F3FC \u270C\U0001F3FF"),
        (":partyparrot: and :thumbsup_all: stay", ":partyparrot: and :thumbsup_all: stay"),  # custom: Slack alone draws them
        ("at 10:30:00, ratio 1:2:3, see a:smile:b", "at 10:30:00, ratio 1:2:3, see a:smile:b"),
        ("run `grep :smile: log` then\n```\n:tada: x:y:z\n```\n:tada:", "run `grep :smile: log` then\n```\n:tada: x:y:z\n```\n\U0001F389"),
        ("<https://x.example/:smile:/a|docs> https://y.example/:tada:", "docs (https://x.example/:smile:/a) https://y.example/:tada:"),
    ],
)
def test_standard_emoji_shortcodes_read_as_the_emoji_and_the_rest_as_written(delivered: str, plain: str) -> None:
    from connectors.slack.mrkdwn import to_text

    assert to_text(delivered) == plain


def test_the_channels_to_look_up_are_those_mentioned_without_a_name() -> None:
    from connectors.slack.mrkdwn import unnamed_channels

    assert unnamed_channels("<#C1|> <#C2> <#C3|general> <#C1> <@U1> <#|>") == ["C1", "C2"]


def test_a_follow_up_and_a_thread_read_back_are_plain_text_with_their_lines() -> None:
    reply = fixture("event_message_thread_reply")
    reply["event"]["text"] = "Still failing &amp; the log says:\n&lt;error code=&quot;7&quot;&gt;\n<https://x.example|screenshot>"
    event = parse(reply)
    assert event.message.text == 'Still failing & the log says:\n<error code=&quot;7&quot;>\nscreenshot (https://x.example)'
    ids = mapping.SelfIds(frozenset({"UHUB"}))
    thread = [{"ts": "1.000001", "user": "U1", "text": "<@UHUB> export &amp; import?"},
              {"ts": "1.000002", "user": "U2", "text": "same here <@U1>"}]
    people = {"U1": mapping.Person("U1", name="Ada"), "U2": mapping.Person("U2", name="Bob")}
    ticket = mapping.ticket_from_thread(mapping.thread_ref("T1", "C1", "1.000001"), thread, people, ids, None)
    assert [m.text for m in ticket.messages] == ["export & import?", "same here @Ada"]
    assert ticket.subject == "export & import?"


def test_invisible_format_characters_never_reach_what_an_agent_reads() -> None:
    # A right-to-left override makes an agent read the text after it reversed ("Trojan source"); a zero-width
    # space or soft hyphen splits a word unseen. Joiners stay: an emoji sequence needs them.
    reply = fixture("event_message_thread_reply")
    reply["event"]["text"] = "please \u202eetelede\u202c my pass\u200bword\u00ad now \u2066x\u2069 \U0001F469\u200d\U0001F4BB"
    assert parse(reply).message.text == "please etelede my password now x \U0001F469\u200d\U0001F4BB"
