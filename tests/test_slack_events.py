"""POST /slack/events through the real Flask app and the shared inbound path: signing, what counts as a request, dedupe.

The Web API is the local stub; the request path must never call it.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import pytest

from app import Hub, create_app
from core.models import EventKind, TicketEvent
from tests.slack_events_world import CHANNEL, REQUESTER, ROOT, ROOT_TS, TEAM, THREAD_REF, make_hub, post, post_form, rows, with_event
from tests.slack_events_world import client, hub, seen, stub  # noqa: F401 (fixtures)
from tests.slack_stub import SlackStub, fixture, sign


def test_url_verification_is_echoed_and_stores_nothing(client: Any, hub: Hub, stub: SlackStub) -> None:
    challenge = fixture("url_verification")
    response = post(client, challenge)
    assert response.status_code == 200
    assert response.get_json() == {"challenge": challenge["challenge"]}
    assert rows(hub) == [] and stub.calls == []


def test_root_message_is_stored_before_the_ack_without_calling_slack(client: Any, hub: Hub, stub: SlackStub, seen: list[TicketEvent]) -> None:
    response = post(client, ROOT)
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    [row] = rows(hub)  # committed by the time the 200 is out
    assert (row.source, row.kind, row.ticket_ref) == ("slack", "created", THREAD_REF)
    assert row.delivery_id == f"{TEAM}:{CHANNEL}:{ROOT_TS}"
    assert json.loads(row.raw_body) == ROOT
    hub.jobs.drain()
    [event] = seen
    assert event.message is not None and event.message.text == "Hello, this is a normal text message"
    assert event.message.author.external_id == REQUESTER and not event.message.author.is_self
    assert stub.calls == []  # no auth.test, no Web API call at all on the request path


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""},
        sign(json.dumps(ROOT).encode(), timestamp=int(time.time()) - 6 * 60),
        sign(json.dumps(ROOT).encode(), secret="some-other-secret"),
    ],
    ids=["wrong", "missing", "stale", "other-secret"],
)
def test_bad_signatures_are_401_and_store_nothing(client: Any, hub: Hub, stub: SlackStub, headers: dict[str, str]) -> None:
    body = json.dumps(ROOT).encode()
    sent = {"Content-Type": "application/json", **sign(body), **headers}
    response = client.post("/slack/events", data=body, headers=sent)
    assert response.status_code == 401
    assert rows(hub) == [] and stub.calls == []


def test_a_signed_body_that_is_not_utf8_is_a_400_saying_so(client: Any, hub: Hub, stub: SlackStub) -> None:
    body = json.dumps(ROOT).encode("utf-16")  # it was a 401 "malformed Slack request timestamp"
    response = client.post("/slack/events", data=body, headers={"Content-Type": "application/json", **sign(body)})
    assert response.status_code == 400 and "not UTF-8" in response.get_json()["error"]
    assert rows(hub) == [] and stub.calls == []


def test_unsigned_request_is_401(client: Any, hub: Hub) -> None:
    assert post(client, ROOT, signed=False).status_code == 401
    assert rows(hub) == []


@pytest.mark.parametrize(
    "name",
    [
        "event_message_channel_join",
        "event_message_self_bot_message",
        "event_message_bot_id_no_subtype",
        "event_message_bot_message_subtype",
        "app_rate_limited",
    ],
)
def test_not_requests_are_acknowledged_and_not_stored(client: Any, hub: Hub, stub: SlackStub, name: str) -> None:
    response = post(client, fixture(name))
    assert response.status_code == 200 and response.get_json() == {"status": "ignored"}
    assert rows(hub) == [] and stub.calls == []


def test_a_persons_edit_is_stored_as_the_message_as_it_reads_now_never_a_request(client: Any, hub: Hub, seen: list[TicketEvent]) -> None:
    # The real capture: the edited message's ts is only in previous_message. Kept for a thread kept in step with a
    # ticket of record (the pipeline drops it anywhere else); a change nobody made (an unfurl) is not stored.
    edit = fixture("event_message_changed")
    assert post(client, edit).get_json()["status"] == "accepted"
    unfurl = with_event(edit, "EvUNFURL01")
    unfurl["event"]["message"].pop("edited")
    assert post(client, unfurl).get_json() == {"status": "ignored"}
    hub.jobs.drain()  # type: ignore[attr-defined]
    [event] = seen
    assert (event.kind, str(event.ref), event.message and event.message.text) == (EventKind.COMMENTED, "slack:T111:C111:1665102338.901939", "updated message")
    assert event.data["edited"] == "1665102362.000000" and [r.delivery_id for r in rows(hub)] == ["edit:T111:C111:1665102338.901939:1665102362.000000"]


def test_a_deletion_is_stored_naming_the_deleted_message_in_its_thread_never_a_request(client: Any, hub: Hub, seen: list[TicketEvent]) -> None:
    # The real capture: deleted_ts, and previous_message with its author. Told to a thread's ticket of record (the
    # pipeline drops it anywhere else); once per deleted message however often Slack delivers it.
    assert post(client, fixture("event_message_deleted")).get_json()["status"] == "accepted"
    assert post(client, with_event(fixture("event_message_deleted"), "EvDELETED02")).get_json()["status"] == "duplicate"
    hub.jobs.drain()  # type: ignore[attr-defined]
    [event] = seen
    assert (event.kind, str(event.ref), event.message and event.message.author.external_id) == (EventKind.COMMENTED, "slack:T111:C111:1665368619.804829", "U111")
    assert event.data["deleted"] == "1665368629.007100" and [r.delivery_id for r in rows(hub)] == ["delete:T111:C111:1665368619.804829"]


def test_hidden_events_and_edits_of_a_request_are_ignored(client: Any, hub: Hub) -> None:
    assert post(client, with_event(ROOT, "EvHIDDEN01", hidden=True)).get_json() == {"status": "ignored"}
    assert post(client, with_event(ROOT, "EvTOPIC001", subtype="channel_topic")).get_json() == {"status": "ignored"}
    assert rows(hub) == []


def test_own_message_by_bot_user_is_ignored_even_where_bots_are_allowed(client: Any, hub: Hub) -> None:
    own = with_event(ROOT, "EvOWN00001", user=ROOT["authorizations"][0]["user_id"], bot_id="BOURS0001", channel="CBOTS0001")
    assert post(client, own).get_json() == {"status": "ignored"}
    assert rows(hub) == []


def test_other_bots_are_requests_only_where_the_channel_allows_them(client: Any, hub: Hub) -> None:
    clickup = fixture("event_message_bot_message_subtype")
    assert post(client, clickup).get_json() == {"status": "ignored"}
    allowed = copy.deepcopy(clickup)
    allowed["event_id"] = "EvCLICKUP2"
    allowed["event"]["channel"] = "CBOTS0001"
    assert post(client, allowed).get_json()["status"] == "accepted"
    # A legacy bot_message with only a bot_id cannot be told apart from our own without auth.test: dropped.
    legacy = fixture("event_message_self_bot_message")
    legacy["event"]["channel"] = "CBOTS0001"
    assert post(client, legacy).get_json() == {"status": "ignored"}
    assert [r.ticket_ref for r in rows(hub)] == [f"slack:{clickup['team_id']}:CBOTS0001:{clickup['event']['ts']}"]


def test_requester_thread_reply_is_a_follow_up_on_the_same_ticket(client: Any, hub: Hub, seen: list[TicketEvent]) -> None:
    post(client, ROOT)
    response = post(client, fixture("event_message_thread_reply"))
    assert response.get_json()["status"] == "accepted"
    assert [(r.kind, r.ticket_ref) for r in rows(hub)] == [("created", THREAD_REF), ("commented", THREAD_REF)]


def test_someone_elses_thread_reply_is_not_a_request_but_a_mention_is(client: Any, hub: Hub) -> None:
    reply = fixture("event_message_thread_reply")
    other = with_event(reply, "EvOTHER001", user="U0SOMEONE")
    # Stored as a comment not by the requester (issue 12: a synced thread carries it to the agents as an
    # internal note); never a request and never the requester's follow-up.
    assert post(client, other).get_json()["status"] == "accepted"
    bot_user = ROOT["authorizations"][0]["user_id"]
    mention = with_event(reply, "EvMENT0002", user="U0SOMEONE", ts="1719209650.000500", text=f"<@{bot_user}> any idea?")
    assert post(client, mention).get_json()["status"] == "accepted"
    first, row = rows(hub)
    assert (first.kind, first.ticket_ref, first.event["data"]) == ("commented", THREAD_REF, {"from_requester": False})
    assert (row.kind, row.ticket_ref) == ("created", THREAD_REF)
    assert row.event["message"]["text"] == "any idea?" and row.event["data"] == {"mentioned": True, "reply": True}


def test_message_and_app_mention_for_one_message_are_one_request(client: Any, hub: Hub) -> None:
    mention = fixture("event_app_mention")
    same_as_message = with_event(ROOT, "EvMSGMENT1", ts=mention["event"]["ts"], text=mention["event"]["text"])
    assert post(client, mention).get_json()["status"] == "accepted"
    assert post(client, same_as_message).get_json()["status"] == "duplicate"
    [row] = rows(hub)
    assert row.ticket_ref == f"slack:{TEAM}:{CHANNEL}:{mention['event']['ts']}"
    assert row.event["message"]["text"] == "how do I reset my password?"


def test_channels_outside_slack_channels_are_not_answered(sqlite_url: str, stub: SlackStub) -> None:
    seen: list[TicketEvent] = []
    hub = make_hub(sqlite_url, stub, seen, SLACK_CHANNELS="CSUPPORT1")
    try:
        client = create_app(hub=hub).test_client()
        assert post(client, ROOT).get_json() == {"status": "ignored"}
        assert post(client, fixture("event_app_mention")).get_json() == {"status": "ignored"}
        assert post(client, with_event(ROOT, "EvSUPPORT1", channel="CSUPPORT1")).get_json()["status"] == "accepted"
        assert [r.ticket_ref for r in rows(hub)] == [f"slack:{TEAM}:CSUPPORT1:{ROOT_TS}"]
    finally:
        hub.close()


def test_slack_retry_of_a_stored_event_does_no_new_work(client: Any, hub: Hub, seen: list[TicketEvent]) -> None:
    assert post(client, ROOT).get_json()["status"] == "accepted"
    retry = post(client, ROOT, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200 and retry.get_json()["status"] == "duplicate"
    hub.jobs.drain()
    [row] = rows(hub)
    assert row.duplicates == 1 and len(seen) == 1


def test_concurrent_duplicate_deliveries_store_one_row(hub: Hub, seen: list[TicketEvent]) -> None:
    app = create_app(hub=hub)
    barrier = threading.Barrier(2)
    statuses: list[str] = []

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(post(client, ROOT).get_json()["status"])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hub.jobs.drain()
    assert sorted(statuses) == ["accepted", "duplicate"]
    assert len(rows(hub)) == 1 and len(seen) == 1


def test_feedback_click_is_stored_as_a_feedback_event(client: Any, hub: Hub, stub: SlackStub, seen: list[TicketEvent]) -> None:
    click = fixture("block_actions_feedback")
    response = post_form(client, click)
    assert response.status_code == 200 and response.get_data() == b""
    assert post_form(client, click).status_code == 200  # Slack retrying the same click
    hub.jobs.drain()
    [row] = rows(hub)
    assert row.delivery_id == f"feedback:1719209900.123456:{REQUESTER}" and row.duplicates == 1
    [event] = seen
    assert event.kind is EventKind.FEEDBACK and str(event.ref) == THREAD_REF
    assert event.data == {"feedback": "solved", "ack": {"channel": CHANNEL, "ts": "1719209506.900000", "user": REQUESTER}}
    assert event.message is not None and event.message.author.external_id == REQUESTER
    assert stub.calls == []


def test_other_buttons_and_bad_feedback_values(client: Any, hub: Hub) -> None:
    click = fixture("block_actions_feedback")
    other = copy.deepcopy(click)
    other["actions"][0]["action_id"] = "some_other_button"
    assert post_form(client, other).status_code == 200
    bad = copy.deepcopy(click)
    bad["actions"][0]["value"] = "zendesk:42"
    assert post_form(client, bad).status_code == 400
    assert rows(hub) == []
