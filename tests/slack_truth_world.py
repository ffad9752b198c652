"""The world of ``tests/test_stats_truth_slack.py``: Slack requests delivered as Slack delivers them (signed, and
again with ``X-Slack-Retry-Num``), the requester's clicks and replies, and a Zendesk of record faked at the
transport (``responses``) that opens tickets, lists them by ``external_id``, and goes down or loses its answers.

A migrated SQLite database is copied for each example, and the figures are read as ``/api/v1/stats`` computes
them (tests/truth_world.py). Time passes by making every time the database holds older
(:func:`age`): the hub keeps the real clock, so a request that arrives after time has passed is as new as it is.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import responses
from sqlalchemy import select, update

from core.db import Base, UTCDateTime
from tests.slack_stub import SlackStub, fixture, sign
from tests.test_zendesk_connector import API
from tests.test_zendesk_mapping import load

JSON = {"Content-Type": "application/json"}
ROOT = fixture("event_message_channel")
TEAM, CHANNEL, USER = ROOT["team_id"], ROOT["event"]["channel"], ROOT["event"]["user"]
QUESTIONS = {"answerable": "I forgot my password, how do I reset it?", "refund": "I was charged twice and I want a refund"}


def age(db: Any, step: timedelta) -> None:
    """``step`` passes: every time stored in the database (when rows were made, are due, were leased ...) is made
    ``step`` older, as if it had passed on the hub's clock."""
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            stamps = [c for c in table.columns if isinstance(c.type, UTCDateTime)]
            keys = list(table.primary_key.columns)
            if not stamps or not keys:
                continue
            for row in s.execute(select(*keys, *stamps)).all():
                moved = {c.name: row[len(keys) + i] - step for i, c in enumerate(stamps) if row[len(keys) + i] is not None}
                if moved:
                    s.execute(update(table).where(*(k == row[i] for i, k in enumerate(keys))).values(**moved))


# -- Slack deliveries ----------------------------------------------------------------------------------


def thread_ts(n: int) -> str:
    """The ts of the ``n``-th request's first message (older than anything the stub posts)."""
    return f"{1_700_000_000 + n}.000100"


def thread_ref(ts: str) -> str:
    return f"slack:{TEAM}:{CHANNEL}:{ts}"


def signed_post(client: Any, payload: dict[str, Any], retry: int = 0) -> Any:
    """Deliver an Events API ``payload`` as Slack does (signed now; ``retry``: Slack's retry number)."""
    body = json.dumps(payload).encode()
    headers = {**JSON, **sign(body), **({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {})}
    response = client.post("/slack/events", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def request_event(stub: SlackStub, ts: str, text: str) -> dict[str, Any]:
    """A new top-level message by the requester (the thread seeded at the stub): the event Slack delivers."""
    stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": text, "ts": ts})
    payload = copy.deepcopy(ROOT)
    payload["event_id"] = f"Ev{ts.replace('.', '')}"
    payload["event"].update(text=text, ts=ts, event_ts=ts)
    payload["event"].pop("blocks", None)
    return payload


def reply_event(stub: SlackStub, root_ts: str, ts: str, text: str) -> dict[str, Any]:
    """The requester writes ``text`` in the thread (added at the stub): the event Slack delivers."""
    with stub._lock:
        stub.threads[(CHANNEL, root_ts)].append({"type": "message", "user": USER, "text": text, "ts": ts, "thread_ts": root_ts})
    payload = fixture("event_message_thread_reply")
    payload["team_id"], payload["event_id"] = TEAM, f"Ev{ts.replace('.', '')}"
    payload["event"].update(user=USER, text=text, ts=ts, event_ts=ts, thread_ts=root_ts, parent_user_id=USER, channel=CHANNEL)
    return payload


def click(client: Any, root_ts: str, answer_ts: str, action_ts: str, solved: bool) -> None:
    """The requester presses "This solved it" (or "I still need help") under the answer ``answer_ts``."""
    payload = fixture("block_actions_feedback")
    payload["user"] = {"id": USER, "username": "requester", "name": "requester", "team_id": TEAM}
    payload["container"].update(message_ts=answer_ts, channel_id=CHANNEL)
    payload["actions"][0].update(action_id="hub_feedback_solved" if solved else "hub_feedback_not_solved",
                                 value=thread_ref(root_ts), action_ts=action_ts)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    response = client.post("/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)})
    assert response.status_code == 200


def hub_messages(stub: SlackStub, root_ts: str) -> list[dict[str, Any]]:
    """The hub's messages in a thread as Slack holds them, each with its metadata (its outbox key)."""
    with stub._lock:
        return [dict(m) for m in stub.threads.get((CHANNEL, root_ts), [])[1:] if m.get("bot_id")]


def key_of(message: dict[str, Any]) -> str | None:
    """The outbox key a hub message carries in its metadata."""
    return ((message.get("metadata") or {}).get("event_payload") or {}).get("key")


# -- Zendesk as the help desk of record ------------------------------------------------------------------

TICKET_URL = re.compile(rf"{re.escape(API)}/tickets/(\d+)\.json")
COMMENTS_URL = re.compile(rf"{re.escape(API)}/tickets/(\d+)/comments\.json")
FIRST_RECORD = 9001


class RecordDesk:
    """Zendesk opening tickets of record. ``mode``: ``ok``; ``down`` (every call a 503, nothing done); ``lose``
    (writes done, then their answers lost: a read timeout; reads answer)."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.mode = "ok"
        self.tickets: dict[int, dict[str, Any]] = {}  # id -> the create's fields (external_id among them)
        self.updates: dict[int, list[dict[str, Any]]] = {}
        api.add_callback("POST", f"{API}/tickets.json", callback=self.create)
        api.add_callback("GET", f"{API}/tickets.json", callback=self.listed)
        api.add_callback("GET", f"{API}/users/me.json", callback=self.read(lambda _: load("users_me.json")))
        api.add_callback("GET", f"{API}/users/show_many.json", callback=self.read(lambda _: load("users_show_many.json")))
        api.add_callback("GET", TICKET_URL, callback=self.read(self.show))
        api.add_callback("GET", COMMENTS_URL, callback=self.read(lambda _: {"comments": [], "next_page": None, "count": 0}))
        api.add_callback("PUT", TICKET_URL, callback=self.update)

    def read(self, body: Any) -> Any:
        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            if self.mode == "down":
                return 503, JSON, json.dumps({"error": "Service Unavailable"})
            return 200, JSON, json.dumps(body(request))

        return answer

    def write(self, apply: Any, request: Any) -> tuple[int, dict[str, str], str]:
        if self.mode == "down":
            return 503, JSON, json.dumps({"error": "Service Unavailable"})
        answer = apply(request)
        if self.mode == "lose":
            raise requests.exceptions.ReadTimeout("the response was lost")
        return answer

    def create(self, request: Any) -> tuple[int, dict[str, str], str]:
        def apply(request: Any) -> tuple[int, dict[str, str], str]:
            ticket_id = FIRST_RECORD + len(self.tickets)
            self.tickets[ticket_id], self.updates[ticket_id] = json.loads(request.body)["ticket"], []
            made = load("ticket_update_response.json")
            made["ticket"].update(id=ticket_id, tags=self.tickets[ticket_id].get("tags", []))
            return 201, JSON, json.dumps(made)

        return self.write(apply, request)

    def listed(self, request: Any) -> dict[str, Any]:
        wanted = parse_qs(urlsplit(request.url).query).get("external_id", [None])[0]
        found = [{"id": i, "external_id": t.get("external_id")} for i, t in self.tickets.items() if t.get("external_id") == wanted]
        return self.read(lambda _: {"tickets": found, "next_page": None, "count": len(found)})(request)

    def show(self, request: Any) -> dict[str, Any]:
        ticket_id = int(TICKET_URL.search(request.url).group(1))
        shown = load("ticket_show.json")
        tags = [*self.tickets[ticket_id].get("tags", []), *(t for u in self.updates[ticket_id] for t in u.get("additional_tags", ()))]
        shown["ticket"].update(id=ticket_id, status="open", tags=tags)
        return shown

    def update(self, request: Any) -> tuple[int, dict[str, str], str]:
        def apply(request: Any) -> tuple[int, dict[str, str], str]:
            self.updates[int(TICKET_URL.search(request.url).group(1))].append(json.loads(request.body)["ticket"])
            return 200, JSON, json.dumps(load("ticket_update_response.json"))

        return self.write(apply, request)

    def records_of(self, key_tag: str) -> list[int]:
        """The tickets opened with ``external_id`` ``key_tag`` (one escalation's)."""
        return [i for i, t in self.tickets.items() if t.get("external_id") == key_tag]
