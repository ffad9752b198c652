"""The world of ``tests/test_stats_truth_jira.py``: a Jira Cloud site (the independent stand-in,
tests/standin_jira.py) with requests raised by a customer, its agents replying, noting and resolving, the
requester writing back, and the faults Jira's API shows: a write refused before it is applied (503, or 429 with
``Retry-After``), a write applied and its answer lost (a 503 from the load balancer, or the connection dropped),
and reads refused (503, 429). Deliveries are signed admin webhooks (``X-Hub-Signature``), each with its own
``X-Atlassian-Webhook-Identifier`` (the same again on Jira's retry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import responses

from core.models import utcnow
from tests.standin_jira import DONE, JiraStandin
from tests.test_standins_jira import ADA, AGENT, BASE, delivery

COMMENTS = r"/rest/api/2/issue/[^/]+/comment"
WRITES = {"comment": ("POST", COMMENTS), "transition": ("POST", r"/rest/api/2/issue/[^/]+/transitions"),
          "label": ("PUT", r"/rest/api/2/issue/[^/]+")}
READS = ("GET", r"/rest/api/2/.+")
FAULTS = ["503", "429", "applied-503", "applied-dropped"]
REFUSED = {"503": (503, {"errorMessages": ["Service unavailable"]}, {}),
           "429": (429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": "30"})}


class Site:
    """The stand-in with a customer (Ada) and an agent, stamping what is written on the hub's clock ``now``."""

    def __init__(self, mock: responses.RequestsMock, now: Callable[[], datetime] = utcnow) -> None:
        self.standin = JiraStandin(BASE, time=now)
        self.standin.user(ADA, "Ada", None, "customer")  # Cloud hides emails by default
        self.standin.user(AGENT, "Agent Smith", "smith@example.com")
        self.standin.install(mock)
        self.resolved: set[str] = set()  # issues an agent resolved at some point

    def raise_request(self, n: int, summary: str, text: str) -> str:
        return self.standin.issue(f"SUP-{n + 1}", summary, ADA, text)

    def fault(self, method: str, pattern: str, kind: str) -> None:
        """Queue one fault of ``kind`` (:data:`FAULTS`) for the next matching request."""
        if kind in REFUSED:
            status, body, headers = REFUSED[kind]
            self.standin.fail(method, pattern, status, body, headers)
        else:
            self.standin.lose(method, pattern, 503 if kind == "applied-503" else None, {"errorMessages": ["Service unavailable"]})

    def agent_acts(self, key: str, act: str) -> tuple[str, dict[str, Any]]:
        """An agent replies in public, writes an internal note, or resolves the issue: the webhook Jira sends."""
        if act == "resolve":
            before = self.standin.issues[key]["fields"]["status"]["name"]
            self.standin.move(key, DONE)
            self.resolved.add(key)
            items = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": before, "toString": "Done"}]
            return "jira:issue_updated", {"issue_event_type_name": "issue_generic", "changelog": {"id": "1", "items": items}}
        made = self.standin.comment(key, AGENT, f"Agent: {act}", public=act == "reply")
        return "comment_created", {"comment": made, "issue": self.partial(key)}

    def requester_writes(self, key: str, text: str) -> tuple[str, dict[str, Any]]:
        made = self.standin.comment(key, ADA, text)
        return "comment_created", {"comment": made, "issue": self.partial(key)}

    def partial(self, key: str) -> dict[str, Any]:
        """The issue as a comment webhook names it: a few default fields (no reporter, no description)."""
        issue = self.standin.issues[key]
        return {k: issue[k] for k in ("id", "key", "self")} | {"fields": {
            f: issue["fields"][f] for f in ("summary", "issuetype", "priority", "status")}}

    def signed(self, kind: str, key: str, identifier: str, more: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        return delivery(self.standin, kind, key, identifier, **more)

    # -- what the site holds ---------------------------------------------------------------------

    def hub_comments(self, key: str, public: bool) -> list[dict[str, Any]]:
        return [c for c in self.standin.comments[key] if (c.get("author") or {}).get("accountId") == self.standin.me
                and c["jsdPublic"] is public]

    def hub_key(self, comment: dict[str, Any]) -> str | None:
        """The idempotency key a comment of the hub's carries (its ``hub_key`` property)."""
        return (self.standin.properties.get(comment["id"], {}).get("hub_key") or {}).get("key")

    def carrying(self) -> set[str]:
        """The issues holding the hub's answer as a public comment."""
        return {k for k in self.standin.issues if any(self.hub_key(c) == f"answer:jira:{k}" for c in self.hub_comments(k, True))}

    def agents(self, key: str, public: bool) -> bool:
        """Whether an agent (a person, not the hub) wrote a comment of that visibility on the issue."""
        return any((c.get("author") or {}).get("accountId") == AGENT and c["jsdPublic"] is public for c in self.standin.comments[key])

    def taken(self, key: str) -> bool:
        """Whether people took the issue at some point: an agent resolved it, or commented on it."""
        return key in self.resolved or self.agents(key, public=True) or self.agents(key, public=False)

    def unsure_writes(self, key: str) -> int:
        """How many of the hub's writes on the issue may have been applied without the hub knowing: a comment
        whose answer was lost, or a label refused or lost after its comment was made (a draft is then posted again)."""
        on = (f"/rest/api/2/issue/{key}/comment", f"/rest/api/2/issue/{key}")
        return sum(1 for method, path, _, what in self.standin.met if path in on and (what == "lost" or method == "PUT"))
