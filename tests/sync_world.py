"""A Slack thread escalated to a help desk of record, through the real app (issue 12 tests): Slack is the
loopback stub, Zendesk and Jira are `responses` mocks at the transport. Shared by ``tests/test_sync_*.py``."""

from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
import responses
from sqlalchemy import select

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.zendesk import verify
from core.models import utcnow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.slack_stub import SlackStub, fixture, sign, slack_settings
from tests.test_slack_flow import ARTICLES, CHANNEL, ROOT, ROOT_TS, TEAM, USER
from tests.test_zendesk_connector import API as ZENDESK_API
from tests.test_zendesk_connector import ZENDESK
from tests.test_zendesk_mapping import load as zendesk_load

THREAD = f"slack:{TEAM}:{CHANNEL}:{ROOT_TS}"
REFUND = "I was charged twice and I want a refund"
RECORD_ID = 4014  # the id in the shared zendesk_ticket_create_response.json capture
HUB_USER, AGENT_USER, REQUESTER_USER = 7000000000001, 6130907993114, 6130869168922  # users_show_many.json
OTHER = "U0BOBBY01"


@dataclass
class World:
    hub: Hub
    client: Any
    stub: SlackStub
    api: responses.RequestsMock

    def drain(self) -> None:
        self.hub.jobs.drain()  # type: ignore[attr-defined]

    def slack(self, body: dict[str, Any]) -> Any:
        raw = json.dumps(body).encode()
        return self.client.post("/slack/events", data=raw, headers={"Content-Type": "application/json", **sign(raw)})

    def zendesk(self, body: dict[str, Any], invocation: str) -> Any:
        raw, headers = zendesk_signed(body, invocation)
        return self.client.post("/webhooks/zendesk", data=raw, headers=headers)

    def posts(self) -> list[Any]:
        """Slack ``chat.postMessage`` calls into the thread."""
        return [c for c in self.stub.calls_to("chat.postMessage") if c.args.get("thread_ts") == ROOT_TS]

    def rows(self, model: Any) -> list[Any]:
        with self.hub.db.session() as s:
            return list(s.scalars(select(model).order_by(model.id)))


def zendesk_world(database_url: str, stub: SlackStub, api: responses.RequestsMock, *, down: bool = False,
                  listed: tuple[dict[str, Any], ...] = (), **overrides: Any) -> World:
    """A hub with Slack and Zendesk, the thread ROOT_TS already escalated to Zendesk ticket 4014 (with ``down``,
    Zendesk answers the create with 503s until :func:`zendesk_back`: the ticket is not opened yet; ``listed``:
    replies already in the thread when the hub reads it, whose events Slack has not delivered)."""
    settings = slack_settings(database_url, stub, **{"HUB_CHANNEL_POLICIES": {CHANNEL: {"threshold": 0.5}}, "HUB_ESCALATION_TARGET": "zendesk",
                                                     **ZENDESK, **overrides})
    hub = build_hub(load_settings(settings))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    world = World(hub, create_app(hub=hub).test_client(), stub, api)
    if down:
        api.post(f"{ZENDESK_API}/tickets.json", json={"error": "service unavailable"}, status=503)
        api.get(f"{ZENDESK_API}/tickets.json", json={"tickets": [], "next_page": None, "count": 0})  # the create's look-up
    else:
        zendesk_back(api)
    api.put(f"{ZENDESK_API}/tickets/{RECORD_ID}.json", json=zendesk_load("ticket_update_response.json"))
    api.get(f"{ZENDESK_API}/users/me.json", json=zendesk_load("users_me.json"))
    api.get(f"{ZENDESK_API}/users/show_many.json", json=zendesk_load("users_show_many.json"))
    serve_record(api, [])
    say(world, USER, REFUND, ROOT_TS, root=True, listed=listed)
    world.drain()
    return world


def zendesk_back(api: responses.RequestsMock) -> None:
    """Zendesk opens ticket 4014 when asked."""
    created = json.loads(json.dumps(zendesk_load("ticket_update_response.json")))
    created["ticket"]["id"] = RECORD_ID
    api.upsert(responses.POST, f"{ZENDESK_API}/tickets.json", json=created, status=201)


def serve_record(api: responses.RequestsMock, comments: list[dict[str, Any]], status: str = "open", tags: tuple[str, ...] = ()) -> None:
    """Serve Zendesk ticket 4014 with the hub's private transcript first, then ``comments``."""
    show = zendesk_load("ticket_show.json")
    show["ticket"].update(id=RECORD_ID, status=status, requester_id=REQUESTER_USER, tags=["hub_created", *tags])
    transcript = {"id": 1, "author_id": HUB_USER, "body": REFUND, "public": False, "created_at": "2026-01-01T10:00:00Z"}
    listed = {"comments": [transcript, *comments], "next_page": None, "count": 1 + len(comments)}
    for url, body in ((f"{ZENDESK_API}/tickets/{RECORD_ID}.json", show), (f"{ZENDESK_API}/tickets/{RECORD_ID}/comments.json", listed)):
        api.upsert(responses.GET, url, json=body)


def zendesk_comment(comment_id: int, author: int, body: str, **fields: Any) -> dict[str, Any]:
    """A REST comment on ticket 4014."""
    return {"id": comment_id, "author_id": author, "body": body, "plain_body": body, "created_at": "2026-01-01T11:00:00Z", **fields}


def comment_added(comment_id: int, author: int, name: str, *, staff: bool, public: bool = True, ticket: int = RECORD_ID,
                  requester: int = REQUESTER_USER) -> dict[str, Any]:
    """The ``ticket.comment_added`` event webhook for ``ticket`` (4014 unless told; bench/mirror_latency.py uses others)."""
    body = json.loads(json.dumps(zendesk_load("event_comment_added.json")))
    body["id"] = f"evt-{comment_id}"
    body["detail"].update(id=str(ticket), tags=["hub_created"], requester_id=str(requester), created_at="2026-01-01T10:00:00Z")
    body["event"]["comment"] = {"id": comment_id, "body": "see the ticket", "is_public": public,
                                "author": {"id": str(author), "is_staff": staff, "name": name}}
    body["subject"] = f"zen:ticket:{ticket}"
    return body


def zendesk_signed(body: dict[str, Any], invocation: str, secret: str = "s3cret") -> tuple[bytes, dict[str, str]]:
    """A Zendesk webhook delivery of ``body``: the raw bytes and the headers Zendesk sends (signed now)."""
    raw = json.dumps(body).encode()
    ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {verify.SIGNATURE_HEADER: verify.sign(secret, ts, raw), verify.TIMESTAMP_HEADER: ts,
               "X-Zendesk-Webhook-Invocation-Id": invocation, "Content-Type": "application/json"}
    return raw, headers


def say(world: World, user: str, text: str, ts: str, *, root: bool = False, files: tuple[dict[str, Any], ...] = (),
        listed: tuple[dict[str, Any], ...] = ()) -> Any:
    """``user`` writes ``text`` in the thread (root message or reply), as Slack delivers and lists it, with
    ``files`` (Slack file objects) shared in it; a root with the replies ``listed`` after it."""
    if root:
        payload = copy.deepcopy(ROOT)
        payload["event"].update(text=text, ts=ts, event_ts=ts)
        world.stub.seed_thread(CHANNEL, {"type": "message", "user": user, "text": text, "ts": ts}, *listed)
    else:
        payload = fixture("event_message_thread_reply")
        payload["team_id"] = TEAM
        payload["event"].update(user=user, text=text, ts=ts, event_ts=ts, thread_ts=ROOT_TS, parent_user_id=USER, channel=CHANNEL)
        world.stub.threads[(CHANNEL, ROOT_TS)].append({"type": "message", "user": user, "text": text, "ts": ts, "thread_ts": ROOT_TS})
    if files:
        payload["event"]["files"] = [dict(f) for f in files]
        world.stub.threads[(CHANNEL, ROOT_TS)][-1]["files"] = [dict(f) for f in files]
    payload["event_id"] = f"Ev{ts.replace('.', '')}"
    response = world.slack(payload)
    assert response.status_code == 200
    return response


def echo_of(world: World, message: dict[str, Any]) -> dict[str, Any]:
    """The Events API delivery Slack makes of a message the hub posted in the thread (the loop to break)."""
    payload = fixture("event_message_thread_reply")
    payload["team_id"] = TEAM
    payload["event_id"] = f"EvECHO{message['ts'].replace('.', '')}"
    event = {k: v for k, v in message.items() if k != "blocks"}
    payload["event"] = {**event, "channel": CHANNEL, "event_ts": message["ts"], "parent_user_id": USER}
    return payload


# -- Jira as the help desk of record ------------------------------------------------------------------

RECORD_KEY = "SUP-42"  # tests/fixtures/jira/issue_create_response.json
JIRA_AGENT = {"accountId": "agent-7", "displayName": "Grace Hopper", "accountType": "atlassian"}
JIRA_HUB = {"accountId": "hub-account", "displayName": "Help-desk hub", "emailAddress": "hub@example.com", "accountType": "atlassian"}


def jira_world(database_url: str, stub: SlackStub, api: responses.RequestsMock, myself: dict[str, Any] | None = None,
               listed: tuple[dict[str, Any], ...] = (), **overrides: Any) -> World:
    """A hub with Slack and Jira, the thread ROOT_TS already escalated to Jira issue SUP-42 (``myself``: the
    hub's ``GET /myself``, Cloud-shaped unless told; ``listed``: as for :func:`zendesk_world`)."""
    from tests.test_jira_connector import API, JIRA
    from tests.test_jira_mapping import load

    settings = slack_settings(database_url, stub, HUB_CHANNEL_POLICIES={CHANNEL: {"threshold": 0.5}}, HUB_ESCALATION_TARGET="jira",
                              **JIRA, **overrides)
    hub = build_hub(load_settings(settings))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    world = World(hub, create_app(hub=hub).test_client(), stub, api)
    api.get(f"{API}/myself", json=myself or load("myself.json"))
    api.post(f"{API}/issue", json=load("issue_create_response.json"), status=201)
    api.post(f"{API}/issue/{RECORD_KEY}/comment", json=load("comment_create_response.json"), status=201)
    api.put(f"{API}/issue/{RECORD_KEY}", status=204)
    serve_issue(api, [])
    say(world, USER, REFUND, ROOT_TS, root=True, listed=listed)
    world.drain()
    return world


def serve_issue(api: responses.RequestsMock, comments: list[dict[str, Any]], status: str = "In Progress", files: tuple[str, ...] = (),
                updated: str | None = None) -> dict[str, Any]:
    """Serve Jira issue SUP-42 (opened by the hub: it is the reporter) with the hub's internal draft first;
    return the issue as served."""
    from tests.test_jira_connector import API
    from tests.test_jira_mapping import load

    issue = load("issue_get.json")
    issue.update(key=RECORD_KEY, id="10000")
    draft = {"id": "1", "author": JIRA_HUB, "body": "draft", "jsdPublic": False, "created": "2026-01-01T10:00:00.000+0000"}
    category = "done" if status in ("Done", "Resolved", "Closed") else "indeterminate"
    issue["fields"].update(summary=REFUND, description=REFUND, reporter=JIRA_HUB, creator=JIRA_HUB, labels=["hub_created"],
                           status={"name": status, "statusCategory": {"key": category}},
                           comment={"comments": [draft, *comments], "total": 1 + len(comments)},
                           attachment=[{"id": str(10000 + i), "filename": name, "mimeType": "application/pdf", "size": 1024,
                                        "content": f"http://127.0.0.1:8766/secure/attachment/{10000 + i}/{name}"} for i, name in enumerate(files)])
    if updated is not None:
        issue["fields"]["updated"] = updated
    api.upsert(responses.GET, f"{API}/issue/{RECORD_KEY}", json=issue)
    return issue


def jira_comment(comment_id: str, author: dict[str, Any], body: str, **fields: Any) -> dict[str, Any]:
    """A REST comment on SUP-42."""
    return {"id": comment_id, "author": author, "body": body, "created": "2026-01-01T11:00:00.000+0000", **fields}


def jira_comment_created(world: World, comment: dict[str, Any]) -> Any:
    """Deliver Jira Cloud's ``comment_created`` for SUP-42 (the real 2024 capture's shape: a partial issue
    with no reporter and no labels), signed."""
    raw, headers = jira_comment_created_signed(comment)
    return world.client.post("/webhooks/jira", data=raw, headers=headers)


def jira_comment_created_signed(comment: dict[str, Any], key: str = RECORD_KEY, issue_id: str = "10000",
                                base: str = "http://127.0.0.1:8766", secret: str = "s3cret") -> tuple[bytes, dict[str, str]]:
    """Jira Cloud's ``comment_created`` for issue ``key`` as delivered (the real 2024 capture's shape), written
    and signed now: the raw bytes and the headers."""
    import time
    from pathlib import Path

    from connectors.jira import events

    capture = Path(__file__).parent.parent.parent / "shared/fixtures/payloads/jira_cloud_webhook_comment_created_2024_mentions.json"
    body = json.loads(capture.read_text())
    body["timestamp"] = int(time.time() * 1000)
    body["issue"].update(key=key, id=issue_id)
    body["comment"] = {**body["comment"], **{k: v for k, v in comment.items() if k in ("id", "author", "body")}}
    now = time.time()  # a comment delivered now was written now
    written = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000"
    body["comment"].update(created=written, updated=written)
    body["comment"]["self"] = f"{base}/rest/api/2/issue/{issue_id}/comment/{comment['id']}"
    for name in ("jsdPublic", "visibility", "properties"):
        body["comment"].pop(name, None)
        if name in comment:
            body["comment"][name] = comment[name]
    raw = json.dumps(body).encode()
    return raw, {"X-Hub-Signature": events.sign(secret, raw), "Content-Type": "application/json"}


def assert_reply_and_solve_mirrored_once(world: World) -> None:
    """Once the poll saw a public reply, an internal note ("finance approved") and a last reply submitted
    as solved: the thread got the first reply once, the last reply and the solved notice, never the note."""
    world.drain()
    texts = [p.args["text"] for p in world.posts()[1:]]
    assert len(texts) == 3 and sum("We refunded the second charge." in t for t in texts) == 1
    assert any("the refund is on its way" in t for t in texts) and any("was marked solved" in t for t in texts)
    assert "finance approved" not in json.dumps(texts)


def people_stub() -> SlackStub:
    """A started Slack stub that knows the requester (Ada, ``USER``) and a teammate in her thread (Bob, ``OTHER``)."""
    server = SlackStub().start()
    server.users[USER] = {"id": USER, "name": "ada", "real_name": "Ada Lovelace",
                          "profile": {"email": "ada@example.com", "real_name": "Ada Lovelace"}}
    server.users[OTHER] = {"id": OTHER, "name": "bob", "real_name": "Bob Teammate", "profile": {"real_name": "Bob Teammate"}}
    return server


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    """The :func:`people_stub` of one test (the sync tests import this fixture)."""
    server = people_stub()
    yield server
    server.stop()


@contextmanager
def running(make: Callable[..., World], database_url: str, stub: SlackStub, **kwargs: Any) -> Iterator[World]:
    """A world made by ``make`` (:func:`zendesk_world`, :func:`jira_world`) with its vendor faked by ``responses``
    for the block's length, its hub closed after it (what each sync test module's ``world`` fixture does)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        built = make(database_url, stub, api, **kwargs)
        try:
            yield built
        finally:
            built.hub.close()
