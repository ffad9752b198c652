"""The figures stay true under faults: a state machine (hypothesis) drives many Zendesk tickets through random
write 503s, lost responses, read failures, time passing, worker rounds and answer-deadline sweeps.

After every step: no answer is posted twice, every request is in exactly one bucket, each outcome is recorded
at most once per request, no request is lost, and ``answered`` never exceeds the tickets that really carry the
hub's public answer at the (fake) vendor. At the end the faults stop and time runs out every retry and
look-up (``settle``): then ``answered`` equals those tickets exactly, except answers whose look-up failed past its documented
bound (interceptor/overdue_recheck.py), which stay escalated only, and no request is left unposted.

Zendesk is faked at the transport (``responses``); the hub's clock is the real one plus an offset the machine
moves, passed to the outbox's workers and to the sweep as ``now``. ``HUB_FUZZ_EXAMPLES`` raises the number of
examples (default 20, about 10 s).
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import uuid
from datetime import timedelta
from typing import Any

import requests
import responses
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.zendesk import verify
from connectors.zendesk.connector import key_tag
from core import outbox, work
from core.db import OutboxAction
from core.models import utcnow
from interceptor import record
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.test_overdue_lookup import QUESTION
from tests.test_slack_flow import ARTICLES
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_mapping import FIXTURES, load
from tests.truth_world import SETTLE_STEPS, STEPS, answers_given_up, assert_outcomes_once, figures, fresh_database, machine_settings

JSON = {"Content-Type": "application/json"}
TICKET_URL = re.compile(rf"{re.escape(API)}/tickets/(\d+)\.json")
COMMENTS_URL = re.compile(rf"{re.escape(API)}/tickets/(\d+)/comments\.json")
FIRST_TICKET = 7001


class ZendeskDesk:
    """Many tickets. An update adds its comment and tags together, as Zendesk does. ``writes``: ``ok``,
    ``refuse`` (503, nothing applied) or ``lose`` (applied, then the response is lost); ``reads_fail``: every
    ticket read answers 503."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.writes, self.reads_fail = "ok", False
        self.tickets: dict[int, dict[str, Any]] = {}
        self.updates: dict[int, list[dict[str, Any]]] = {}
        self.lost_private: dict[int, int] = {}
        api.get(f"{API}/users/me.json", json=load("users_me.json"))
        api.get(f"{API}/users/show_many.json", json=load("users_show_many.json"))
        api.add_callback("GET", TICKET_URL, callback=self.show)
        api.add_callback("PUT", TICKET_URL, callback=self.update)
        api.add_callback("GET", COMMENTS_URL, callback=self.comments)

    def add(self, ticket_id: int) -> None:
        shown = load("ticket_show.json")
        shown["ticket"].update(id=ticket_id, subject="Password", description=QUESTION, status="new", tags=[])
        self.tickets[ticket_id], self.updates[ticket_id] = shown, []

    def show(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.reads_fail:
            return 503, JSON, json.dumps({"error": "Service Unavailable"})
        return 200, JSON, json.dumps(self.tickets[int(TICKET_URL.search(request.url).group(1))])

    def comments(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.reads_fail:
            return 503, JSON, json.dumps({"error": "Service Unavailable"})
        listed = load("ticket_comments.json")
        listed["comments"] = [copy.deepcopy(listed["comments"][0]) | {"id": 101, "body": QUESTION, "plain_body": QUESTION}]
        return 200, JSON, json.dumps(listed)

    def update(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.writes == "refuse":
            return 503, JSON, json.dumps({"error": "Service Unavailable"})
        ticket_id = int(TICKET_URL.search(request.url).group(1))
        change = json.loads(request.body)["ticket"]
        self.updates[ticket_id].append(change)
        tags = self.tickets[ticket_id]["ticket"]["tags"]
        tags.extend(t for t in change.get("additional_tags", ()) if t not in tags)
        if self.writes == "lose":
            if not change.get("comment", {}).get("public", True):
                self.lost_private[ticket_id] = self.lost_private.get(ticket_id, 0) + 1
            raise requests.exceptions.ReadTimeout("the response was lost")
        return 200, JSON, json.dumps(load("ticket_update_response.json"))

    def public_answers(self, ticket_id: int, tag: str) -> int:
        return sum(1 for u in self.updates[ticket_id] if tag in u.get("additional_tags", ()) and u["comment"]["public"])


def created_event(ticket_id: int) -> tuple[bytes, dict[str, str]]:
    """A signed ``ticket.created`` webhook for ``ticket_id``."""
    payload = json.loads((FIXTURES / "event_ticket_created.json").read_text())
    payload["detail"].update(id=str(ticket_id), description=QUESTION, subject="Password")
    payload.update(id=str(uuid.uuid4()), subject=f"zen:ticket:{ticket_id}")
    body, ts = json.dumps(payload).encode(), utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    return body, {verify.SIGNATURE_HEADER: verify.sign("s3cret", ts, body), verify.TIMESTAMP_HEADER: ts,
                  "X-Zendesk-Webhook-Invocation-Id": str(ticket_id), "Content-Type": "application/json"}


class StatsTruth(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.api = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.api.start()
        self.desk = ZendeskDesk(self.api)
        url = fresh_database(self.folder.name)
        self.hub = build_hub(load_settings(settings_dict(url, **ZENDESK, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}})))
        import_articles(self.hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
        self.offset = timedelta(0)

    def now(self) -> Any:
        return utcnow() + self.offset

    @initialize(first_writes=st.lists(st.sampled_from(["ok", "refuse", "lose"]), min_size=1, max_size=4), reads_fail=st.booleans())
    def requests_arrive(self, first_writes: list[str], reads_fail: bool) -> None:
        """Requests decided (their tickets read), their answers' first posts made in ``first_writes``'s modes;
        then reads fail, or not."""
        client = create_app(hub=self.hub).test_client()
        for n, mode in enumerate(first_writes):
            ticket_id = FIRST_TICKET + n
            self.desk.add(ticket_id)
            self.desk.writes = mode
            body, headers = created_event(ticket_id)
            assert client.post("/webhooks/zendesk", data=body, headers=headers).status_code == 200
            self.hub.jobs.drain()  # type: ignore[attr-defined]  # decided, its answer's first attempt made
        self.desk.writes, self.desk.reads_fail = "ok", reads_fail

    @rule(mode=st.sampled_from(["ok", "refuse", "lose"]))
    def writes_become(self, mode: str) -> None:
        self.desk.writes = mode

    @rule(fail=st.booleans())
    def reads_become(self, fail: bool) -> None:
        self.desk.reads_fail = fail

    @rule(step=st.sampled_from(STEPS))
    def time_passes(self, step: timedelta) -> None:
        self.offset += step

    @rule()
    def worker_round(self) -> None:
        now = self.now()
        horizon = timedelta(seconds=self.hub.settings.retry_horizon_seconds)
        for row_id in work.due_ids(self.hub.db, OutboxAction, now):
            outbox.perform(self.hub.db, self.hub.jobs, row_id, self.hub.performers, now, record.on_action_done, horizon=horizon)
        self.hub.jobs.drain()  # type: ignore[attr-defined]

    @rule()
    def sweep_round(self) -> None:
        self.hub.pipeline.escalate_unposted(now=self.now())
        self.hub.jobs.drain()  # type: ignore[attr-defined]

    def settle(self) -> None:
        """The faults end; time runs past every retry and look-up bound (run once, last, from ``teardown``)."""
        self.desk.writes, self.desk.reads_fail = "ok", False
        for step in SETTLE_STEPS:
            self.offset += step
            self.worker_round()
            self.sweep_round()
        figures = self.figures()
        assert figures["unposted"] == 0, figures
        carrying = {t for t, tag in self.answer_tags().items() if self.desk.public_answers(t, tag)}
        assert figures["answered"] == len(carrying - self.given_up()), (figures, carrying, self.given_up())

    # -- what is checked after every step ------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        return figures(self.hub, self.now())

    def answer_tags(self) -> dict[int, str]:
        with self.hub.db.session() as s:
            keys = s.scalars(select(OutboxAction.idempotency_key).where(OutboxAction.idempotency_key.like("answer:%")))
            return {int(k.rsplit(":", 1)[1]): key_tag(k) for k in keys}

    def given_up(self) -> set[int]:
        return {int(ref.rsplit(":", 1)[1]) for ref in answers_given_up(self.hub)}

    @invariant()
    def figures_are_true(self) -> None:
        figures = self.figures()
        assert figures["requests"] == len(self.desk.tickets)  # no request lost
        assert sum(figures["split"].values()) == figures["requests"]  # each in one bucket
        tags = self.answer_tags()
        assert sorted(tags) == sorted(self.desk.tickets)
        for ticket_id, tag in tags.items():
            assert self.desk.public_answers(ticket_id, tag) <= 1, f"ticket {ticket_id}: the answer was posted twice"
            drafts = sum(1 for u in self.desk.updates[ticket_id] if not u["comment"]["public"])
            assert drafts <= 1 + self.desk.lost_private.get(ticket_id, 0)  # a draft is at least once, no more
        carrying = sum(1 for t, tag in tags.items() if self.desk.public_answers(t, tag))
        assert figures["answered"] <= carrying, "counted answered without the vendor having the answer"
        assert_outcomes_once(self.hub)

    def teardown(self) -> None:
        try:
            if self.desk.tickets:
                self.settle()
        finally:
            self.hub.close()
            self.api.stop()
            self.api.reset()
            self.folder.cleanup()


StatsTruth.TestCase.settings = machine_settings(20)
TestStatsTruthUnderFaults = StatsTruth.TestCase
