"""Loopback stand-ins for the Zendesk and Jira Cloud REST APIs, for benchmarks against a real ``hub serve``.

Each is an ``http.server`` on 127.0.0.1, port 0, in a thread, holding tickets (issues) in memory and answering
what the hub reads and writes, in the shapes the vendors document (platform-apis.md 2 and 3; the captures in
``tests/fixtures/zendesk`` and ``tests/fixtures/jira``):

- Zendesk: ``GET /users/me.json``, ``GET /users/show_many.json``, ``POST /tickets.json`` (the requester found or
  created by email; ``{ticket, audit}``), ``GET /tickets.json?external_id=``, ``GET|PUT /tickets/{id}.json``,
  ``GET /tickets/{id}/comments.json``, and the cursor-based incremental export for the polling fallback.
- Jira: ``GET /myself``, ``POST /issue``, ``GET|PUT /issue/{key}``, ``GET|POST /issue/{key}/comment``,
  ``GET /comment/{id}/properties/hub_key``, and ``GET /search/jql`` for the polling fallback.

A benchmark adds an agent's public comment with :meth:`ZendeskStub.add_agent_comment` /
:meth:`JiraStub.add_agent_comment` (what an agent replying in the help desk does) and every request is counted
in ``requests``. Nothing here is the hub's code; it never reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, Any]
HUB_ID, AGENT_ID = 7000000000001, 6130907993114  # tests/fixtures/zendesk/users_show_many.json
AGENT_NAME = "Joshua Teitelbaum"
JIRA_HUB = {"accountId": "hub-account", "displayName": "Help-desk hub", "emailAddress": "hub@example.com",
            "accountType": "atlassian", "timeZone": "UTC"}
JIRA_AGENT = {"accountId": "agent-7", "displayName": "Grace Hopper", "accountType": "atlassian"}


class LoopbackAPI:
    """A JSON API on 127.0.0.1: subclasses list ``routes`` as (HTTP method, path regex, handler)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Reply]]]:
        raise NotImplementedError

    def start(self) -> "LoopbackAPI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        for verb, pattern, handler in self.routes():
            found = pattern.fullmatch(path)
            if verb == method and found:
                with self.lock:
                    self.requests[f"{method} {pattern.pattern}"] = self.requests.get(f"{method} {pattern.pattern}", 0) + 1
                    return handler(query, body, *found.groups())
        return 404, {"error": "RecordNotFound", "description": "Not found"}


def _handler(api: LoopbackAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the vendors' APIs
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall between them

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            status, payload = api.dispatch(self.command, parts.path, query, json.loads(raw) if raw else None)
            data = b"" if payload is None else json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            return

    return Handler


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ZendeskStub(LoopbackAPI):
    """Zendesk Support's REST API (``/api/v2``) for tickets the hub opens and agents answer."""

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[int, dict[str, Any]] = {
            HUB_ID: {"id": HUB_ID, "name": "Help-desk hub", "email": "hub@example.com", "role": "agent"},
            AGENT_ID: {"id": AGENT_ID, "name": AGENT_NAME, "email": "agent@example.com", "role": "admin"},
        }
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self._ids = 100_000
        self._seq = 0  # the export's change counter: a cursor is the last change it returned

    def routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Reply]]]:
        p = re.compile
        return [
            ("GET", p(r"/api/v2/users/me\.json"), lambda q, b: (200, {"user": self.users[HUB_ID]})),
            ("GET", p(r"/api/v2/users/show_many\.json"), self._show_many),
            ("POST", p(r"/api/v2/tickets\.json"), self._create),
            ("GET", p(r"/api/v2/tickets\.json"), self._list_by_external_id),
            ("GET", p(r"/api/v2/tickets/(\d+)\.json"), self._show),
            ("PUT", p(r"/api/v2/tickets/(\d+)\.json"), self._update),
            ("GET", p(r"/api/v2/tickets/(\d+)/comments\.json"), self._comments),
            ("GET", p(r"/api/v2/incremental/tickets/cursor\.json"), self._export),
        ]

    def add_agent_comment(self, ticket_id: int, body: str) -> int:
        """An agent's public reply on ``ticket_id``, as the agent workspace writes it; returns its id."""
        with self.lock:
            return self._comment(ticket_id, {"body": body, "public": True}, AGENT_ID)

    def add_agent_note(self, ticket_id: int, body: str) -> int:
        """An agent's internal note on ``ticket_id``; returns its id."""
        with self.lock:
            return self._comment(ticket_id, {"body": body, "public": False}, AGENT_ID)

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _touch(self, ticket: dict[str, Any]) -> None:
        self._seq += 1
        ticket["updated_at"], ticket["_seq"] = _now().strftime("%Y-%m-%dT%H:%M:%SZ"), self._seq

    def _public(self, ticket: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ticket.items() if not k.startswith("_")}

    def _comment(self, ticket_id: int, comment: dict[str, Any], author: int) -> int:
        comment_id = self._next_id()
        body = str(comment.get("body") or "")
        self.comments[ticket_id].append({
            "id": comment_id, "type": "Comment", "author_id": int(comment.get("author_id") or author), "body": body,
            "html_body": f"<div class=\"zd-comment\"><p>{body}</p></div>", "plain_body": body,
            "public": comment.get("public") is True, "attachments": [], "via": {"channel": "api"},
            "created_at": _now().strftime("%Y-%m-%dT%H:%M:%SZ"), "metadata": {"system": {}, "custom": {}},
        })
        self._touch(self.tickets[ticket_id])
        return comment_id

    def _audit(self, ticket_id: int, comment_id: int) -> dict[str, Any]:
        comment = next(c for c in self.comments[ticket_id] if c["id"] == comment_id)
        return {"ticket": self._public(self.tickets[ticket_id]),
                "audit": {"id": self._next_id(), "ticket_id": ticket_id, "created_at": comment["created_at"], "author_id": HUB_ID,
                          "metadata": {"system": {}, "custom": {}}, "events": [{**comment, "type": "Comment"}]}}

    def _requester(self, who: dict[str, Any]) -> int:
        email = str(who.get("email") or "").lower()
        found = next((uid for uid, u in self.users.items() if email and u.get("email", "").lower() == email), None)
        if found is None:
            found = self._next_id()
            self.users[found] = {"id": found, "name": who.get("name") or email, "email": email or None, "role": "end-user"}
        return found

    def _create(self, query: dict[str, str], body: Any) -> Reply:
        fields = body["ticket"]
        ticket_id = self._next_id()
        stamp = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
        requester = self._requester(fields.get("requester") or {})
        self.tickets[ticket_id] = {
            "url": f"{self.url}/api/v2/tickets/{ticket_id}.json", "id": ticket_id, "external_id": fields.get("external_id"),
            "via": {"channel": "api"}, "created_at": stamp, "updated_at": stamp, "type": None, "subject": fields.get("subject", ""),
            "raw_subject": fields.get("subject", ""), "description": (fields.get("comment") or {}).get("body", ""), "priority": None,
            "status": "new", "requester_id": requester, "submitter_id": HUB_ID, "assignee_id": None, "tags": list(fields.get("tags") or ()),
            "custom_fields": [], "is_public": False,
        }
        self.comments[ticket_id] = []
        comment_id = self._comment(ticket_id, fields.get("comment") or {}, HUB_ID)
        return 201, self._audit(ticket_id, comment_id)

    def _update(self, query: dict[str, str], body: Any, ticket_id: str) -> Reply:
        ticket = self.tickets.get(int(ticket_id))
        if ticket is None:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        fields = body["ticket"]
        ticket["tags"] = sorted({*ticket["tags"], *(fields.get("additional_tags") or ())})
        ticket["status"] = fields.get("status") or ticket["status"]
        comment_id = self._comment(int(ticket_id), fields.get("comment") or {}, HUB_ID)
        return 200, self._audit(int(ticket_id), comment_id)

    def _show(self, query: dict[str, str], body: Any, ticket_id: str) -> Reply:
        ticket = self.tickets.get(int(ticket_id))
        return (200, {"ticket": self._public(ticket)}) if ticket else (404, {"error": "RecordNotFound", "description": "Not found"})

    def _comments(self, query: dict[str, str], body: Any, ticket_id: str) -> Reply:
        if int(ticket_id) not in self.comments:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        listed = [dict(c) for c in self.comments[int(ticket_id)]]
        return 200, {"comments": listed, "next_page": None, "previous_page": None, "count": len(listed),
                     "meta": {"has_more": False, "after_cursor": None, "before_cursor": None}, "links": {"next": None, "prev": None}}

    def _show_many(self, query: dict[str, str], body: Any) -> Reply:
        wanted = [int(i) for i in query.get("ids", "").split(",") if i.strip().isdigit()]
        users = [self.users[i] for i in wanted if i in self.users]
        return 200, {"users": users, "next_page": None, "previous_page": None, "count": len(users)}

    def _list_by_external_id(self, query: dict[str, str], body: Any) -> Reply:
        found = [self._public(t) for t in self.tickets.values() if t.get("external_id") == query.get("external_id")]
        return 200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}

    def _export(self, query: dict[str, str], body: Any) -> Reply:
        """The cursor-based incremental export: the tickets changed after the cursor, without comments.
        NOTE: a real Zendesk leaves out what changed within the last minute; this stand-in does not."""
        after = int(query["cursor"]) if query.get("cursor", "").isdigit() else 0  # start_time: every ticket (all are recent)
        changed = sorted((t for t in self.tickets.values() if t["_seq"] > after), key=lambda t: t["_seq"])
        cursor = str(changed[-1]["_seq"] if changed else after)
        return 200, {"tickets": [self._public(t) for t in changed], "after_cursor": cursor, "before_cursor": None,
                     "after_url": f"{self.url}/api/v2/incremental/tickets/cursor.json?cursor={cursor}", "before_url": None,
                     "end_of_stream": True}


def _jira_time() -> str:
    return _now().strftime("%Y-%m-%dT%H:%M:%S.") + f"{_now().microsecond // 1000:03d}+0000"


class JiraStub(LoopbackAPI):
    """Jira Cloud's REST API v2 (``/rest/api/2``) for a JSM project whose issues the hub opens."""

    def __init__(self, project: str = "SUP") -> None:
        super().__init__()
        self.project = project
        self.issues: dict[str, dict[str, Any]] = {}
        self.properties: dict[str, dict[str, Any]] = {}  # comment id -> hub_key value
        self._ids = 10_000

    def routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Reply]]]:
        p = re.compile
        return [
            ("GET", p(r"/rest/api/2/myself"), lambda q, b: (200, dict(JIRA_HUB))),
            ("POST", p(r"/rest/api/2/issue"), self._create),
            ("GET", p(r"/rest/api/2/issue/([A-Z]+-\d+)"), self._show),
            ("PUT", p(r"/rest/api/2/issue/([A-Z]+-\d+)"), self._edit),
            ("POST", p(r"/rest/api/2/issue/([A-Z]+-\d+)/comment"), self._post_comment),
            ("GET", p(r"/rest/api/2/issue/([A-Z]+-\d+)/comment"), self._list_comments),
            ("GET", p(r"/rest/api/2/comment/(\d+)/properties/hub_key"), self._property),
            ("GET", p(r"/rest/api/2/search/jql"), self._search),
        ]

    def add_agent_comment(self, key: str, body: str) -> str:
        """An agent's public JSM reply ("Reply to customer": ``jsdPublic`` true) on ``key``; returns its id."""
        with self.lock:
            return self._comment(key, body, JIRA_AGENT, public=True)

    def add_agent_note(self, key: str, body: str) -> str:
        """An agent's internal JSM comment ("Comment internally": ``jsdPublic`` false) on ``key``; returns its id."""
        with self.lock:
            return self._comment(key, body, JIRA_AGENT, public=False)

    def issue_id(self, key: str) -> str:
        return str(self.issues[key]["id"])

    def _comment(self, key: str, body: str, author: dict[str, Any], *, public: bool) -> str:
        self._ids += 1
        stamp = _jira_time()
        fields = self.issues[key]["fields"]
        fields["comment"]["comments"].append({
            "self": f"{self.url}/rest/api/2/issue/{self.issues[key]['id']}/comment/{self._ids}", "id": str(self._ids), "author": author,
            "body": body, "updateAuthor": author, "created": stamp, "updated": stamp, "jsdPublic": public,
        })
        fields["comment"]["total"] = fields["comment"]["maxResults"] = len(fields["comment"]["comments"])
        fields["updated"] = stamp
        return str(self._ids)

    def _create(self, query: dict[str, str], body: Any) -> Reply:
        fields = body["fields"]
        self._ids += 1
        key = f"{self.project}-{len(self.issues) + 1}"
        stamp = _jira_time()
        self.issues[key] = {"id": str(self._ids), "key": key, "self": f"{self.url}/rest/api/2/issue/{self._ids}", "fields": {
            "summary": fields.get("summary", ""), "description": fields.get("description"), "reporter": JIRA_HUB, "creator": JIRA_HUB,
            "status": {"name": "Waiting for support", "statusCategory": {"key": "indeterminate"}}, "priority": {"name": "Medium"},
            "labels": list(fields.get("labels") or ()), "created": stamp, "updated": stamp, "attachment": [],
            "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0},
        }}
        return 201, {"id": self.issues[key]["id"], "key": key, "self": self.issues[key]["self"]}

    def _show(self, query: dict[str, str], body: Any, key: str) -> Reply:
        issue = self.issues.get(key)
        return (200, json.loads(json.dumps(issue))) if issue else (404, {"errorMessages": ["Issue does not exist"], "errors": {}})

    def _edit(self, query: dict[str, str], body: Any, key: str) -> Reply:
        if key not in self.issues:
            return 404, {"errorMessages": ["Issue does not exist"], "errors": {}}
        labels = self.issues[key]["fields"]["labels"]
        labels.extend(op["add"] for op in (body.get("update") or {}).get("labels", ()) if "add" in op and op["add"] not in labels)
        return 204, None

    def _post_comment(self, query: dict[str, str], body: Any, key: str) -> Reply:
        if key not in self.issues:
            return 404, {"errorMessages": ["Issue does not exist"], "errors": {}}
        props = {p.get("key"): p.get("value") for p in body.get("properties") or ()}
        internal = bool((props.get("sd.public.comment") or {}).get("internal"))
        comment_id = self._comment(key, str(body.get("body") or ""), JIRA_HUB, public=not internal)
        if "hub_key" in props:
            self.properties[comment_id] = props["hub_key"]
        return 201, self.issues[key]["fields"]["comment"]["comments"][-1]

    def _list_comments(self, query: dict[str, str], body: Any, key: str) -> Reply:
        if key not in self.issues:
            return 404, {"errorMessages": ["Issue does not exist"], "errors": {}}
        return 200, dict(self.issues[key]["fields"]["comment"])

    def _property(self, query: dict[str, str], body: Any, comment_id: str) -> Reply:
        if comment_id not in self.properties:
            return 404, {"errorMessages": ["The property with key 'hub_key' does not exist."], "errors": {}}
        return 200, {"key": "hub_key", "value": self.properties[comment_id]}

    def _search(self, query: dict[str, str], body: Any) -> Reply:
        """Every issue, oldest change first (the hub's JQL asks for those updated in its window, and skips
        ``key@updated`` pairs it has handled)."""
        issues = sorted(self.issues.values(), key=lambda i: i["fields"]["updated"])
        return 200, {"issues": json.loads(json.dumps(issues)), "isLast": True}
