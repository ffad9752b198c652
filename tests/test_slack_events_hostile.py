"""POST /slack/events with hostile and malformed input: unsigned garbage is 401 before anything reads it;
signed but malformed bodies are 400 naming the problem, on either database; nothing is stored."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from app import Hub, create_app
from core.models import TicketEvent
from tests.slack_events_world import ROOT, THREAD_REF, make_hub, post, rows, with_event
from tests.slack_events_world import client, hub, seen, stub  # noqa: F401 (fixtures)
from tests.slack_stub import SlackStub, fixture, sign


def test_malformed_json_is_400(client: Any, hub: Hub) -> None:
    body = b"{not json"
    response = client.post("/slack/events", data=body, headers={"Content-Type": "application/json", **sign(body)})
    assert response.status_code == 400
    assert rows(hub) == []
    unsigned = client.post("/slack/events", data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401


def test_the_triage_channel_is_never_a_request_channel(client: Any, hub: Hub) -> None:
    agents_talking = with_event(ROOT, "EvTRIAGE01", channel="CTRIAGE01")
    assert post(client, agents_talking).get_json() == {"status": "ignored"}
    assert rows(hub) == []


# -- hostile bodies (issue 11 item 1): the signature first, then a 400 that names the field ---------------


@pytest.mark.parametrize("body", [b"[1,2]", b"null", b'"x"', b"[" * 100_000, b"", b"\xff\xfe", b"payload=%7B"])
def test_unsigned_garbage_is_401_before_anything_reads_it(client: Any, hub: Hub, body: bytes) -> None:
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        response = client.post("/slack/events", data=body, headers={"Content-Type": content_type})
        assert response.status_code == 401 and response.get_json() == {"error": "missing Slack signature headers"}
    assert rows(hub) == []


def signed_raw(client: Any, body: bytes, content_type: str = "application/json") -> Any:
    return client.post("/slack/events", data=body, headers={"Content-Type": content_type, **sign(body)})


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[1,2]", "slack payload: (body): must be a JSON object"),
        (b"null", "slack payload: (body): must be a JSON object"),
        (b'"x"', "slack payload: (body): must be a JSON object"),
        (b'{"type": 5}', "slack payload: type: Not a valid string."),
        (b'{"type":"event_callback","team_id":"T1","event":"x"}', "slack payload: event: Invalid input type."),
        (b'{"type":"event_callback","team_id":"T1"}', "slack payload: event: Missing data for required field."),
        (b'{"type":"url_verification"}', "slack payload: challenge: Missing data for required field."),
        # found by HUB_FUZZ_EXAMPLES=5000: the hub's own ids are read from any type of request
        (b'{"type":"", "authorizations": 1e20}', "slack payload: authorizations: Not a valid list."),
        (b'{"type":"app_rate_limited", "authorizations": ["x"]}', "slack payload: authorizations.0: Invalid input type."),
        (b"[" * 5000 + b"]" * 5000, "slack body is nested deeper than 64 levels"),
        (b"[" * 100_000, "slack body is nested deeper than 64 levels"),
        (b'{"type": NaN}', "slack body is not JSON"),
    ],
)
def test_signed_malformed_bodies_are_400_naming_the_problem(client: Any, hub: Hub, body: bytes, error: str) -> None:
    response = signed_raw(client, body)
    assert response.status_code == 400 and response.get_json() == {"error": error}
    assert rows(hub) == []


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("ts", "abc", "event.ts"),
        ("ts", "1e400", "event.ts"),
        ("ts", 1719209506.8, "event.ts"),
        ("text", 5, "event.text"),
        ("channel", ["C1"], "event.channel"),
        ("channel", "C" * 300, "event.channel"),
        ("username", "u" * 300, "event.username"),  # the people table's name is 255 characters
        ("thread_ts", {"a": 1}, "event.thread_ts"),
        ("root", "x", "event.root"),
        ("hidden", "yes", "event.hidden"),
        # found attacking a served hub: a ':' in an id made a ref that was stored, then failed in the job runner
        ("channel", "C1:C2", "event.channel"),
        ("team", "9999-12-31T23:59:59Z", "event.team"),
    ],
)
def test_signed_event_fields_of_the_wrong_type_are_400_naming_the_path(client: Any, hub: Hub, field: str, value: Any, path: str) -> None:
    response = post(client, with_event(ROOT, "EvBAD00001", **{field: value}))
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"slack payload: {path}: ")
    assert rows(hub) == []


def test_a_team_or_channel_id_holding_a_colon_is_400_and_never_stored(client: Any, hub: Hub) -> None:
    envelope = {**with_event(ROOT, "EvCOLON001"), "team_id": "T1:T2"}
    response = post(client, envelope)
    assert response.status_code == 400 and response.get_json() == {"error": "slack payload: team_id: Not a Slack id."}
    click = fixture("block_actions_feedback")
    click["container"]["channel_id"] = "C1:C2"
    response = signed_raw(client, urlencode({"payload": json.dumps(click)}).encode(), "application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.get_json() == {"error": "slack payload: container.channel_id: Not a Slack id."}
    assert rows(hub) == []


@pytest.mark.parametrize("field", ["channel", "ts", "text", "user"])
def test_a_lone_surrogate_anywhere_is_400(client: Any, hub: Hub, field: str) -> None:
    body = json.dumps(with_event(ROOT, "EvSURR0001", **{field: "\ud800"})).encode()  # json.dumps escapes it: \ud800
    assert b"\\ud800" in body
    response = signed_raw(client, body)
    assert response.status_code == 400 and "lone surrogate" in response.get_json()["error"]
    assert rows(hub) == []


def test_interactivity_form_bodies_are_checked_too(client: Any, hub: Hub) -> None:
    click = fixture("block_actions_feedback")
    click["actions"][0]["action_ts"] = "soon"
    body = urlencode({"payload": json.dumps(click)}).encode()
    response = signed_raw(client, body, "application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.get_json()["error"].startswith("slack payload: actions.0.action_ts: ")
    for bad in (b"payload=%5B1%5D", b"payload=" + b"%5B" * 200, b"payload=a&payload=b", b"nothing=1"):
        assert signed_raw(client, bad, "application/x-www-form-urlencoded").status_code == 400
    assert rows(hub) == []


@pytest.mark.parametrize("value", [None, ""])
def test_a_feedback_button_without_a_value_is_400_not_500(client: Any, hub: Hub, value: Any) -> None:
    # Found by attacking a served hub: a signed click whose hub_feedback_* button had "value": null was a 500.
    click = fixture("block_actions_feedback")
    click["actions"][0]["value"] = value
    response = signed_raw(client, urlencode({"payload": json.dumps(click)}).encode(), "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("feedback button without a Slack thread reference: ")
    assert rows(hub) == []


def test_a_slash_command_is_an_empty_200_and_never_stored(client: Any, hub: Hub) -> None:
    # Found attacking a served hub: a signed slash command (a form without a payload field) was a 400, which Slack
    # shows the user as an error; Socket Mode already acknowledged them without storing them.
    command = urlencode({"command": "/hub", "text": "reset my password", "team_id": "T1", "channel_id": "C1", "user_id": "U1",
                         "response_url": "https://hooks.slack.com/commands/T1/1/x", "trigger_id": "1.2.x"}).encode()
    answered = signed_raw(client, command, "application/x-www-form-urlencoded")
    assert answered.status_code == 200 and answered.get_data() == b""
    assert client.post("/slack/events", data=command, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    assert rows(hub) == []


def test_url_verification_and_ssl_check_must_be_signed(client: Any, hub: Hub) -> None:
    assert post(client, fixture("url_verification"), signed=False).status_code == 401
    ping = b"ssl_check=1&token=x"
    assert client.post("/slack/events", data=ping, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    answered = signed_raw(client, ping, "application/x-www-form-urlencoded")
    assert answered.status_code == 200 and answered.get_data() == b""
    assert rows(hub) == []


def test_events_the_hub_does_not_read_are_not_checked_in_depth(client: Any, hub: Hub) -> None:
    # NOTE(slack): channel_created carries a channel *object*; it is not a message, so it is ignored, not a 400.
    created = {**ROOT, "event_id": "EvCHAN0001", "event": {"type": "channel_created", "channel": {"id": "C9", "name": "new"}}}
    assert post(client, created).get_json() == {"status": "ignored"}
    assert rows(hub) == []


def test_nul_bytes_and_characters_are_400_on_either_database(database_url: str, stub: SlackStub) -> None:
    seen: list[TicketEvent] = []
    hub = make_hub(database_url, stub, seen)
    try:
        client = create_app(hub=hub).test_client()
        form = urlencode({"payload": json.dumps(fixture("block_actions_feedback"))}).encode() + b"&x=\x00"
        assert signed_raw(client, form, "application/x-www-form-urlencoded").get_json() == {"error": "slack body holds a NUL byte"}
        text = with_event(ROOT, "EvNUL00001", text="a\u0000b")
        assert post(client, text).get_json() == {"error": "slack body holds a NUL character (\\u0000)"}
        assert post(client, ROOT).get_json()["status"] == "accepted"  # and the database still takes the next one
        assert [r.ticket_ref for r in rows(hub)] == [THREAD_REF]
    finally:
        hub.close()


@pytest.mark.parametrize("timestamp", ["9" * 5000, "1" * 21, "0" * 4400 + "1700000000"])
def test_a_request_timestamp_of_thousands_of_digits_is_401_not_500(client: Any, hub: Hub, timestamp: str) -> None:
    # Found attacking a served hub: slack_sdk reads the timestamp with int(), which refuses past 4300 digits
    # (ValueError), so an unsigned request with such a header was a 500 with a traceback in the log.
    body = json.dumps(ROOT).encode()
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=00"}
    response = client.post("/slack/events", data=body, headers=headers)
    assert response.status_code == 401 and response.get_json() == {"error": "malformed Slack request timestamp"}
    assert rows(hub) == []
