"""The buttons under an answer are the requester's word, not anyone's in the channel.

Anyone in a channel can press "This solved it" under the hub's answer to someone else's question. The click
was recorded as the requester's ``solved`` (a verified resolution on the dashboard) and "I still need help"
as theirs (an escalation), although a bystander's words in the thread are never taken as the requester's
(``from_requester``). Slack is the local stub server; the clicks are signed the way Slack signs them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from app import create_app
from core.db import OutcomeRow
from tests.slack_stub import SlackStub, fixture, sign
from tests.test_slack_flow import CHANNEL, ROOT_TS, TEAM, USER, ask, make_hub, rows
from tests.test_slack_flow import stub as stub  # noqa: F401 - the fixture

BYSTANDER = "U0BYSTAND1"


def click(client: Any, answer_ts: str, user: str, action_ts: str, solved: bool) -> None:
    payload = fixture("block_actions_feedback")
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM}
    payload["container"]["message_ts"] = answer_ts
    payload["actions"][0].update(action_id="hub_feedback_solved" if solved else "hub_feedback_not_solved",
                                 value=f"slack:{TEAM}:{CHANNEL}:{ROOT_TS}", action_ts=action_ts)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    response = client.post("/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)})
    assert response.status_code == 200


def test_a_bystanders_clicks_are_not_the_requesters_verdict(sqlite_url: str, stub: SlackStub) -> None:  # noqa: F811
    hub = make_hub(sqlite_url, stub)
    client = create_app(hub=hub).test_client()
    try:
        ask(client, stub, "I forgot my password, how do I reset it?", ROOT_TS)
        hub.jobs.drain()  # type: ignore[attr-defined]
        answer_ts = stub.threads[(CHANNEL, ROOT_TS)][-1]["ts"]

        click(client, answer_ts, BYSTANDER, "1719209600.000001", solved=True)
        click(client, answer_ts, BYSTANDER, "1719209600.000002", solved=False)
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert [o.kind for o in rows(hub, OutcomeRow)] == ["answer_posted"]  # neither solved nor escalated
        assert stub.calls_to("chat.update") == []  # the buttons stay for the requester

        click(client, answer_ts, USER, "1719209600.000003", solved=True)
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert [o.kind for o in rows(hub, OutcomeRow)] == ["answer_posted", "solved"]
        assert len(stub.calls_to("chat.update")) == 1
    finally:
        hub.close()
