"""Zendesk end to end through the real app, the pipeline and the outbox: a new ticket answered with one
public comment, then "it still does not work" or a new question handing it to agents with a private, refreshed draft.

Zendesk is mocked at the transport with `responses` (zenpy speaks requests).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

import pytest
import responses
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from core.db import DecisionRow, OutcomeRow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.test_slack_flow import ARTICLES
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_mapping import load
from tests.test_zendesk_webhook import post

TICKET = "5158"
QUESTION = "I forgot my password, how do I reset it?"


def mock_ticket(api: responses.RequestsMock, *comments: dict[str, Any], replace: bool = False) -> None:
    """Serve ticket 5158 (the question as its first comment, then ``comments``)."""
    show = load("ticket_show.json")
    show["ticket"].update(id=int(TICKET), subject="Password", description=QUESTION, status="new")
    listed = load("ticket_comments.json")
    first = copy.deepcopy(listed["comments"][0]) | {"id": 101, "body": QUESTION, "plain_body": QUESTION, "html_body": QUESTION}
    listed["comments"] = [first, *comments]
    register = api.replace if replace else api.add
    register(responses.GET, f"{API}/tickets/{TICKET}.json", json=show)
    register(responses.GET, f"{API}/tickets/{TICKET}/comments.json", json=listed)


def mock_desk(api: responses.RequestsMock) -> None:
    """Serve what deciding on ticket 5158 reads and writes: the hub's own agent, the comments' authors, the
    ticket with its comments (:func:`mock_ticket`), and the ticket's update."""
    api.get(f"{API}/users/me.json", json=load("users_me.json"))
    api.get(f"{API}/users/show_many.json", json=load("users_show_many.json"))
    api.put(f"{API}/tickets/{TICKET}.json", json=load("ticket_update_response.json"))
    mock_ticket(api)


def sent_updates(api: responses.RequestsMock) -> list[dict[str, Any]]:
    return [json.loads(c.request.body)["ticket"] for c in api.calls if c.request.method == "PUT"]


@pytest.mark.parametrize("reply,outcomes", [
    ("It still does not work, I need a person", ["answer_posted", "not_solved", "escalated"]),
    # a new question says nothing of the answer: handed over with a draft, no "not solved"
    ("Thanks! Also, how do I export a report to CSV?", ["answer_posted", "escalated"]),
])
def test_answered_publicly_once_then_handed_to_agents_with_a_private_draft(sqlite_url: str, reply: str, outcomes: list[str]) -> None:
    settings = settings_dict(sqlite_url, **ZENDESK, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}})
    hub = build_hub(load_settings(settings))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    client = create_app(hub=hub).test_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        mock_desk(api)
        assert post(client, "event_ticket_created.json", invocation="inv-1").get_json()["status"] == "accepted"
        assert post(client, "event_ticket_created.json", invocation="inv-1").get_json()["status"] == "duplicate"
        hub.jobs.drain()  # type: ignore[attr-defined]
        [answer] = sent_updates(api)
        assert answer["comment"]["public"] is True and "Forgot password" in answer["comment"]["body"]
        assert "https://kb.example/reset-password" in answer["comment"]["body"]
        assert answer["status"] == "pending" and answer["additional_tags"][0] == "hub_answered"
        assert [t[:5] for t in answer["additional_tags"][1:]] == ["hub_w"], "the write's own key tag (already_wrote)"

        # The requester writes back, after the answer (words written before it are part of the request).
        written = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        mock_ticket(api, {"id": 9876543210, "author_id": 6130869168922, "public": True, "body": reply, "plain_body": reply,
                          "created_at": written}, replace=True)
        assert post(client, "event_comment_added.json", invocation="inv-2", comment=reply, at=written).get_json()["status"] == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        updates = sent_updates(api)

    assert len(updates) == 2, "one public answer, one private draft: never a second public answer"
    draft = updates[1]
    assert draft["comment"]["public"] is False and draft["status"] == "open"
    assert "hub_escalated" in draft["additional_tags"] and "Reset your password" in draft["comment"]["body"]
    with hub.db.session() as s:
        assert [o.kind for o in s.scalars(select(OutcomeRow).order_by(OutcomeRow.id))] == outcomes
        assert [(d.trigger, d.verdict) for d in s.scalars(select(DecisionRow).order_by(DecisionRow.id))] == [
            ("request", "answer"), ("follow_up", "escalate")]
    hub.close()
