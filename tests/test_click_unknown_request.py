"""A signed Slack button press naming a request the hub never decided is dropped at once; one naming a request the
hub is still deciding waits for the decision, as a reply does (tests/test_reply_while_deciding.py).

Only a holder of the signing secret can send a press with a made-up button value. It used to be taken as feedback:
an ``acknowledge_feedback`` write queued for a thread the hub never answered (Slack called for it, the outbox row
skipped or failed), counted as ``solved``. A press that beats its request's decision was taken the same way, its
verdict lost. Slack is the local stub; the job runner is the hub's own.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app import Hub, create_app
from core.db import InboxEvent, OutboxAction, OutcomeRow
from core.models import utcnow
from tests.slack_stub import SlackStub, fixture, sign
from tests.test_reply_while_deciding import Later, deliver
from tests.test_slack_flow import CHANNEL, ROOT_TS, TEAM, USER, make_hub, stub  # noqa: F401 - the stub fixture

UNKNOWN_TS = "1700000000.000001"


def press(client: Any, button: str, thread_ts: str, action_ts: str = "1719209900.123456") -> Any:
    click = fixture("block_actions_feedback")
    click["user"]["id"] = USER
    click["actions"][0].update(action_id=button, value=f"slack:{TEAM}:{CHANNEL}:{thread_ts}", action_ts=action_ts)
    body = urlencode({"payload": json.dumps(click)}).encode()
    return client.post("/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)})


def rows(hub: Hub, model: Any) -> list[Any]:
    with hub.db.session() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def dropped(client: Any) -> float:
    """The ``hub_pipeline_events_total`` count of presses dropped as naming no request the hub has."""
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(r'^hub_pipeline_events_total\{kind="feedback",outcome="unknown_request"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("button", ["hub_feedback_solved", "hub_feedback_not_solved"])
def test_a_signed_press_naming_an_unknown_request_is_dropped_at_once(sqlite_url: str, stub: SlackStub, button: str) -> None:
    hub = make_hub(sqlite_url, stub)
    try:
        client = create_app(hub=hub).test_client()
        before = dropped(client)
        response = press(client, button, UNKNOWN_TS)
        assert response.status_code == 200 and response.get_data() == b""  # Slack shows its user an error otherwise
        hub.jobs.drain()  # type: ignore[attr-defined]  # one run of the job runner

        [row] = rows(hub, InboxEvent)
        assert (row.kind, row.status, row.attempts) == ("feedback", "done", 1)  # finished: not pending, no retry
        assert rows(hub, OutcomeRow) == [] and rows(hub, OutboxAction) == []
        assert stub.calls == []  # nothing acknowledged on a thread the hub never answered
        assert dropped(client) == before + 1
    finally:
        hub.close()


def test_a_press_processed_before_its_request_is_decided_waits_and_counts(sqlite_url: str, stub: SlackStub) -> None:
    hub = make_hub(sqlite_url, stub)
    try:
        stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": "I forgot my password, how do I reset it?", "ts": ROOT_TS})
        client = create_app(hub=dataclasses.replace(hub, jobs=Later())).test_client()
        root = deliver(client, "EvRoot", text="I forgot my password, how do I reset it?", ts=ROOT_TS, event_ts=ROOT_TS)
        assert press(client, "hub_feedback_solved", ROOT_TS).status_code == 200
        [_, click] = [r.id for r in rows(hub, InboxEvent)]

        assert hub.handlers["inbox"](click) == "pending"  # the request is stored, not decided yet: the press waits
        assert hub.handlers["inbox"](root) == "done"  # answered
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert hub.handlers["inbox"](click, now=utcnow() + timedelta(minutes=1)) == "done"
        hub.jobs.drain()  # type: ignore[attr-defined]

        assert [o.kind for o in rows(hub, OutcomeRow)] == ["answer_posted", "solved"]  # recorded once decided
        assert [r.status for r in rows(hub, InboxEvent)] == ["done", "done"]
    finally:
        hub.close()
