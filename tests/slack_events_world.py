"""The Slack events test world: the real Flask app on a hub whose inbox events are recorded, the Web API
stub, and helpers to post signed events and forms."""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app import Hub, build_hub, create_app
from config import load_settings
from core import inbox
from core.db import InboxEvent
from core.models import TicketEvent
from tests.slack_stub import SlackStub, fixture, sign, slack_settings

ROOT = fixture("event_message_channel")
TEAM, CHANNEL, ROOT_TS = ROOT["team_id"], ROOT["event"]["channel"], ROOT["event"]["ts"]
THREAD_REF = f"slack:{TEAM}:{CHANNEL}:{ROOT_TS}"
REQUESTER = ROOT["event"]["user"]


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    server = SlackStub().start()
    yield server
    server.stop()


def make_hub(sqlite_url: str, stub: SlackStub, seen: list[TicketEvent], **overrides: Any) -> Hub:
    """A hub whose inbox events are recorded in ``seen`` instead of going through the interceptor."""
    settings = load_settings(slack_settings(sqlite_url, stub, **overrides))
    hub = build_hub(settings)
    hub.handlers["inbox"] = partial(inbox.process, hub.db, handler=lambda event, row_id, **_: seen.append(event), max_attempts=5)
    return hub


@pytest.fixture
def seen() -> list[TicketEvent]:
    return []


@pytest.fixture
def hub(sqlite_url: str, stub: SlackStub, seen: list[TicketEvent]) -> Iterator[Hub]:
    built = make_hub(sqlite_url, stub, seen, HUB_CHANNEL_POLICIES={"CBOTS0001": {"respond_to_bots": True}})
    yield built
    built.close()


@pytest.fixture
def client(hub: Hub) -> Any:
    return create_app(hub=hub).test_client()


def post(client: Any, payload: dict[str, Any], *, headers: dict[str, str] | None = None, signed: bool = True) -> Any:
    body = json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", **(sign(body) if signed else {}), **(headers or {})}
    return client.post("/slack/events", data=body, headers=sent)


def post_form(client: Any, payload: dict[str, Any]) -> Any:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    return client.post("/slack/events", data=body, headers=headers)


def rows(hub: Hub) -> list[InboxEvent]:
    with hub.db.session() as s:
        return list(s.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars())


def with_event(base: dict[str, Any], event_id: str, **fields: Any) -> dict[str, Any]:
    payload = copy.deepcopy(base)
    payload["event_id"] = event_id
    payload["event"].update(fields)
    return payload
