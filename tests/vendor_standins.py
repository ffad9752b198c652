"""Independent stand-ins for Zendesk and Jira Cloud, written from the vendors' documentation, not from the
hub's code or its other test fakes. Each one keeps its own state (tickets, comments, users; issues, comments,
properties, labels) and answers the documented requests at the transport (``responses`` callbacks, as
zenpy and the jira client speak ``requests``), with the documented variants switched on per test:

- Zendesk: ids as JSON numbers; cursor pagination (``page[size]`` -> ``meta.has_more``/``links.next``) or
  offset (``next_page``); ``show_many`` takes at most 100 ids and leaves out deleted users; error bodies
  ``{"error", "description", "details"}``; 429 with ``Retry-After``; 409 on a concurrent update; unknown
  extra fields on every object; the cursor-based incremental ticket export (opaque ``after_cursor``,
  ``end_of_stream``, each changed ticket once at its latest change, the last minute left out), on the clock
  :attr:`ZendeskStandin.now`, with writes stamped on :attr:`ZendeskStandin.time` when it is set.
  https://developer.zendesk.com/api-reference/introduction/pagination/ ;
  https://developer.zendesk.com/api-reference/ticketing/users/users/#show-many-users ;
  https://developer.zendesk.com/api-reference/introduction/requests/
- Jira: in tests/standin_jira.py.

A fault is queued with :meth:`Standin.fail` (answered once, before the request is applied) or
:meth:`Standin.lose` (the write is applied, then the connection drops, or a 5xx comes back: the caller never
sees the answer); :attr:`Standin.met` keeps each fault a request met.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlsplit

import requests
import responses

from core.models import utcnow

EXTRA = {"x_undocumented": {"added": "later"}}  # vendors add fields; a reader must ignore them
Answer = tuple[int, dict[str, str], str]


@dataclass
class Standin:
    """The routing and fault queue both stand-ins share."""

    base: str
    calls: list[tuple[str, str, dict[str, list[str]], Any]] = field(default_factory=list)
    faults: list[tuple[str, str, Answer | None, bool]] = field(default_factory=list)  # method, path, answer, applied first
    met: list[tuple[str, str, Any, str]] = field(default_factory=list)  # method, path, body, "failed" | "lost"

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        raise NotImplementedError

    def install(self, mock: responses.RequestsMock) -> None:
        for method in ("GET", "POST", "PUT", "DELETE"):
            mock.add_callback(method, re.compile(re.escape(self.base) + r"/.*"), callback=self._answer)

    def fail(self, method: str, pattern: str, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """The next ``method`` request on a path matching ``pattern`` gets this answer and is not applied."""
        self.faults.append((method, pattern, _answer(status, body, headers), False))

    def lose(self, method: str, pattern: str, status: int | None = None, body: Any = None) -> None:
        """The next ``method`` request on a path matching ``pattern`` is applied, then its answer is lost: the
        connection drops, or (``status``) a load balancer answers that error instead."""
        self.faults.append((method, pattern, None if status is None else _answer(status, body, None), True))

    def writes(self, method: str, pattern: str) -> list[Any]:
        return [body for m, path, _, body in self.calls if m == method and re.fullmatch(pattern, path)]

    def _answer(self, request: requests.PreparedRequest) -> Any:
        parts = urlsplit(str(request.url))
        path, query = parts.path, parse_qs(parts.query)
        body = json.loads(request.body) if request.body else None
        method = str(request.method)
        self.calls.append((method, path, query, body))
        lost: tuple[str, str, Answer | None, bool] | None = None
        for fault in list(self.faults):
            if fault[0] == method and re.fullmatch(fault[1], path):
                self.faults.remove(fault)
                self.met.append((method, path, body, "lost" if fault[3] else "failed"))
                if not fault[3]:
                    return fault[2]
                lost = fault
                break
        for route_method, pattern, handler in self.routes():
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                status, payload = handler(query, body, *match.groups())
                if lost is not None and lost[2] is not None:
                    return lost[2]
                if lost is not None:
                    raise requests.ConnectionError("connection reset after the write")
                text = "" if payload is None else json.dumps(payload)
                return status, {"Content-Type": "application/json"}, text
        return 404, {"Content-Type": "application/json"}, json.dumps(self.not_found())

    def not_found(self) -> Any:
        return {"error": "InvalidEndpoint", "description": "Not found"}


def _answer(status: int, body: Any, headers: dict[str, str] | None) -> Answer:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


@dataclass
class ZendeskStandin(Standin):
    """Zendesk Support, API v2."""

    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    deleted_users: set[int] = field(default_factory=set)
    me: int = 900
    next_id: int = 10_000
    clock: int = 1_767_225_600  # 2026-01-01T00:00:00Z, moved forward by each write
    time: Callable[[], datetime] | None = None  # when set, what is written is stamped on this clock (to the second)
    now: Callable[[], datetime] = utcnow  # the clock requests arrive on (the export leaves out the last minute)
    positions: dict[int, float] = field(default_factory=dict)  # each ticket's place in the export, never twice alike

    def __post_init__(self) -> None:
        self.user(self.me, "Help-desk hub", "hub@example.com", "agent")

    def user(self, uid: int, name: str, email: str, role: str = "end-user") -> int:
        self.users[uid] = {"id": uid, "name": name, "email": email, "role": role, "active": True, **EXTRA}
        return uid

    def ticket(self, tid: int, subject: str, requester: int, *texts: tuple[int, str, bool], tags: tuple[str, ...] = ()) -> int:
        self.tickets[tid] = {"id": tid, "subject": subject, "raw_subject": subject, "description": texts[0][1] if texts else "",
                             "status": "new", "priority": None, "requester_id": requester, "submitter_id": requester,
                             "tags": list(tags), "external_id": None, "via": {"channel": "web"}, **EXTRA,
                             "created_at": self._at(), "updated_at": self._at()}
        self.comments[tid] = []
        self.changed(tid)
        for author, text, public in texts:
            self.comment(tid, author, text, public)
        self.tickets[tid]["created_at"] = self.tickets[tid]["updated_at"]
        return tid

    def comment(self, tid: int, author: int | None, text: str, public: bool = True, **more: Any) -> dict[str, Any]:
        self.next_id += 1
        self.clock += 60
        made = {"id": self.next_id, "type": "Comment", "author_id": author, "body": text, "html_body": f"<p>{text}</p>",
                "plain_body": text, "public": public, "attachments": [], "created_at": self._at(), **EXTRA, **more}
        self.comments[tid].append({k: v for k, v in made.items() if v is not ...})
        self.changed(tid)
        return made

    def _stamp(self) -> datetime:
        return self.time() if self.time is not None else datetime.fromtimestamp(self.clock, timezone.utc)

    def _at(self) -> str:
        return self._stamp().strftime("%Y-%m-%dT%H:%M:%SZ")

    def changed(self, tid: int) -> None:
        """The ticket changed: its ``updated_at``, and its ``generated_timestamp`` and place in the export (after
        every change before it, so that a cursor never passes over a later change)."""
        at = self._stamp().timestamp()
        place = max([at, *(p + 1e-6 for p in self.positions.values())])
        self.positions[tid] = place
        self.tickets[tid].update(updated_at=self._at(), generated_timestamp=int(place))

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        api = "/api/v2"
        return [
            ("GET", f"{api}/users/me.json", lambda q, b: (200, {"user": self.users[self.me]})),
            ("GET", f"{api}/users/show_many.json", self._show_many),
            ("GET", f"{api}/tickets/(\\d+).json", self._show),
            ("PUT", f"{api}/tickets/(\\d+).json", self._update),
            ("GET", f"{api}/tickets/(\\d+)/comments.json", self._comments),
            ("POST", f"{api}/tickets.json", self._create),
            ("GET", f"{api}/tickets.json", self._list),
            ("GET", f"{api}/incremental/tickets/cursor.json", self._export),
        ]

    def _missing(self) -> tuple[int, Any]:
        return 404, {"error": "RecordNotFound", "description": "Not found"}

    def _show_many(self, q: dict[str, list[str]], _: Any) -> tuple[int, Any]:
        ids = [int(i) for i in q.get("ids", [""])[0].split(",") if i]
        if len(ids) > 100:  # "Accepts a comma-separated list of up to 100 user ids."
            return 400, {"error": "InvalidValue", "description": "Too many ids (max 100)", "details": {}}
        found = [self.users[i] for i in ids if i in self.users and i not in self.deleted_users]
        return 200, {"users": found, "next_page": None, "previous_page": None, "count": len(found)}

    def _show(self, q: Any, b: Any, tid: str) -> tuple[int, Any]:
        ticket = self.tickets.get(int(tid))
        return (200, {"ticket": ticket}) if ticket else self._missing()

    def _comments(self, q: dict[str, list[str]], b: Any, tid: str) -> tuple[int, Any]:
        if int(tid) not in self.tickets:
            return self._missing()
        listed = self.comments[int(tid)]
        url = f"{self.base}/api/v2/tickets/{tid}/comments.json"
        if "page[size]" in q:  # cursor pagination
            size, start = int(q["page[size]"][0]), int(q.get("page[after]", ["0"])[0])
            page, more = listed[start:start + size], start + size < len(listed)
            meta = {"has_more": more, "after_cursor": str(start + size) if more else None, "before_cursor": str(start)}
            links = {"next": f"{url}?page[size]={size}&page[after]={start + size}" if more else None, "prev": None}
            return 200, {"comments": page, "meta": meta, "links": links}
        size, number = 100, int(q.get("page", ["1"])[0])  # offset pagination
        page = listed[(number - 1) * size:number * size]
        following = f"{url}?page={number + 1}" if number * size < len(listed) else None
        return 200, {"comments": page, "next_page": following, "previous_page": None, "count": len(listed)}

    def _update(self, q: Any, body: dict[str, Any], tid: str) -> tuple[int, Any]:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            return self._missing()
        fields = body["ticket"]
        events = []
        if "comment" in fields:
            c = fields["comment"]
            made = self.comment(int(tid), c.get("author_id", self.me), c.get("body") or c.get("html_body") or "", c.get("public", True))
            events.append({"id": made["id"], "type": "Comment", "public": made["public"], "body": made["body"], "author_id": made["author_id"]})
        for tag in fields.get("additional_tags") or ():
            if tag not in ticket["tags"]:
                ticket["tags"].append(tag)
        if "status" in fields:
            ticket["status"] = fields["status"]
        self.changed(int(tid))
        self.next_id += 1
        return 200, {"ticket": ticket, "audit": {"id": self.next_id, "ticket_id": int(tid), "events": events, **EXTRA}}

    def _create(self, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        fields = body["ticket"]
        who = fields.get("requester") or {}
        if not who.get("name") and not who.get("email"):
            return 422, {"error": "RecordInvalid", "description": "Record validation errors",
                         "details": {"requester": [{"description": "Requester: is invalid", "error": "InvalidValue"}]}}
        found = [u for u in self.users.values() if who.get("email") and u["email"] == who["email"]]
        self.next_id += 1
        uid = found[0]["id"] if found else self.user(self.next_id, who.get("name", ""), who.get("email", ""))
        self.next_id += 1
        tid = self.ticket(self.next_id, fields.get("subject", ""), uid, tags=tuple(fields.get("tags") or ()))
        c = fields.get("comment") or {}
        self.comment(tid, self.me, c.get("body", ""), c.get("public", True))
        self.tickets[tid]["external_id"] = fields.get("external_id")
        return 201, {"ticket": self.tickets[tid], "audit": {"id": self.next_id + 1, "events": []}}

    def _list(self, q: dict[str, list[str]], _: Any) -> tuple[int, Any]:
        wanted = q.get("external_id", [None])[0]
        found = [t for t in self.tickets.values() if wanted is None or t.get("external_id") == wanted]
        return 200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}

    def _export(self, q: dict[str, list[str]], _: Any) -> tuple[int, Any]:
        """``GET /api/v2/incremental/tickets/cursor.json``: ``start_time`` (the first request) or ``cursor`` (an
        ``after_cursor``), exactly one; each ticket changed since, once, at its latest change, oldest first, at most
        ``per_page`` (1000 by default and at most); ``after_cursor`` resumes after the last ticket given (where
        the request started, when none was), ``end_of_stream`` says whether none is left up to now. NOTE(zendesk):
        "any items that were created or changed within the minute prior to your request are excluded"; a cursor
        is opaque (base64 of ``<generated_timestamp>.0||<ticket id>|`` in the captured pages).
        https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/ ;
        https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api"""
        if ("cursor" in q) == ("start_time" in q):
            return 400, {"error": "InvalidValue", "description": "Either start_time or cursor is required", "details": {}}
        try:
            since = _position(q["cursor"][0]) if "cursor" in q else (float(q["start_time"][0]) - 1e-6, 0)
        except ValueError:
            return 400, {"error": "InvalidCursor", "description": "Invalid cursor", "details": {}}
        newest = self.now().timestamp() - 60
        changed = sorted((self.positions[t], t) for t, ticket in self.tickets.items()
                         if (self.positions[t], t) > since and self.positions[t] <= newest and ticket["status"] != "deleted")
        size = min(int(q.get("per_page", ["1000"])[0]), 1000)
        page = changed[:size]
        after = _cursor(page[-1] if page else since)
        return 200, {"tickets": [self.tickets[t] for _, t in page], "after_cursor": after, "before_cursor": q.get("cursor", [None])[0],
                     "after_url": f"{self.base}/api/v2/incremental/tickets/cursor.json?cursor={quote(after)}", "before_url": None,
                     "end_of_stream": len(changed) <= size}


def _cursor(place: tuple[float, int]) -> str:
    return base64.b64encode(f"{place[0]:.6f}||{place[1]}|".encode()).decode()


def _position(cursor: str) -> tuple[float, int]:
    """The place a cursor of :func:`_cursor` names. Raises ValueError for any other text."""
    try:
        at, _, ticket, _ = base64.b64decode(cursor, validate=True).decode().split("|")
        return float(at), int(ticket)
    except (binascii.Error, UnicodeDecodeError) as e:
        raise ValueError(cursor) from e

def enqueue(hub: Any, connector: str, action: str, payload: dict[str, Any], key: str) -> int:
    """One outbox row, as the pipeline writes it (``hand_off`` fills a ``create_ticket``'s payload)."""
    from core import outbox
    with hub.db.session() as s:
        return outbox.enqueue(s, outbox.NewAction(key, connector, action, payload))


def hand_off(hub: Any, connector: str, origin: str) -> int:
    """A Slack conversation's hand-off: the ``create_ticket`` row of a ticket of record."""
    payload = {"requester": {"external_id": "U1", "name": "Ada", "email": "ada@example.com"}, "idempotency_key": "hand-off:T1:C1:1.0",
               "subject": "Refund", "text": "Transcript", "tags": ["slack"], "draft": "Draft", "notice": "Opened:",
               "origin": {"connector": connector, "ref": origin}}
    return enqueue(hub, connector, "create_ticket", payload, "create:slack:1")


def lost_hand_off(hub: Any, standin: Standin, path: str, connector: str) -> str:
    """A hand-off whose create reached the vendor but whose answer was lost: retried, it must find the
    ticket it opened. Returns the ref the row recorded."""
    standin.lose("POST", path)
    row_id = hand_off(hub, connector, f"{connector}:1")
    assert attempts(hub, row_id) == ["pending", "done"]
    return str(result(hub, row_id)["ref"])


def attempts(hub: Any, row_id: int, count: int = 2) -> list[str]:
    """Perform the row ``count`` times, an hour apart (past any backoff), and return each outcome."""
    from core import outbox
    start = utcnow() + timedelta(seconds=1)
    return [str(outbox.perform(hub.db, hub.jobs, row_id, hub.performers, now=start + timedelta(hours=n))) for n in range(count)]


def result(hub: Any, row_id: int) -> Any:
    from core.db import OutboxAction
    with hub.db.session() as s:
        return s.get_one(OutboxAction, row_id).result
