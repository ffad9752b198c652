"""A Zendesk and a Jira that go down and come back, faked at the transport with stateful ``responses`` callbacks,
and a hub whose clock the test drives (the inbox and outbox are run at a given ``now``, as the sweeper would).

A vendor's answers to reads (or to writes) follow a :class:`Faults` script: each request takes the next fault
(``429`` with or without ``Retry-After``, ``503``/``502``/``500``, a connect or read timeout) until none is left,
then the vendor answers as usual. Writes are applied only when they succeed, the way the vendors do.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Union

import requests
import responses
from sqlalchemy import select

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.jira import events
from core import work
from core.db import InboxEvent, OutboxAction
from core.models import as_utc, utcnow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.test_jira_connector import API as JIRA_API, JIRA
from tests.test_jira_mapping import fresh_body, load as load_jira
from tests.test_slack_flow import ARTICLES
from tests.test_zendesk_connector import API as ZENDESK_API, ZENDESK
from tests.test_zendesk_mapping import load as load_zendesk
from tests.test_zendesk_webhook import post as post_zendesk

TOKEN = "admin-token-for-outages"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}
Answer = tuple[int, dict[str, str], str]
Fault = Union[Answer, type[requests.RequestException]]


def rate_limited(seconds: int | None) -> Answer:
    """A 429, with ``Retry-After: seconds`` when given."""
    headers = {**JSON, **({"Retry-After": str(seconds)} if seconds is not None else {})}
    return 429, headers, json.dumps({"error": "TooManyRequests", "errorMessages": ["Rate limit exceeded"]})


def server_error(status: int = 503) -> Answer:
    """A 5xx with an HTML body, as a load balancer in front of the vendor answers."""
    return status, {"Content-Type": "text/html"}, f"<html><body>{status}</body></html>"


@dataclass
class Faults:
    """The vendor's next answers: each request takes the next fault (an exception class is raised, as the
    transport would); ``log`` keeps when each request came and what it got."""

    script: list[Fault] = field(default_factory=list)
    log: list[tuple[datetime, str, str]] = field(default_factory=list)

    def gate(self, request: Any) -> Answer | None:
        """The fault this request meets (``None``: the vendor answers it as usual)."""
        fault = self.script.pop(0) if self.script else None
        path = request.url.split("?", 1)[0]
        if isinstance(fault, type):
            self.log.append((utcnow(), path, fault.__name__))
            raise fault(f"fault injected at {path}")
        self.log.append((utcnow(), path, str(fault[0]) if fault else "ok"))
        return fault

    def failures(self) -> list[tuple[datetime, str]]:
        """When each failed request came, and what it met."""
        return [(at, what) for at, _, what in self.log if what != "ok"]


def reader(faults: Faults, body: dict[str, Any]) -> Any:
    """A ``responses`` callback that answers ``body`` unless ``faults`` has a fault for the request."""

    def read(request: Any) -> Answer:
        return faults.gate(request) or (200, JSON, json.dumps(body))

    return read


class Zendesk:
    """Ticket 5158 (a password question): reads pass ``reads``, ticket updates pass ``writes`` and are applied
    (comment and tags together) only when they succeed."""

    TICKET = "5158"

    def __init__(self, api: responses.RequestsMock, question: str = "I forgot my password, how do I reset it?") -> None:
        self.reads, self.writes = Faults(), Faults()
        self.shown = load_zendesk("ticket_show.json")
        self.shown["ticket"].update(id=int(self.TICKET), subject="Password", description=question, status="new")
        listed = load_zendesk("ticket_comments.json")
        first = copy.deepcopy(listed["comments"][0]) | {"id": 101, "body": question, "plain_body": question, "html_body": question}
        listed["comments"] = [first]
        self.comments: list[dict[str, Any]] = listed["comments"]  # what the comments read lists: add to it
        self.applied: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        base = f"{ZENDESK_API}/tickets/{self.TICKET}"
        for url, body in [(f"{base}.json", self.shown), (f"{base}/comments.json", listed),
                          (f"{ZENDESK_API}/users/me.json", load_zendesk("users_me.json")),
                          (f"{ZENDESK_API}/users/show_many.json", load_zendesk("users_show_many.json"))]:
            api.add_callback("GET", url, callback=reader(self.reads, body))
        api.add_callback("PUT", f"{base}.json", callback=self.update)

    def update(self, request: Any) -> Answer:
        ticket = json.loads(request.body)["ticket"]
        self.sent.append(ticket)
        fault = self.writes.gate(request)
        if fault is not None:
            return fault
        self.applied.append(ticket["comment"])
        tags = self.shown["ticket"]["tags"]
        tags.extend(t for t in ticket.get("additional_tags", ()) if t not in tags)
        return 200, JSON, json.dumps(load_zendesk("ticket_update_response.json"))

    def deliver(self, client: Any) -> str:
        """The ticket-created webhook, signed; returns the hub's answer's status."""
        return str(post_zendesk(client, "event_ticket_created.json", invocation="inv-outage").get_json()["status"])


class Jira:
    """Issue KAN-3 (by default a refund request: the hub leaves an internal draft): reads pass ``reads``, comment
    posts pass ``writes`` and are kept only when they succeed, with their properties (the hub's ``hub_key``)."""

    KEY = "KAN-3"

    def __init__(self, api: responses.RequestsMock, summary: str = "Refund please",
                 question: str = "I was charged twice, please refund me") -> None:
        self.reads, self.writes = Faults(), Faults()
        self.issue = load_jira("issue_get.json")
        self.issue.update(key=self.KEY)
        self.issue["fields"].update(summary=summary, description=question, comment={"comments": []})
        self.applied: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.labels: list[str] = []
        api.add_callback("GET", f"{JIRA_API}/myself", callback=reader(self.reads, load_jira("myself.json")))
        api.add_callback("GET", f"{JIRA_API}/issue/{self.KEY}", callback=reader(self.reads, self.issue))
        api.add_callback("POST", f"{JIRA_API}/issue/{self.KEY}/comment", callback=self.comment)
        api.add_callback("GET", f"{JIRA_API}/issue/{self.KEY}/comment", callback=self.comments)
        api.add_callback("GET", re.compile(rf"{JIRA_API}/comment/\d+/properties/hub_key"), callback=self.key_property)
        api.add_callback("PUT", f"{JIRA_API}/issue/{self.KEY}", callback=self.label)

    def comment(self, request: Any) -> Answer:
        body = json.loads(request.body)
        self.sent.append(body)
        fault = self.writes.gate(request)
        if fault is not None:
            return fault
        self.applied.append(body)
        return 201, JSON, json.dumps(load_jira("comment_create_response.json") | {"id": str(10000 + len(self.applied))})

    def comments(self, request: Any) -> Answer:
        """The comments kept, each the hub's own (ids 10001, 10002, ...)."""
        mine = load_jira("myself.json")
        shown = [{"id": str(10001 + i), "author": mine, "body": c["body"]} for i, c in enumerate(self.applied)]
        page = {"startAt": 0, "maxResults": 100, "total": len(shown), "comments": shown}
        return self.reads.gate(request) or (200, JSON, json.dumps(page))

    def key_property(self, request: Any) -> Answer:
        index = int(request.url.split("/comment/")[1].split("/")[0]) - 10001
        kept = self.applied[index].get("properties", []) if 0 <= index < len(self.applied) else []
        found = next((p for p in kept if p["key"] == "hub_key"), None)
        if found is None:
            return 404, JSON, json.dumps({"errorMessages": ["The property was not found"]})
        return 200, JSON, json.dumps(found)

    def label(self, request: Any) -> Answer:
        self.labels.extend(op["add"] for op in json.loads(request.body)["update"]["labels"])
        return 204, {}, ""

    def deliver(self, client: Any) -> str:
        """The issue-created webhook, signed; returns the hub's answer's status."""
        body = fresh_body("webhook_issue_created.json")
        headers = {"X-Hub-Signature": events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": "wh-outage", **JSON}
        return str(client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"])


def make_hub(database_url: str, *vendors: str, **overrides: Any) -> tuple[Hub, Any]:
    """A hub with the ``vendors``' connectors (it answers on Zendesk and Jira from confidence 0.5), the sample KB, an
    admin token, and its app's test client."""
    connectors = {**(ZENDESK if "zendesk" in vendors else {}), **(JIRA if "jira" in vendors else {})}
    values = settings_dict(database_url, **connectors, HUB_ADMIN_TOKEN=TOKEN,
                           HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}, "jira": {"threshold": 0.5}}, **overrides)
    hub = build_hub(load_settings(values))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    return hub, create_app(hub=hub).test_client()


def run_inbox(hub: Hub, now: datetime) -> int:
    """Process every inbox row due at ``now`` through the hub's own inbox handler, as a sweep at ``now`` would,
    and wait for the writes it hands out. Returns how many rows were due."""
    due = work.due_ids(hub.db, InboxEvent, now)
    for row_id in due:
        hub.handlers["inbox"](row_id, now=now)  # type: ignore[call-arg]
    hub.jobs.drain()  # type: ignore[attr-defined]
    return len(due)


def run_outbox(hub: Hub, now: datetime) -> int:
    """Perform every outbox row due at ``now`` through the hub's own outbox handler. Returns how many were due."""
    due = work.due_ids(hub.db, OutboxAction, now)
    for row_id in due:
        hub.handlers["outbox"](row_id, now=now)  # type: ignore[call-arg]
    return len(due)


def inbox_row(hub: Hub) -> InboxEvent:
    """The one inbox row."""
    with hub.db.session() as s:
        [row] = s.scalars(select(InboxEvent)).all()
        s.expunge(row)
        return row


def outbox_rows(hub: Hub) -> list[OutboxAction]:
    with hub.db.session() as s:
        rows = list(s.scalars(select(OutboxAction).order_by(OutboxAction.id)))
        for row in rows:
            s.expunge(row)
        return rows


def next_at(row: InboxEvent | OutboxAction) -> datetime:
    return as_utc(row.next_attempt_at)


def queues(client: Any) -> dict[str, Any]:
    """``GET /api/v1/queues`` (must answer 200)."""
    response = client.get("/api/v1/queues", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def health(client: Any) -> tuple[int, dict[str, Any]]:
    """``GET /healthz``: the status code and the work queues' report."""
    response = client.get("/healthz")
    body = response.get_json()
    return response.status_code, {"status": body["status"], **body["work"]}


def after(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)
