"""An independent stand-in for Jira Cloud (with JSM comment properties), REST v2, written from the vendor's
documentation, not from the hub's code or its other test fakes (the shared routing and fault queue are
:class:`tests.vendor_standins.Standin`'s):

- ``/rest/api/2/search/jql`` (``nextPageToken``/``isLast``, no ``total``); an issue's embedded ``comment`` is a
  page (``startAt``/``maxResults``/``total``) that may hold fewer comments than ``total``; a search hit may lack
  ``fields.comment``; errors ``{"errorMessages": [...], "errors": {...}}``.
  https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-search/#api-rest-api-2-search-jql-get ;
  https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/
- ``POST /issue/{key}/transitions`` ``{"transition": {"id"}}``: 204 and the issue in the transition's status, or
  400 when the workflow has no such transition from the issue's status.
  https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-transitions-post
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from tests.vendor_standins import EXTRA, Standin

START = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
OPEN = {"name": "Open", "statusCategory": {"key": "new"}}
DONE = {"name": "Done", "statusCategory": {"key": "done"}}
REOPENED = {"name": "Reopened", "statusCategory": {"key": "indeterminate"}}
WORKFLOW = {"11": (("done",), REOPENED), "31": (("new", "indeterminate"), DONE)}
"""Transition id -> (the status categories it leaves from, the status it goes to): "Reopen" and "Done"."""


@dataclass
class JiraStandin(Standin):
    """Jira Cloud (with JSM comment properties), REST v2."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    me: str = "5b10ac8d82e05b22cc7d4ef5"
    embedded_comments: int = 5000  # how many comments an issue's embedded "comment" page holds
    search_has_comments: bool = True  # whether a search hit carries fields.comment
    next_id: int = 10_000
    clock: int = 0
    time: Callable[[], datetime] | None = None  # when set, what is written is stamped on this clock (never twice alike)
    last: datetime = START

    def __post_init__(self) -> None:
        self.user(self.me, "Help-desk hub", "hub@example.com")

    def user(self, account: str, name: str, email: str | None, kind: str = "atlassian") -> dict[str, Any]:
        self.users[account] = {"self": f"{self.base}/rest/api/2/user?accountId={account}", "accountId": account,
                               "displayName": name, "active": True, "accountType": kind, **({"emailAddress": email} if email else {})}
        return self.users[account]

    def _at(self) -> str:
        self.clock += 1
        at = START + timedelta(minutes=self.clock) if self.time is None else max(self.time(), self.last + timedelta(milliseconds=1))
        self.last = at
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"

    def move(self, key: str, status: dict[str, Any]) -> None:
        """The issue is moved to ``status`` (an agent's transition in Jira, or the hub's)."""
        self.issues[key]["fields"].update(status=status, updated=self._at())

    def issue(self, key: str, summary: str, reporter: str | None, description: Any = None, labels: tuple[str, ...] = ()) -> str:
        self.next_id += 1
        at = self._at()
        fields = {"summary": summary, "description": description, "status": {"name": "Open", "statusCategory": {"key": "new"}},
                  "priority": {"name": "Medium"}, "labels": list(labels), "created": at, "updated": at, "attachment": [],
                  "creator": self.users[reporter] if reporter else None, "issuetype": {"name": "Task"}, **EXTRA}
        if reporter:
            fields["reporter"] = self.users[reporter]  # an issue may have no reporter: the key is then absent
        self.issues[key] = {"id": str(self.next_id), "key": key, "self": f"{self.base}/rest/api/2/issue/{self.next_id}", "fields": fields}
        self.comments[key] = []
        return key

    def comment(self, key: str, author: str | None, body: str, public: bool = True, properties: Any = ()) -> dict[str, Any]:
        self.next_id += 1
        at = self._at()
        made = {"id": str(self.next_id), "self": f"{self.base}/rest/api/2/issue/{key}/comment/{self.next_id}", "body": body,
                "created": at, "updated": at, "jsdPublic": public, **EXTRA}
        if author:
            made["author"] = made["updateAuthor"] = self.users[author]
        self.comments[key].append(made)
        self.properties[made["id"]] = {p["key"]: p["value"] for p in properties}
        self.issues[key]["fields"]["updated"] = at
        return made

    def not_found(self) -> Any:
        return {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        api = "/rest/api/2"
        return [
            ("GET", f"{api}/myself", lambda q, b: (200, {**self.users[self.me], "timeZone": "Europe/Paris", "locale": "en_US"})),
            ("GET", f"{api}/search/jql", self._search),
            ("POST", f"{api}/issue", self._create),
            ("GET", f"{api}/issue/([^/]+)/comment", self._comments),
            ("POST", f"{api}/issue/([^/]+)/comment", self._add_comment),
            ("GET", f"{api}/issue/([^/]+)", self._get),
            ("PUT", f"{api}/issue/([^/]+)", self._edit),
            ("POST", f"{api}/issue/([^/]+)/transitions", self._transition),
            ("GET", f"{api}/comment/(\\d+)/properties/([^/]+)", self._property),
        ]

    def _view(self, key: str, wanted: list[str], *, embedded: int) -> dict[str, Any]:
        issue = self.issues[key]
        fields = {k: v for k, v in issue["fields"].items() if "*all" in wanted or k in wanted}
        if "comment" in wanted or "*all" in wanted:
            listed = self.comments[key]
            fields["comment"] = {"comments": listed[:embedded], "maxResults": embedded, "total": len(listed), "startAt": 0}
        return {"expand": "renderedFields,names", **{k: v for k, v in issue.items() if k != "fields"}, "fields": fields}

    def _get(self, q: dict[str, list[str]], b: Any, key: str) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, self.not_found()
        return 200, self._view(key, q.get("fields", ["*all"])[0].split(","), embedded=self.embedded_comments)

    def _comments(self, q: dict[str, list[str]], b: Any, key: str) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, self.not_found()
        start, size = int(q.get("startAt", ["0"])[0]), min(int(q.get("maxResults", ["5000"])[0]), 100)
        listed = self.comments[key]
        return 200, {"startAt": start, "maxResults": size, "total": len(listed), "comments": listed[start:start + size]}

    def _add_comment(self, q: Any, body: dict[str, Any], key: str) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, self.not_found()
        props = body.get("properties") or ()
        internal = any(p["key"] == "sd.public.comment" and p["value"].get("internal") for p in props)
        return 201, self.comment(key, self.me, body["body"], not internal, props)

    def _edit(self, q: Any, body: dict[str, Any], key: str) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, self.not_found()
        labels = self.issues[key]["fields"]["labels"]
        for op in (body.get("update") or {}).get("labels", ()):
            if "add" in op and op["add"] not in labels:
                labels.append(op["add"])
        return 204, None

    def _transition(self, q: Any, body: dict[str, Any], key: str) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, self.not_found()
        wanted = str((body.get("transition") or {}).get("id"))
        leaves, status = WORKFLOW.get(wanted, ((), OPEN))
        if self.issues[key]["fields"]["status"]["statusCategory"]["key"] not in leaves:
            return 400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."], "errors": {}}
        self.move(key, status)
        return 204, None

    def _property(self, q: Any, b: Any, comment_id: str, name: str) -> tuple[int, Any]:
        value = self.properties.get(comment_id, {}).get(name)
        if value is None:
            return 404, {"errorMessages": [f"The property with key '{name}' does not exist."], "errors": {}}
        return 200, {"key": name, "value": value}

    def _create(self, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        fields = body.get("fields") or {}
        if not fields.get("summary"):
            return 400, {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}
        project = fields["project"]["key"]
        key = f"{project}-{len([k for k in self.issues if k.startswith(project + '-')]) + 1}"
        self.issue(key, fields["summary"], self.me, fields.get("description"), tuple(fields.get("labels") or ()))
        issue = self.issues[key]
        return 201, {"id": issue["id"], "key": key, "self": issue["self"]}

    def _search(self, q: dict[str, list[str]], _: Any) -> tuple[int, Any]:
        jql = q["jql"][0]
        if not re.sub(r"(?i)order by.*$", "", jql).strip():  # "this parameter requires a bounded query"
            return 400, {"errorMessages": ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."],
                         "errors": {}}
        label = re.search(r'labels = "([^"]+)"', jql)
        hits = [k for k in self.issues if not label or label.group(1) in self.issues[k]["fields"]["labels"]]
        hits.sort(key=lambda k: self.issues[k]["fields"]["updated"])
        size, start = int(q.get("maxResults", ["50"])[0]), int(q.get("nextPageToken", ["0"])[0])
        wanted = [f for f in q.get("fields", ["id"])[0].split(",") if self.search_has_comments or f != "comment"]
        page = [self._view(k, wanted, embedded=self.embedded_comments) for k in hits[start:start + size]]
        answer: dict[str, Any] = {"issues": page, "isLast": start + size >= len(hits)}
        if not answer["isLast"]:
            answer["nextPageToken"] = str(start + size)
        return 200, answer
