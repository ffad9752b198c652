"""The figures stay true under faults, for Zendesk with webhooks and polling: a state machine (hypothesis) drives
1-4 Zendesk requests (a password question the hub answers, a refund it hands to agents with a draft), on a hub
that polls (``ZENDESK_POLL``: the incremental ticket export, every changed ticket seen) or not, each request
brought by the ``ticket.created`` webhook, by the poll, or both, through Zendesk's faults
(tests/zendesk_truth_world.py): ticket updates refused before they are applied (503, 429 with Retry-After) or
applied with their answer lost, ticket reads refused, exports refused (503, 429: the cursor stays and the next
round reads again), webhooks delivered again, time passing, worker, poll and deadline-sweep rounds, an agent
acting meanwhile (a public reply, an internal note, solving the ticket; with or without its webhook; changing a
ticket within the minute before each of some polls, which the export then leaves it out of) and the
requester writing back before or after the request is decided ("thanks, that worked!", "it still does not
work", a request for a person; with or without its webhook).

After every step: the hub's public comments on a ticket are at most one (its answer), its drafts (internal,
at least once) are no more than its draft rows plus its updates whose answer was lost, and the figures are
true (:func:`tests.truth_world.assert_figures_true`: one bucket each, ``answered`` never above the tickets
holding the answer, outcomes once, each request decided once, nothing lost), and a requester's comment
written before the request was decided is part of the request, not a follow-up
(:func:`tests.truth_world.assert_no_early_followup`). At the end the faults stop and time runs past every bound
(:func:`tests.truth_world.assert_settled`): every request not taken by people is decided, nothing unposted,
``answered`` equals the tickets holding the answer, every escalated request holds the hub's draft, and every
comment the requester wrote once the request was decided is heard, by its webhook or, without one, by a poll
whatever was written after it before that poll (:func:`tests.truth_world.assert_followups_heard`).

The hub's clock is the real one plus an offset the machine moves (as in the other machines); the export's
last minute is on that clock. ``HUB_FUZZ_EXAMPLES`` raises the number of examples (default 10).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from app import create_app
from connectors.polling import poll_once
from connectors.zendesk.events import comment_key
from connectors.zendesk.poll import CURSOR_NAME
from core.errors import ConnectorError
from interceptor.guard import classify_followup
from tests.slack_truth_world import QUESTIONS
from tests.test_standins_zendesk import hub_for
from tests.truth_world import (SETTLE_STEPS, DeskMachine, assert_figures_true, assert_followups_heard, assert_no_early_followup,
                               assert_settled, decided, figures, fresh_database, machine_settings, outbox)
from tests.zendesk_truth_world import AGES, EXPORT, FAULTS, READS, REFUSED, REQUESTERS, WRITES, Account

SUBJECTS = {"answerable": "Password", "refund": "Refund"}
REPLIES = ["thanks, that worked!", "It still does not work", "It still does not work, I need a person"]
REQUEST = st.tuples(st.sampled_from(sorted(QUESTIONS)), st.sampled_from(["webhook", "poll", "both"]), st.sampled_from([None, *FAULTS]),
                    st.sampled_from(AGES), st.sampled_from(REQUESTERS))


class ZendeskStatsTruth(DeskMachine):
    def __init__(self) -> None:
        super().__init__()
        self.account = Account(self.api, self.now)
        self.tickets: list[int] = []
        self.deliveries: list[tuple[bytes, str]] = []  # every webhook delivered (body, invocation), to be delivered again
        self.written: list[tuple[str, str, bool]] = []  # the requester's comments: ref, what they say, decided by then
        self.followups: list[str] = []  # the inbox keys of those written once decided, by webhook or left to a poll
        self.polling = False
        self.reached: set[str] = set()

    def deliver(self, body: bytes) -> None:
        self.deliveries.append((body, self.account.deliver(self.client, body)))
        self.drain()

    # -- rules ---------------------------------------------------------------------------------------

    @initialize(polling=st.booleans(), asked=st.lists(REQUEST, min_size=1, max_size=4),
                exports=st.lists(st.sampled_from(sorted(REFUSED)), max_size=3))
    def requests_arrive(self, polling: bool, asked: list[tuple[str, str, str | None, timedelta, int]], exports: list[str]) -> None:
        """Each request raised (oldest first), brought by its webhook, left to the poll, or both (a hub that
        does not poll gets every request by webhook), its hub's first update meeting ``fault`` (if any); the
        first exports meeting ``exports``; then a poll round."""
        self.polling = polling
        self.hub = hub_for(fresh_database(self.folder.name), ZENDESK_POLL=str(polling).lower())
        self.client = create_app(hub=self.hub).test_client()
        for fault in exports:
            self.account.fault(*EXPORT, fault)
        for n, (kind, intake, fault, ago, requester) in sorted(enumerate(asked), key=lambda item: -item[1][3]):
            tid = self.account.raise_request(n, SUBJECTS[kind], QUESTIONS[kind], ago, requester)
            self.tickets.append(tid)
            if fault is not None:
                self.account.fault("PUT", f"/api/v2/tickets/{tid}.json", fault)
            if intake != "poll" or not polling:
                self.deliver(self.account.created(tid))
        self.poll_round()

    @rule(fault=st.sampled_from(FAULTS), times=st.integers(1, 3))
    def writes_fail(self, fault: str, times: int) -> None:
        for _ in range(times):
            self.account.fault(*WRITES, fault)

    @rule(what=st.sampled_from(["reads", "exports"]), fault=st.sampled_from(sorted(REFUSED)), times=st.integers(1, 4))
    def reads_fail(self, what: str, fault: str, times: int) -> None:
        for _ in range(times):
            self.account.fault(*(READS if what == "reads" else EXPORT), fault)

    @rule()
    def poll_round(self) -> None:
        if not self.polling:
            return
        try:
            self.reached.add(f"poll new {poll_once(self.hub, self.hub.connectors['zendesk'], CURSOR_NAME) > 0}")
        except ConnectorError as e:
            self.reached.add(f"poll failed {type(e).__name__}")  # the scheduler logs it; the cursor stays put
        self.drain()

    @rule(data=st.data(), polls=st.integers(1, 3))
    def ticket_kept_busy(self, data: st.DataObject, polls: int) -> None:
        """Agents keep changing a ticket within the minute before each of the next ``polls`` poll rounds, five
        minutes apart, the other tickets changing a little earlier: the export leaves the ticket out of each, and
        gives the others."""
        tid = data.draw(st.sampled_from(self.tickets))
        for _ in range(polls):
            self.time_passes(timedelta(minutes=5))
            for other in self.tickets:
                if other != tid:
                    self.account.touch(other, self.now() - timedelta(seconds=90))
            self.account.touch(tid, self.now() - timedelta(seconds=30))
            self.poll_round()

    @rule(data=st.data())
    def zendesk_redelivers(self, data: st.DataObject) -> None:
        if self.deliveries:
            body, invocation = data.draw(st.sampled_from(self.deliveries))
            self.account.deliver(self.client, body, invocation)
            self.drain()

    @rule(data=st.data(), act=st.sampled_from(["reply", "note", "solve"]), hooked=st.booleans())
    def agent_acts(self, data: st.DataObject, act: str, hooked: bool) -> None:
        body = self.account.agent_acts(data.draw(st.sampled_from(self.tickets)), act)
        if hooked:
            self.deliver(body)

    @rule(data=st.data(), text=st.sampled_from(REPLIES), hooked=st.booleans())
    def requester_writes(self, data: st.DataObject, text: str, hooked: bool) -> None:
        tid = data.draw(st.sampled_from(self.tickets))
        ref = f"zendesk:{tid}"
        self.written.append((ref, str(classify_followup(text)), ref in decided(self.hub)))
        self.reached.add(f"requester wrote {'after' if self.written[-1][2] else 'before'} the decision")
        body = self.account.requester_writes(tid, text)
        if self.written[-1][2] and (hooked or self.polling):
            self.followups.append(comment_key(str(tid), str(self.account.standin.comments[tid][-1]["id"])))
        if hooked:
            self.deliver(body)

    # -- what is checked -----------------------------------------------------------------------------

    @invariant()
    def posted_at_most_once(self) -> None:
        rows = outbox(self.hub)
        for tid in self.tickets:
            assert len(self.account.hub_comments(tid, public=True)) <= 1, f"ticket {tid}: the answer was posted twice"
            drafts = len(self.account.hub_comments(tid, public=False))
            draft_rows = sum(1 for r in rows if r.action == "add_internal_note" and r.ticket_ref == f"zendesk:{tid}")
            assert drafts <= draft_rows + self.account.unsure_writes(tid), f"ticket {tid}: {drafts} drafts of {draft_rows} rows"

    @invariant()
    def figures_are_true(self) -> None:
        if self.tickets:
            assert_figures_true(self.hub, self.now(), self.account.carrying(), self.account.taken)
            assert_no_early_followup(self.hub, self.written)

    def settle(self) -> None:
        """The faults end; time runs past every retry and look-up bound (run once, last, from ``teardown``)."""
        self.account.standin.faults.clear()
        for step in SETTLE_STEPS:
            self.offset += step
            self.poll_round()
            self.worker_round()
            self.sweep_round()
        tickets = self.tickets
        people = {"already_solved": len(self.account.solved),
                  "already_replied": sum(1 for t in tickets if self.account.agents(t, public=True)),
                  "already_noted": sum(1 for t in tickets if self.account.agents(t, public=False))}
        assert_settled(self.hub, self.now(), [f"zendesk:{t}" for t in tickets], self.account.carrying(), self.account.taken,
                       lambda ref: bool(self.account.hub_comments(int(ref.split(":", 1)[1]), public=False)), people)
        assert_no_early_followup(self.hub, self.written)
        assert_followups_heard(self.hub, self.followups)
        REACHED.update(self.reached | {f"bucket {b}" for b, n in figures(self.hub, self.now())["split"].items() if n}
                       | {f"fault {what}" for _, _, _, what in self.account.standin.met})

    def teardown(self) -> None:
        try:
            if self.tickets:
                self.settle()
        finally:
            self.close()


REACHED: set[str] = set()
"""What the examples of this run reached (buckets, faults met, polls), for the report of a long run."""
ZendeskStatsTruth.TestCase.settings = machine_settings(10)
TestZendeskStatsTruthUnderFaults = ZendeskStatsTruth.TestCase
