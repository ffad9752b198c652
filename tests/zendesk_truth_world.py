"""The world of ``tests/test_stats_truth_zendesk.py``: a Zendesk account (the independent stand-in,
:class:`tests.vendor_standins.ZendeskStandin`) with requests raised by customers (Ada, Bob), an agent replying,
noting and solving, the requester writing back, and the faults Zendesk's API shows: a write refused before it
is applied (503, or 429 with ``Retry-After``), a write applied and its answer lost (a 503 from the load
balancer, or the connection dropped), ticket reads refused (503, 429), and the incremental export refused
(503, or 429: it allows 10 requests a minute). Webhooks are signed ``zen:event-type:ticket.*`` events
(``X-Zendesk-Webhook-Invocation-Id``: the same again on Zendesk's retry of one invocation).

What is written is stamped on the real clock, to the second, as the hub stamps its decisions (a requester's
comment written before a decision is dated before it); the export's "last minute" is on the machine's clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

import responses

from core.models import utcnow
from tests.test_standins_zendesk import ADA, BASE, deliver, event_body
from tests.vendor_standins import ZendeskStandin

AGENT = 362
BOB = 363
REQUESTERS = [ADA, BOB]  # re-contact is per person: one requester's requests re-contact each other
FIRST_TICKET = 7001
TICKET = r"/api/v2/tickets/\d+\.json"
WRITES = ("PUT", TICKET)
READS = ("GET", r"/api/v2/tickets/\d+(/comments)?\.json")
EXPORT = ("GET", r"/api/v2/incremental/tickets/cursor\.json")
FAULTS = ["503", "429", "applied-503", "applied-dropped"]
REFUSED = {"503": (503, {"error": "Service Unavailable"}, {}),
           "429": (429, {"error": "TooManyRequests", "description": "Rate limit exceeded"}, {"Retry-After": "60"})}
AGES = [timedelta(seconds=2), timedelta(minutes=5)]
"""How long before the first poll a request was raised: inside the export's last minute (not exported yet), or not."""


class Account:
    """The stand-in with a customer and an agent; the export answers on the hub's clock ``now``."""

    def __init__(self, mock: responses.RequestsMock, now: Callable[[], datetime]) -> None:
        self.standin = ZendeskStandin(BASE, time=utcnow, now=now)
        self.standin.user(ADA, "Ada", "ada@example.com")
        self.standin.user(BOB, "Bob", "bob@example.com")
        self.standin.user(AGENT, "Agent Smith", "smith@example.com", "agent")
        self.standin.install(mock)
        self.solved: set[int] = set()  # tickets an agent solved at some point
        self.invocations = 0

    def raise_request(self, n: int, subject: str, text: str, ago: timedelta, requester: int = ADA) -> int:
        at = utcnow() - ago
        self.standin.time = lambda: at
        try:
            return self.standin.ticket(FIRST_TICKET + n, subject, requester, (requester, text, True))
        finally:
            self.standin.time = utcnow

    def fault(self, method: str, pattern: str, kind: str) -> None:
        """Queue one fault of ``kind`` (:data:`FAULTS`) for the next matching request."""
        if kind in REFUSED:
            self.standin.fail(method, pattern, *REFUSED[kind])
        else:
            self.standin.lose(method, pattern, 503 if kind == "applied-503" else None, REFUSED["503"][1])

    def created(self, tid: int) -> bytes:
        return event_body("created", self.standin.tickets[tid], _now())

    def agent_acts(self, tid: int, act: str) -> bytes:
        """An agent replies in public, writes an internal note, or solves the ticket: the webhook Zendesk sends."""
        ticket = self.standin.tickets[tid]
        if act == "solve":
            before, ticket["status"] = ticket["status"], "solved"
            self.standin.changed(tid)
            self.solved.add(tid)
            return event_body("status_changed", ticket, _now(), current="SOLVED", previous=str(before).upper())
        return self._comment(tid, AGENT, f"Agent: {act}", act == "reply")

    def touch(self, tid: int, at: datetime) -> None:
        """An agent changes the ticket's priority (no comment, no webhook here) at ``at``."""
        self.standin.time = lambda: at
        try:
            ticket = self.standin.tickets[tid]
            ticket["priority"] = "high" if ticket["priority"] != "high" else "low"
            self.standin.changed(tid)
        finally:
            self.standin.time = utcnow

    def requester_writes(self, tid: int, text: str) -> bytes:
        return self._comment(tid, self.standin.tickets[tid]["requester_id"], text, True)

    def _comment(self, tid: int, author: int, text: str, public: bool) -> bytes:
        made = self.standin.comment(tid, author, text, public)
        user = self.standin.users[author]
        return event_body("comment_added", self.standin.tickets[tid], _now(), comment={
            "id": made["id"], "body": text, "is_public": public,
            "author": {"id": str(author), "is_staff": user["role"] != "end-user", "name": user["name"]}})

    def deliver(self, client: Any, body: bytes, invocation: str | None = None) -> str:
        """Deliver ``body`` signed (a new invocation unless ``invocation``, a retry's); returns the invocation."""
        if invocation is None:
            self.invocations += 1
            invocation = f"inv-{self.invocations}"
        assert deliver(client, body, invocation).status_code == 200
        return invocation

    # -- what the account holds ------------------------------------------------------------------

    def hub_comments(self, tid: int, public: bool) -> list[dict[str, Any]]:
        return [c for c in self.standin.comments[tid] if c["author_id"] == self.standin.me and c["public"] is public]

    def carrying(self) -> set[str]:
        """The tickets holding the hub's answer (its only public comment here), by ref."""
        return {f"zendesk:{t}" for t in self.standin.tickets if self.hub_comments(t, public=True)}

    def agents(self, tid: int, public: bool) -> bool:
        """Whether the agent (a person, not the hub) wrote a comment of that visibility on the ticket."""
        return any(c["author_id"] == AGENT and c["public"] is public for c in self.standin.comments[tid])

    def taken(self, ref: str) -> bool:
        """Whether people took the ticket at some point: the agent solved it, or commented on it."""
        tid = int(ref.split(":", 1)[1])
        return tid in self.solved or self.agents(tid, public=True) or self.agents(tid, public=False)

    def unsure_writes(self, tid: int) -> int:
        """How many of the hub's updates of the ticket were applied without the hub seeing the answer."""
        return sum(1 for method, path, _, what in self.standin.met if path == f"/api/v2/tickets/{tid}.json" and what == "lost")


def _now() -> str:
    """The time of an event, as an event webhook gives it (to the nanosecond)."""
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
