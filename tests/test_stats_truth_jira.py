"""The figures stay true under faults, for Jira: a state machine (hypothesis) drives 1-4 Jira requests (a
password question the hub answers, a refund it hands to agents with a draft), each brought by the issue-created
webhook or found by the poll (JIRA_POLL; every issue is polled, so a webhook's request is also seen both ways),
through Jira's faults (tests/jira_truth_world.py): comment, transition and label writes refused before they are
applied (503, 429 with Retry-After) or applied with their answer lost (a 503, a dropped connection), reads
refused, webhooks delivered again, time passing (past ``HUB_ANSWER_DEADLINE_SECONDS`` and the retry horizon),
worker, poll and deadline-sweep rounds, agents acting meanwhile (a public reply, an internal note, resolving the
issue; with or without their webhook) and the requester writing back (a thanks, a request for a person: a
follow-up draft with the reopen transition JIRA_REOPEN_TRANSITION).

After every step: the hub's public comments on an issue each carry a key and no key twice, its drafts (keyless
internal notes, at least once) are no more than its draft rows plus the writes whose fate it could not know,
each request is in exactly one bucket of the stats (``core.analytics.stats``, which ``/api/v1/stats`` serves),
``answered`` never exceeds the issues holding the hub's answer as a public comment, ``answer_posted`` and
``escalated`` are recorded at most once per request, and nothing is lost (every request the hub took in is
decided, still waiting in the inbox, or taken by people before it was decided: in no bucket, as docs/metrics.md
says). At the end the faults stop and time runs past every bound (``settle``):
every issue is a decided request (bar an inbox row given up after the retry horizon, and an issue people took
first: the documented limits),
nothing is unposted, ``answered`` equals the issues holding the answer (bar answers whose look-up was given up:
interceptor/overdue_recheck.py), every escalated request has the hub's draft on its issue (bar a draft row given
up after the retry horizon), and the requests left to people (already solved, replied, noted) are no more than
the issues people resolved, replied on, noted on. A requester's comment written before the request was decided
is part of the request, not a follow-up (:func:`tests.truth_world.assert_no_early_followup`, after every step and
at the end), and every one written once it was decided is heard by the poll, whatever was written after it
before that poll (an agent's note, the hub's comment, another reply, the issue resolved:
:func:`tests.truth_world.assert_followups_heard`).

Jira is the stand-in at the transport (``responses``); the hub's clock is the real one plus an offset the
machine moves, passed to the inbox and outbox workers and the sweep as ``now`` (as in the Zendesk machine); the
stand-in stamps what is written on the real clock, as the hub stamps its own rows (a comment stamped on the
moved clock read as written after a decision made before it). ``HUB_FUZZ_EXAMPLES`` raises the number of examples (default 10).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from app import create_app
from connectors.jira.events import comment_key
from connectors.jira.poll import CURSOR_NAME
from connectors.polling import poll_once
from core.errors import ConnectorError
from interceptor.guard import classify_followup
from tests.jira_truth_world import FAULTS, READS, WRITES, Site
from tests.slack_truth_world import QUESTIONS
from tests.test_standins_jira import hub_for
from tests.truth_world import (SETTLE_STEPS, DeskMachine, assert_figures_true, assert_followups_heard, assert_no_early_followup,
                               assert_settled, decided, fresh_database, machine_settings, outbox)

SUMMARIES = {"answerable": "Password", "refund": "Refund"}
REPLIES = ["thanks, that worked!", "It still does not work, I need a person"]
REQUEST = st.tuples(st.sampled_from(sorted(QUESTIONS)), st.sampled_from(["webhook", "poll"]), st.sampled_from([None, *FAULTS]))


class JiraStatsTruth(DeskMachine):
    def __init__(self) -> None:
        super().__init__()
        self.site = Site(self.api)  # stamped on the real clock, as the hub stamps its decisions (the offset ages rows)
        self.hub = hub_for(fresh_database(self.folder.name), JIRA_POLL=True, JIRA_REOPEN_TRANSITION="11")
        self.client = create_app(hub=self.hub).test_client()
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []  # every webhook delivered, to be delivered again
        self.keys: list[str] = []
        self.written: list[tuple[str, str, bool]] = []  # the requester's comments: ref, what they say, decided by then
        self.followups: list[str] = []  # the inbox keys of those written once decided (every issue is polled)

    def deliver(self, kind: str, key: str, more: dict[str, Any]) -> None:
        body, headers = self.site.signed(kind, key, f"wh-{len(self.deliveries)}", more)
        self.deliveries.append((body, headers))
        assert self.client.post("/webhooks/jira", data=body, headers=headers).status_code == 200
        self.drain()

    # -- rules ---------------------------------------------------------------------------------------

    @initialize(asked=st.lists(REQUEST, min_size=1, max_size=4), reads=st.lists(st.sampled_from(["503", "429"]), max_size=3))
    def requests_arrive(self, asked: list[tuple[str, str, str | None]], reads: list[str]) -> None:
        """Each request raised, brought by its webhook or left to the poll, its hub's first comment write meeting
        ``fault`` (if any), the first reads meeting ``reads``; then a poll round."""
        for fault in reads:
            self.site.fault(*READS, fault)
        for n, (kind, intake, fault) in enumerate(asked):
            key = self.site.raise_request(n, SUMMARIES[kind], QUESTIONS[kind])
            self.keys.append(key)
            if fault is not None:
                self.site.fault("POST", f"/rest/api/2/issue/{key}/comment", fault)
            if intake == "webhook":
                self.deliver("jira:issue_created", key, {"issue_event_type_name": "issue_created"})
        self.poll_round()

    @rule(what=st.sampled_from(sorted(WRITES)), fault=st.sampled_from(FAULTS), times=st.integers(1, 3))
    def writes_fail(self, what: str, fault: str, times: int) -> None:
        for _ in range(times):
            self.site.fault(*WRITES[what], fault)

    @rule(fault=st.sampled_from(["503", "429"]), times=st.integers(1, 4))
    def reads_fail(self, fault: str, times: int) -> None:
        for _ in range(times):
            self.site.fault(*READS, fault)

    @rule()
    def poll_round(self) -> None:
        try:
            poll_once(self.hub, self.hub.connectors["jira"], CURSOR_NAME)
        except ConnectorError:
            pass  # the scheduler logs it; the cursor stays put and the next round reads again
        self.drain()

    @rule(data=st.data())
    def jira_redelivers(self, data: st.DataObject) -> None:
        if self.deliveries:
            body, headers = data.draw(st.sampled_from(self.deliveries))
            assert self.client.post("/webhooks/jira", data=body, headers=headers).status_code == 200
            self.drain()

    @rule(data=st.data(), act=st.sampled_from(["reply", "note", "resolve"]), hooked=st.booleans())
    def agent_acts(self, data: st.DataObject, act: str, hooked: bool) -> None:
        key = data.draw(st.sampled_from(self.keys))
        kind, more = self.site.agent_acts(key, act)
        if hooked:
            self.deliver(kind, key, more)

    @rule(data=st.data(), text=st.sampled_from(REPLIES), hooked=st.booleans())
    def requester_writes(self, data: st.DataObject, text: str, hooked: bool) -> None:
        key = data.draw(st.sampled_from(self.keys))
        self.written.append((f"jira:{key}", str(classify_followup(text)), f"jira:{key}" in decided(self.hub)))
        kind, more = self.site.requester_writes(key, text)
        if self.written[-1][2]:
            self.followups.append(comment_key(more["comment"]["id"]))
        if hooked:
            self.deliver(kind, key, more)

    # -- what is checked -----------------------------------------------------------------------------

    @invariant()
    def posted_at_most_once(self) -> None:
        rows = outbox(self.hub)
        for key in self.keys:
            said = [self.site.hub_key(c) for c in self.site.hub_comments(key, public=True)]
            assert None not in said and len(said) == len(set(said)), f"{key}: the hub's public comments {said}"
            drafts = [c for c in self.site.hub_comments(key, public=False) if self.site.hub_key(c) is None]
            draft_rows = sum(1 for r in rows if r.action == "add_internal_note" and r.ticket_ref == f"jira:{key}")
            assert len(drafts) <= draft_rows + self.site.unsure_writes(key), f"{key}: {len(drafts)} drafts of {draft_rows} rows"

    @invariant()
    def figures_are_true(self) -> None:
        assert_figures_true(self.hub, self.now(), {f"jira:{k}" for k in self.site.carrying()}, self.taken)
        assert_no_early_followup(self.hub, self.written)

    def taken(self, ref: str) -> bool:
        return self.site.taken(ref.split(":", 1)[1])

    def settle(self) -> None:
        """The faults end; time runs past every retry and look-up bound (run once, last, from ``teardown``)."""
        self.site.standin.faults.clear()
        for step in SETTLE_STEPS:
            self.offset += step
            self.poll_round()
            self.worker_round()
            self.sweep_round()
        people = {"already_solved": len(self.site.resolved),
                  "already_replied": sum(1 for k in self.keys if self.site.agents(k, public=True)),
                  "already_noted": sum(1 for k in self.keys if self.site.agents(k, public=False))}
        assert_settled(self.hub, self.now(), [f"jira:{k}" for k in self.keys], {f"jira:{k}" for k in self.site.carrying()}, self.taken,
                       lambda ref: bool(self.site.hub_comments(ref.split(":", 1)[1], public=False)), people)
        assert_no_early_followup(self.hub, self.written)
        assert_followups_heard(self.hub, self.followups)

    def teardown(self) -> None:
        try:
            if self.keys:
                self.settle()
        finally:
            self.close()


JiraStatsTruth.TestCase.settings = machine_settings(10)
TestJiraStatsTruthUnderFaults = JiraStatsTruth.TestCase
