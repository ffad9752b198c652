"""A request is escalated at most once, even when two "it did not help" arrive together and two inbox workers
process them at the same moment. Through the real app on SQLite and PostgreSQL; the vendors are faked at the
transport (Slack: the loopback stub; Zendesk: `responses`), and each fake holds the two workers' reads of the
request until both are inside the escalation, so the race is run every time, not by luck.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import timedelta
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
import responses
from alembic import command
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import IntegrityError

import migrations
from app import Hub, build_hub, create_app
from config import load_settings
from connectors.zendesk import verify
from core.db import DecisionRow, InboxEvent, OutcomeRow
from core.models import utcnow
from core.queues import sweep
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.slack_stub import SlackStub, fixture, sign, slack_settings
from tests.sync_world import RECORD_ID, people_stub, serve_record, zendesk_world
from tests.test_slack_flow import ARTICLES, CHANNEL, CREATED, ROOT_TS, TEAM, ZENDESK, ask
from tests.test_zendesk_connector import API
from tests.test_zendesk_connector import ZENDESK as ZENDESK_SETTINGS
from tests.test_zendesk_flow import QUESTION, TICKET, mock_desk, mock_ticket
from tests.test_zendesk_mapping import load
from tests.test_zendesk_webhook import post as zendesk_post

THREAD = f"slack:{TEAM}:{CHANNEL}:{ROOT_TS}"


def rows(hub: Hub, model: Any) -> list[Any]:
    with hub.db.session() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def outcomes(hub: Hub) -> list[str]:
    return [o.kind for o in rows(hub, OutcomeRow)]


# -- Slack: the "I still need help" button clicked twice --------------------------------------------


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    server = people_stub()
    yield server
    server.stop()


def click(client: Any, answer_ts: str, action_ts: str) -> None:
    payload = fixture("block_actions_feedback")
    payload["container"]["message_ts"] = answer_ts
    payload["actions"][0].update(action_id="hub_feedback_not_solved", value=THREAD, action_ts=action_ts,
                                 text={"type": "plain_text", "text": "I still need help"})
    body = urlencode({"payload": json.dumps(payload)}).encode()
    response = client.post("/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)})
    assert response.status_code == 200


def test_two_concurrent_still_need_help_clicks_open_one_ticket(database_url: str, stub: SlackStub) -> None:
    settings = slack_settings(database_url, stub, HUB_CHANNEL_POLICIES={CHANNEL: {"threshold": 0.5}}, HUB_JOB_WORKERS=2,
                              HUB_ESCALATION_TARGET="zendesk", ZENDESK_URL=ZENDESK, ZENDESK_EMAIL="hub@example.com",
                              ZENDESK_API_TOKEN="t")
    hub = build_hub(load_settings(settings))
    import_articles(hub.db, (parse_markdown(body, name) for name, body in ARTICLES.items()))
    client = create_app(hub=hub).test_client()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.post(f"{ZENDESK}/api/v2/tickets.json", json=CREATED, status=201)
            api.put(f"{ZENDESK}/api/v2/tickets/{CREATED['ticket']['id']}.json", json={"ticket": CREATED["ticket"], "audit": CREATED["audit"]})
            ask(client, stub, "I forgot my password, how do I reset it?", ROOT_TS)
            hub.jobs.drain()  # type: ignore[attr-defined]
            assert len(stub.calls_to("chat.postMessage")) == 1, "answered in the thread"
            answer_ts = stub.threads[(CHANNEL, ROOT_TS)][-1]["ts"]

            # Both workers read the thread at the same moment: both are past any "already escalated?" read.
            stub.rendezvous("conversations.replies", 2)
            click(client, answer_ts, "1800000900.000001")
            click(client, answer_ts, "1800000900.000002")  # the same person, a double click
            hub.jobs.drain()  # type: ignore[attr-defined]
            creates = [json.loads(c.request.body)["ticket"] for c in api.calls
                       if c.request.method == "POST" and c.request.url.endswith("/tickets.json")]

        assert len(creates) == 1, "one ticket at the help desk"
        assert "I forgot my password" in creates[0]["comment"]["body"]
        assert outcomes(hub) == ["answer_posted", "not_solved", "escalated"]
        assert [(d.trigger, d.verdict) for d in rows(hub, DecisionRow)] == [("request", "answer"), ("follow_up", "escalate")]
        notices = [c for c in stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == ROOT_TS][1:]
        assert len(notices) == 1 and notices[0].args["text"].endswith(f"/agent/tickets/{CREATED['ticket']['id']}")
        answered = next(m for m in stub.threads[(CHANNEL, ROOT_TS)] if m["ts"] == answer_ts)
        assert "actions" not in json.dumps(answered["blocks"]), "the clicks were acknowledged"
        assert [r.status for r in rows(hub, InboxEvent)] == ["done", "done", "done"]
    finally:
        hub.close()


# -- Zendesk: two "it did not help" comments on an answered ticket ------------------------------------


class Rendezvous:
    """A `responses` callback that holds the next ``parties`` reads until all have arrived."""

    def __init__(self, body: dict[str, Any], parties: int = 2) -> None:
        self.body, self.left = body, parties
        self.barrier = threading.Barrier(parties, timeout=20)
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self.lock:
            wait, self.left = self.left > 0, self.left - 1
        if wait:
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                pass
        return 200, {"Content-Type": "application/json"}, json.dumps(self.body)


def comment(comment_id: int, words: str) -> dict[str, Any]:
    return {"id": comment_id, "author_id": 6130869168922, "public": True, "body": words, "plain_body": words,
            "created_at": "2025-01-08T14:25:30Z"}


def test_two_concurrent_did_not_help_comments_leave_one_draft(database_url: str) -> None:
    settings = settings_dict(database_url, **ZENDESK_SETTINGS, HUB_JOB_WORKERS=2, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}})
    hub = build_hub(load_settings(settings))
    import_articles(hub.db, (parse_markdown(body, name) for name, body in ARTICLES.items()))
    client = create_app(hub=hub).test_client()
    first, second = "It still does not work, I need a person", "Still broken. Can I talk to a human?"
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            mock_desk(api)
            assert zendesk_post(client, "event_ticket_created.json", invocation="inv-1").get_json()["status"] == "accepted"
            hub.jobs.drain()  # type: ignore[attr-defined]

            mock_ticket(api, comment(9876543210, first), comment(9876543211, second), replace=True)
            show = load("ticket_show.json")
            show["ticket"].update(id=int(TICKET), subject="Password", description=QUESTION, status="pending")
            api.remove(responses.GET, f"{API}/tickets/{TICKET}.json")
            api.add_callback(responses.GET, f"{API}/tickets/{TICKET}.json", callback=Rendezvous(show))
            for comment_id, words in ((9876543210, first), (9876543211, second)):
                body = copy.deepcopy(load("event_comment_added.json"))
                body["id"] = f"evt-{comment_id}"
                body["event"]["comment"].update(id=comment_id, body=words)
                assert _deliver(client, body).get_json()["status"] == "accepted"
            hub.jobs.drain()  # type: ignore[attr-defined]
            updates = [json.loads(c.request.body)["ticket"] for c in api.calls if c.request.method == "PUT"]

        answer, *drafts = updates
        assert answer["comment"]["public"] is True
        assert len(drafts) == 1, "one private draft handing the ticket to agents"
        assert drafts[0]["comment"]["public"] is False and drafts[0]["status"] == "open"
        assert outcomes(hub) == ["answer_posted", "not_solved", "escalated"]
        assert [(d.trigger, d.verdict) for d in rows(hub, DecisionRow)] == [("request", "answer"), ("follow_up", "escalate")]
        assert [r.status for r in rows(hub, InboxEvent)] == ["done", "done", "done"]
    finally:
        hub.close()


def _deliver(client: Any, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {verify.SIGNATURE_HEADER: verify.sign("s3cret", ts, raw), verify.TIMESTAMP_HEADER: ts,
               "X-Zendesk-Webhook-Invocation-Id": f"inv-{body['id']}", "Content-Type": "application/json"}
    return client.post("/webhooks/zendesk", data=raw, headers=headers)


# -- a ticket of record solved: "I still need help" under its status message, clicked twice ---------------


def test_two_concurrent_clicks_under_a_solved_ticket_reopen_it_once(database_url: str, stub: SlackStub) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        world = zendesk_world(database_url, stub, api, HUB_JOB_WORKERS=2)
        try:
            status = load("event_status_changed.json")
            status["detail"].update(id=str(RECORD_ID), tags=["hub_created"], status="SOLVED")
            status["event"] = {"current": "SOLVED", "previous": "OPEN"}
            serve_record(api, [], status="solved")
            assert world.zendesk(status, "inv-status").get_json()["status"] == "accepted"
            world.drain()
            solved_ts = stub.threads[(CHANNEL, ROOT_TS)][-1]["ts"]
            before = len([c for c in api.calls if c.request.method == "PUT"])

            # Both workers read the ticket of record at the same moment, and both find it solved.
            show = json.loads(next(c for c in reversed(api.calls) if c.request.url.endswith(f"/tickets/{RECORD_ID}.json")
                                   and c.request.method == "GET").response.text)
            api.remove(responses.GET, f"{API}/tickets/{RECORD_ID}.json")
            api.add_callback(responses.GET, f"{API}/tickets/{RECORD_ID}.json", callback=Rendezvous(show))
            click(world.client, solved_ts, "1800000950.000001")
            click(world.client, solved_ts, "1800000950.000002")
            world.drain()
            reopens = [json.loads(c.request.body)["ticket"] for c in api.calls if c.request.method == "PUT"][before:]
            assert len(reopens) == 1 and reopens[0]["status"] == "open" and reopens[0]["comment"]["public"] is False
            assert outcomes(world.hub).count("escalated") == 1
            assert {r.status for r in rows(world.hub, InboxEvent)} == {"done"}
        finally:
            world.hub.close()


def test_a_worker_restarted_on_an_escalated_request_writes_nothing_more(database_url: str, stub: SlackStub) -> None:
    # A worker died after it committed the request's escalation, before it finished the inbox row: another takes
    # the row up once the ticket of record exists. The request is decided; it is no mention in a synced thread,
    # to be carried into its own ticket as the requester's comment.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        world = zendesk_world(database_url, stub, api)
        try:
            writes, posts = len([c for c in api.calls if c.request.method != "GET"]), len(stub.calls_to("chat.postMessage"))
            [row] = rows(world.hub, InboxEvent)
            with world.hub.db.session() as s:
                s.execute(update(InboxEvent).where(InboxEvent.id == row.id).values(status="running", locked_until=utcnow() - timedelta(seconds=1)))
            sweep(world.hub.db, world.hub.jobs)
            world.drain()
            assert len([c for c in api.calls if c.request.method != "GET"]) == writes and len(stub.calls_to("chat.postMessage")) == posts
            assert [(r.status, r.attempts) for r in rows(world.hub, InboxEvent)] == [("done", 2)]
        finally:
            world.hub.close()


# -- the database's rule, and its migration ---------------------------------------------------------------


def test_the_migration_keeps_the_first_escalation_of_each_request_and_then_refuses_a_second(database_url: str) -> None:
    command.downgrade(migrations.alembic_config(database_url), "0004")
    engine = create_engine(database_url)
    insert = text("INSERT INTO outcomes (ticket_ref, kind, detail, created_at) VALUES (:ref, :kind, '{}', CURRENT_TIMESTAMP)")
    try:
        with engine.begin() as conn:  # what concurrent clicks could leave behind before 0005
            for ref, kind in (("slack:T:C:1", "escalated"), ("slack:T:C:1", "not_solved"), ("slack:T:C:1", "escalated"),
                              ("zendesk:7", "escalated"), ("slack:T:C:1", "agent_reply"), ("slack:T:C:1", "agent_reply")):
                conn.execute(insert, {"ref": ref, "kind": kind})
        migrations.upgrade(database_url)
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT ticket_ref, kind FROM outcomes ORDER BY id")).all()
        assert [tuple(r) for r in kept] == [("slack:T:C:1", "escalated"), ("slack:T:C:1", "not_solved"), ("zendesk:7", "escalated"),
                                            ("slack:T:C:1", "agent_reply"), ("slack:T:C:1", "agent_reply")]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"ref": "zendesk:7", "kind": "escalated"})
    finally:
        engine.dispose()
