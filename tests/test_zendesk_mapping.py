"""Zendesk mapping, webhook parsing and signatures: pure functions on fixture payloads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from connectors.text import html_to_text
from connectors.zendesk import events, mapping, verify
from core.errors import PayloadError, SignatureError
from core.models import EventKind, Priority, Status, Visibility

FIXTURES = Path(__file__).parent / "fixtures" / "zendesk"
SELF_ID = "7000000000001"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def users() -> dict[str, Any]:
    return {str(u["id"]): u for u in load("users_show_many.json")["users"]}


def test_ticket_mapping_keeps_public_and_internal_apart() -> None:
    ticket = mapping.ticket(load("ticket_show.json")["ticket"], load("ticket_comments.json")["comments"], users(), SELF_ID, "http://zd")
    assert ticket.ref.external_id == "1"
    assert ticket.status is Status.OPEN and ticket.priority is Priority.NORMAL
    assert ticket.requester.email == "customer@example.com" and not ticket.requester.is_agent
    assert ticket.text.startswith("Hi there,")
    request, note, answer, reply = ticket.messages
    assert note.visibility is Visibility.INTERNAL and note.author.is_agent
    assert answer.author.is_self and answer.author.is_agent
    assert not reply.author.is_self and not reply.author.is_agent
    assert [m.external_id for m in ticket.public_messages()] == ["101", "103", "104"]
    assert "legacy plan" not in " ".join(m.text for m in ticket.public_messages())
    assert ticket.url == "http://zd/agent/tickets/1"


@pytest.mark.parametrize(("via", "automated"), [({"channel": "web"}, False), ({"channel": "email"}, False),
                                               ({"channel": "rule"}, True), ({"channel": "api"}, True),
                                               ({"channel": 8}, False), (None, False), ("rule", False)])
def test_a_comment_a_trigger_or_an_integration_made_is_marked_automated(via: Any, automated: bool) -> None:
    """A trigger's "we got your request" in an agent's name is not an agent replying (interceptor.intake); a
    via id or a via not of the documented shape is read as a person's."""
    comment = load("ticket_comments.json")["comments"][1] | {"via": via}
    assert mapping.message(comment, users(), SELF_ID).automated is automated


@pytest.mark.parametrize(
    ("raw", "status"),
    [("new", Status.NEW), ("OPEN", Status.OPEN), ("pending", Status.PENDING), ("hold", Status.ON_HOLD),
     ("Solved", Status.SOLVED), ("closed", Status.CLOSED)],
)
def test_status_mapping_tolerates_case(raw: str, status: Status) -> None:
    assert mapping.status_of(raw) is status


def test_priority_mapping() -> None:
    assert mapping.priority_of("URGENT") is Priority.URGENT
    assert mapping.priority_of(None) is None


def test_html_to_text() -> None:
    text = html_to_text('<p>Open <a href="https://a.io/s">Settings</a></p><ul><li>one</li><li>two</li></ul><script>x()</script>')
    assert text == "Open Settings (https://a.io/s)\n\n- one\n- two"


def test_articles_flag_drafts_restricted_and_archived_deleted() -> None:
    items = [mapping.article(a) for a in load("hc_incremental_articles.json")["articles"]]
    draft, restricted = items[0], items[2]  # not public: flagged, so a published one made so leaves the KB
    assert draft.deleted and restricted.deleted and draft.body == restricted.body == "" and not restricted.sections
    published, archived = items[1], items[3]
    assert published.title == "Reset your password" and not published.deleted
    assert published.url.endswith("7253351877520-Reset-your-password")
    assert published.locale == "en-us" and published.section == "7253394933775"
    assert "- click Security" in published.body and "<" not in published.body
    assert published.tags == ("password", "login")
    assert archived.deleted


def test_answer_body_lists_the_sources_the_text_does_not_link_already() -> None:
    body = mapping.answer_body("Use the wizard.", [{"title": "Setup", "url": "https://kb/setup"}])
    assert body == "Use the wizard.\n\nSources:\n- Setup: https://kb/setup"
    linked = "Use the wizard.\n\nSource: Setup - https://kb/setup"
    assert mapping.answer_body(linked, [{"title": "Setup", "url": "https://kb/setup"}]) == linked
    assert mapping.answer_body("We opened a ticket.") == "We opened a ticket."


def parse(name: str, self_id: str | None = SELF_ID, headers: dict[str, str] | None = None, body: Any = None):
    data = load(name) if body is None else body
    headers = {"X-Zendesk-Webhook-Invocation-Id": "inv-1"} if headers is None else headers
    return events.parse(headers, data, self_id)


def test_ticket_created_event() -> None:
    event = parse("event_ticket_created.json")
    assert event is not None and event.kind is EventKind.CREATED
    assert event.ref.external_id == "5158" and event.delivery_id == "ticket:5158:created"
    assert event.data["delivery"] == "inv-1", "the invocation id is the delivery's, not the event's"


def test_the_dedupe_key_is_the_event_never_the_invocation_id() -> None:
    comment = parse("event_comment_added.json", headers={"X-Zendesk-Webhook-Invocation-Id": "inv-9"})
    assert comment is not None and comment.delivery_id == "ticket:5158:comment:9876543210"
    body = load("event_status_changed.json")
    body["detail"]["tags"] = ["hub_created"]
    body["event"]["current"] = "SOLVED"
    status = parse("event_status_changed.json", headers={}, body=body)
    assert status is not None and status.delivery_id == "ticket:5158:event:0b6f0d5e-1111-4c2e-a1b9-8e4f39c71d52"
    assert "delivery" not in status.data


def test_requester_comment_event_carries_the_message() -> None:
    event = parse("event_comment_added.json")
    assert event is not None and event.kind is EventKind.COMMENTED
    assert event.message is not None and event.message.text == "It still does not work, I need a person"
    assert event.message.visibility is Visibility.PUBLIC and event.message.external_id == "9876543210"


@pytest.mark.parametrize(
    "change",
    [
        {"is_public": False},  # an internal note
        {"author": {"id": SELF_ID, "is_staff": False, "name": "Hub"}},  # the hub itself
    ],
)
def test_comments_the_hub_must_ignore(change: dict[str, Any]) -> None:
    body = load("event_comment_added.json")
    body["event"]["comment"].update(change)
    assert parse("", body=body) is None


def test_an_agents_public_reply_is_passed_on_marked_as_an_agents() -> None:
    body = load("event_comment_added.json")
    body["event"]["comment"]["author"] = {"id": "6130907993114", "is_staff": True, "name": "Agent"}
    event = parse("", body=body)
    assert event is not None and event.message is not None
    assert event.message.author.is_agent and not event.message.author.is_self


def test_on_a_ticket_the_hub_opened_only_agents_replies_are_passed_on() -> None:
    body = load("event_comment_added.json")
    body["detail"]["tags"] = ["hub_created"]
    assert parse("", body=body) is None  # the requester (emailed a copy) is not a new request
    body["event"]["comment"]["author"] = {"id": "6130907993114", "is_staff": True, "name": "Agent"}
    event = parse("", body=body)
    assert event is not None and event.message is not None and event.message.author.is_agent


def test_other_ticket_events_and_hub_created_tickets_are_ignored() -> None:
    assert parse("event_status_changed.json") is None
    body = load("event_ticket_created.json")
    body["detail"]["tags"] = ["hub_created"]
    assert parse("", body=body) is None
    body = load("event_ticket_created.json")
    body["detail"]["submitter_id"] = SELF_ID
    assert parse("", body=body) is None


def test_first_comment_of_a_new_ticket_is_left_to_the_created_event() -> None:
    body = load("event_comment_added.json")
    body["detail"]["updated_at"] = body["detail"]["created_at"]
    assert parse("", body=body) is None


def test_trigger_bodies() -> None:
    created = parse("trigger_created.json")
    assert created is not None and created.kind is EventKind.CREATED and created.ref.external_id == "5158"
    commented = parse("trigger_commented.json")
    assert commented is not None and commented.kind is EventKind.COMMENTED
    assert commented.message is not None and commented.message.text == "solved, thanks!"
    assert commented.delivery_id == "ticket:5158:comment:9876543299" == f"ticket:5158:comment:{commented.message.external_id}"
    body = load("trigger_commented.json")
    body["actor_id"] = "6130907993114"  # an agent (not the requester) commented
    assert parse("", body=body) is None


@pytest.mark.parametrize("body", [[1, 2], {"hello": "world"}, {"hub": "zendesk-trigger/1", "event": "created", "ticket_id": "x"}])
def test_malformed_bodies(body: Any) -> None:
    with pytest.raises(PayloadError):
        parse("", body=body)


NOW = datetime(2025, 1, 8, 10, 12, 30, tzinfo=timezone.utc)


def signed(secret: str, body: bytes, ts: str = "2025-01-08T10:12:07Z") -> dict[str, str]:
    return {verify.SIGNATURE_HEADER: verify.sign(secret, ts, body), verify.TIMESTAMP_HEADER: ts}


def test_signature_accepts_timestamp_plus_body() -> None:
    verify.verify("s3cret", signed("s3cret", b'{"a":1}'), b'{"a":1}', now=NOW)


def test_signature_known_vector() -> None:
    # platform-apis.md 2.2: the docs' vector, recomputed for timestamp + body.
    secret, body, ts = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", b'{"say": "hello"}', "2021-07-25T10:00:00Z"
    assert verify.sign(secret, ts, body) == "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="


@pytest.mark.parametrize(
    ("headers", "now"),
    [
        (signed("other", b'{"a":1}'), NOW),
        ({}, NOW),
        (signed("s3cret", b'{"a":2}'), NOW),
        (signed("s3cret", b'{"a":1}'), NOW + timedelta(minutes=6)),
    ],
)
def test_signature_rejects(headers: dict[str, str], now: datetime) -> None:
    with pytest.raises(SignatureError):
        verify.verify("s3cret", headers, b'{"a":1}', now=now)



def unreadable_comments() -> float:
    return REGISTRY.get_sample_value("hub_connector_records_unreadable_total", {"source": "zendesk", "kind": "comment"}) or 0.0


@pytest.mark.parametrize("change", [{"id": None}, "a comment"])
def test_a_comment_not_of_the_documented_shape_is_passed_over_and_the_rest_is_read(change: Any) -> None:
    # two comments without an id would have been one message ("None"); a string was a traceback on every retry
    comments = load("ticket_comments.json")["comments"]
    comments[1] = change if isinstance(change, str) else {k: v for k, v in comments[1].items() if k != "id"}
    before = unreadable_comments()
    ticket = mapping.ticket(load("ticket_show.json")["ticket"], comments, users(), SELF_ID, "http://zd")
    assert [m.external_id for m in ticket.messages] == ["101", "103", "104"]
    assert ticket.text.startswith("Hi there,") and ticket.requester.email == "customer@example.com"
    assert unreadable_comments() == before + 1
    assert mapping.user_ids(load("ticket_show.json")["ticket"], comments)  # the users are still looked up
