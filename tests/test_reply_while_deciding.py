"""A reply written while its thread's request is still being decided is not lost.

Two workers (two Celery workers, or two threads of the embedded pool) take a thread's root message and the
requester's quick reply ("actually, I need a person") at the same time. The root's worker read the thread
before the reply was there; the reply's worker finds no ticket yet. The reply used to be dropped
(``unknown_ticket``) and the request answered as if it had never been written; it now waits for the decision
and then counts as the follow-up it is.

The order is forced without timing: both deliveries are stored through the real app with a job queue that
hands nothing out, then the workers' handler runs them in the racing order.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app import create_app
from core.db import InboxEvent, OutcomeRow
from core.models import utcnow
from tests.slack_stub import SlackStub, sign
from tests.test_slack_flow import CHANNEL, ROOT, ROOT_TS, USER, make_hub, stub  # noqa: F401 - the stub fixture

REPLY_TS = "1700000000.999999"


class Later:
    """Stores are handed to nobody: the test runs the workers' handler itself, in the order it wants."""

    def submit(self, queue: str, row_id: int) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


def deliver(client: Any, event_id: str, **fields: Any) -> int:
    payload = copy.deepcopy(ROOT)
    payload["event_id"] = event_id
    payload["event"].update(fields)
    body = json.dumps(payload).encode()
    response = client.post("/slack/events", data=body, headers={"Content-Type": "application/json", **sign(body)})
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    return int(response.get_json()["id"])


def test_a_reply_processed_before_its_request_is_decided_still_reaches_a_person(sqlite_url: str, stub: SlackStub) -> None:
    hub = make_hub(sqlite_url, stub)
    try:
        # Slack lists the root only: the root's worker read the thread before the reply was written.
        stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": "I forgot my password, how do I reset it?", "ts": ROOT_TS})
        client = create_app(hub=dataclasses.replace(hub, jobs=Later())).test_client()
        root = deliver(client, "EvRoot", text="I forgot my password, how do I reset it?", ts=ROOT_TS, event_ts=ROOT_TS)
        reply = deliver(client, "EvReply", text="Actually I need to talk to a human, please", ts=REPLY_TS, event_ts=REPLY_TS,
                        thread_ts=ROOT_TS, parent_user_id=USER)

        assert hub.handlers["inbox"](reply) == "pending"  # the request is not decided yet: the reply waits
        assert hub.handlers["inbox"](root) == "done"  # answered, from the thread as it was read
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert hub.handlers["inbox"](reply, now=utcnow() + timedelta(minutes=1)) == "done"
        hub.jobs.drain()  # type: ignore[attr-defined]

        with hub.db.session() as s:
            kinds = list(s.scalars(select(OutcomeRow.kind).order_by(OutcomeRow.id)))
            statuses = list(s.scalars(select(InboxEvent.status).order_by(InboxEvent.id)))
        assert kinds == ["answer_posted", "not_solved", "escalated"] and statuses == ["done", "done"]  # as a reply after the answer
    finally:
        hub.close()
