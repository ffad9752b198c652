"""The figures stay true under faults, for Slack: a state machine (hypothesis) drives 1-4 Slack requests (some the
hub answers, some it hands to people through a Zendesk ticket of record) through ``chat.postMessage`` failing
(503s, 429s with Retry-After, answers lost after the post was made: a 503 or a dropped connection),
``conversations.replies`` failing, the help desk down or losing its answers, Slack's redeliveries, time passing
(past ``HUB_ANSWER_DEADLINE_SECONDS`` and the retry horizon), worker and deadline-sweep rounds, and the
requester's clicks ("This solved it", "I still need help") and replies ("thanks", a new question), and the admin's
``hub retry`` of failed work.

After every step: the hub posts each message in a thread at most once (an answer always; a notice posted
without its look, ``unchecked`` in its outbox row, is the documented at-least-once case and may repeat only
then), every request is in exactly one bucket, ``answered`` never exceeds the threads holding the hub's answer
at the stub, no escalation opened two tickets of record, every request handed to people is ``escalated`` when its
hand-over is made or under way and ``handover_failed`` when its ticket of record was given up (never counted as
with a person then), and nothing is lost (every delivered request has a decision, or an inbox row still to be
processed: a thread unreadable for the whole retry horizon is handed over from its event, not failed). At the end the
faults stop and time runs out (``settle``): ``answered`` equals the threads holding the answer (bar answers whose
look-up failed past its bound), nothing is unposted, each hand-over given up is ``handover_failed`` until the
admin's ``hub retry``, after which every escalated request has exactly one ticket of record, linked from its thread,
and nothing is ``handover_failed``.

Slack is the local stub server (tests/slack_stub.py), Zendesk is faked at the transport (``responses``). The
hub's clock is the real one; time passes by making what the database holds older (tests/slack_truth_world.py). ``HUB_FUZZ_EXAMPLES`` raises the number of
examples (default 10).
"""

from __future__ import annotations

import time
import tempfile
from datetime import timedelta
from typing import Any

import responses
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.zendesk.connector import key_tag
from core.db import DecisionRow, OutcomeRow, TicketRow
from core.models import utcnow
from core.outbox import hand_over_key
from core.queues import retry_failed
from interceptor.kb.importer import import_articles, parse_markdown
from tests.outage_world import run_inbox, run_outbox
from tests.slack_stub import SlackStub, slack_settings
from tests.slack_truth_world import (CHANNEL, QUESTIONS, USER, RecordDesk, age, click, hub_messages, key_of, reply_event, request_event,
                                     signed_post, thread_ref, thread_ts)
from tests.test_slack_flow import ARTICLES
from tests.test_zendesk_connector import ZENDESK
from tests.truth_world import (SETTLE_STEPS, STEPS, answers_given_up, assert_outcomes_once, figures,
                               fresh_database, machine_settings, outbox, waiting)

SLACK_FAULTS = [None, "5xx", "429", "lose", "drop"]
REPLIES = ["thanks, that worked!", "I still get error 403 when I click the link, what now?"]


class SlackStatsTruth(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.stub = SlackStub().start()
        self.stub._clock = int(time.time())  # its messages' ts on the real clock, as the requester's are
        self.stub.users[USER] = {"id": USER, "name": "ada", "real_name": "Ada Lovelace",
                                 "profile": {"email": "ada@example.com", "real_name": "Ada Lovelace"}}
        self.api = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.api.add_passthru(self.stub.url)
        self.api.start()
        self.desk = RecordDesk(self.api)
        values = slack_settings(fresh_database(self.folder.name), self.stub, HUB_CHANNEL_POLICIES={CHANNEL: {"threshold": 0.5}},
                                HUB_ESCALATION_TARGET="zendesk", **ZENDESK)
        self.hub = build_hub(load_settings(values))
        import_articles(self.hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
        self.client = create_app(hub=self.hub).test_client()
        self.delivered: dict[str, dict[str, Any]] = {}  # root ts -> the request's event, as delivered

    def drain(self) -> None:
        self.hub.jobs.drain()  # type: ignore[attr-defined]

    # -- rules ---------------------------------------------------------------------------------------

    @initialize(kinds=st.lists(st.sampled_from(sorted(QUESTIONS)), min_size=1, max_size=2))
    def first_requests(self, kinds: list[str]) -> None:
        for kind in kinds:
            self.request_arrives(kind)

    @precondition(lambda self: len(self.delivered) < 4)
    @rule(kind=st.sampled_from(sorted(QUESTIONS)))
    def request_arrives(self, kind: str) -> None:
        ts = thread_ts(len(self.delivered))
        self.delivered[ts] = request_event(self.stub, ts, QUESTIONS[kind])
        signed_post(self.client, self.delivered[ts])
        self.drain()

    @rule(data=st.data(), retry=st.integers(1, 3))
    def slack_redelivers(self, data: st.DataObject, retry: int) -> None:
        ts = data.draw(st.sampled_from(sorted(self.delivered)))
        signed_post(self.client, self.delivered[ts], retry=retry)
        self.drain()

    @rule(fault=st.sampled_from(SLACK_FAULTS))
    def posts_become(self, fault: str | None) -> None:
        self.stub.outage("chat.postMessage", fault)

    @rule(fault=st.sampled_from([None, "5xx", "429"]))
    def thread_reads_become(self, fault: str | None) -> None:
        self.stub.outage("conversations.replies", fault)

    @rule(mode=st.sampled_from(["ok", "down", "lose"]))
    def help_desk_becomes(self, mode: str) -> None:
        self.desk.mode = mode

    @rule(step=st.sampled_from(STEPS))
    def time_passes(self, step: timedelta) -> None:
        age(self.hub.db, step)

    @rule(reads=st.sampled_from(["5xx", "429"]), desk=st.sampled_from(["down", "lose"]), kind=st.sampled_from([None, *sorted(QUESTIONS)]))
    def long_outage(self, reads: str, desk: str, kind: str | None) -> None:
        """Slack refuses thread reads and the help desk fails for two retry horizons, the hub retrying all along (a
        request arriving in it is given up reading at the first, its ticket of record at the second). The faults
        stay until a rule changes them."""
        self.stub.outage("conversations.replies", reads)
        self.desk.mode = desk
        if kind is not None and len(self.delivered) < 4:
            self.request_arrives(kind)
        for step in (timedelta(minutes=6), timedelta(hours=3), timedelta(days=1)) * 2:
            age(self.hub.db, step)
            self.worker_round()
            self.sweep_round()

    @rule()
    def worker_round(self) -> None:
        now = utcnow()
        run_inbox(self.hub, now)
        run_outbox(self.hub, now)
        self.drain()

    @rule()
    def admin_retries(self) -> None:
        """``hub retry``: every failed row is re-queued with a fresh horizon (the dashboard's re-queue)."""
        retry_failed(self.hub.db, self.hub.jobs)
        self.drain()

    @rule()
    def sweep_round(self) -> None:
        self.hub.pipeline.escalate_unposted(now=utcnow())
        self.drain()

    @rule(data=st.data(), solved=st.booleans())
    def requester_clicks(self, data: st.DataObject, solved: bool) -> None:
        answered = [(ts, m["ts"]) for ts in self.delivered for m in hub_messages(self.stub, ts) if str(key_of(m)).startswith("answer:")]
        if answered:
            root_ts, answer_ts = data.draw(st.sampled_from(answered))
            click(self.client, root_ts, answer_ts, self.stub._next_ts(), solved)
            self.drain()

    @rule(data=st.data(), text=st.sampled_from(REPLIES))
    def requester_writes(self, data: st.DataObject, text: str) -> None:
        root_ts = data.draw(st.sampled_from(sorted(self.delivered)))

        signed_post(self.client, reply_event(self.stub, root_ts, self.stub._next_ts(), text))
        self.drain()

    # -- what is checked -----------------------------------------------------------------------------

    def carrying(self) -> set[str]:
        """The threads holding the hub's answer at the stub."""
        return {ts for ts in self.delivered if any(str(key_of(m)).startswith("answer:") for m in hub_messages(self.stub, ts))}

    @invariant()
    def posted_at_most_once(self) -> None:
        unchecked = {row.idempotency_key for row in outbox(self.hub) if "unchecked" in (row.result or {})}
        for ts in self.delivered:
            keys = [key_of(m) for m in hub_messages(self.stub, ts)]
            assert None not in keys, f"thread {ts}: a hub message without its key"
            twice = {k for k in keys if keys.count(k) > 1}
            assert not {k for k in twice if str(k).startswith("answer:")}, f"thread {ts}: the answer was posted twice: {keys}"
            assert twice <= unchecked, f"thread {ts}: a message posted twice with its look made: {keys}"

    @invariant()
    def figures_are_true(self) -> None:
        counts = figures(self.hub)
        assert sum(counts["split"].values()) == counts["requests"]  # each request in one bucket
        assert counts["answered"] <= len(self.carrying()), (counts, self.carrying())
        with self.hub.db.session() as s:
            decided = set(s.scalars(select(DecisionRow.ticket_ref).where(DecisionRow.trigger == "request")))
        assert_outcomes_once(self.hub, ("answer_posted",))
        assert counts["requests"] == len(decided)
        lost = {thread_ref(ts) for ts in self.delivered} - decided - waiting(self.hub, given_up=False)
        assert not lost, f"requests delivered, neither decided nor waiting: {lost}"
        handed = self.escalated() & decided  # the requests the hub handed to people (no shadow mode here)
        assert counts["escalated"] + counts["handover_failed"] == len(handed), (counts, handed)
        assert counts["handover_failed"] == len(handed & self.hand_over_given_up()), "a hand-over no person has counted escalated"

    @invariant()
    def one_ticket_of_record(self) -> None:
        for ts in self.delivered:
            assert len(self.desk.records_of(key_tag(f"escalate:{thread_ref(ts)}"))) <= 1, f"thread {ts}: two tickets of record"

    def settle(self) -> None:
        """The faults end; time runs past every retry and look-up bound (run once, last, from ``teardown``)."""
        self.stub.outage("chat.postMessage", None)
        self.stub.outage("conversations.replies", None)
        self.desk.mode = "ok"
        for step in SETTLE_STEPS:
            age(self.hub.db, step)
            self.worker_round()
            self.sweep_round()
        counts = figures(self.hub)
        assert counts["unposted"] == 0, counts
        assert counts["answered"] == len({thread_ref(ts) for ts in self.carrying()} - answers_given_up(self.hub)), (counts, self.carrying())
        assert counts["handover_failed"] == len(self.hand_over_given_up()), counts
        self.admin_retries()  # the admin re-queues what was given up; the vendors are back
        for step in SETTLE_STEPS[:2]:
            age(self.hub.db, step)
            self.worker_round()
            self.sweep_round()
        counts = figures(self.hub)
        assert counts["handover_failed"] == 0 and not self.hand_over_given_up(), counts
        with self.hub.db.session() as s:
            linked = {t.external_id: t.escalated_to for t in s.scalars(select(TicketRow))}
        escalated = self.escalated()
        for ts in self.delivered:
            records = self.desk.records_of(key_tag(f"escalate:{thread_ref(ts)}"))
            if thread_ref(ts) in escalated:
                assert len(records) == 1, f"thread {ts}: escalated, tickets of record {records}"
                assert linked.get(thread_ref(ts).split(":", 1)[1]) == f"zendesk:{records[0]}", (ts, linked)
            else:
                assert records == [], f"thread {ts}: a ticket of record for a request not escalated"

    def escalated(self) -> set[str]:
        with self.hub.db.session() as s:
            esc = set(s.scalars(select(OutcomeRow.ticket_ref).where(OutcomeRow.kind == "escalated")))
            return esc | set(s.scalars(select(DecisionRow.ticket_ref).where(DecisionRow.verdict == "escalate")))

    def hand_over_given_up(self) -> set[str]:
        """Threads whose ticket of record was given up after the retry horizon (the help desk down, or losing its
        answers, for HUB_RETRY_HORIZON_SECONDS): a failed row, ``handover_failed`` until the admin's ``hub retry``."""
        return {row.ticket_ref for row in outbox(self.hub) if row.idempotency_key == hand_over_key(row.ticket_ref) and row.status == "failed"}

    def teardown(self) -> None:
        try:
            if self.delivered:
                self.settle()
        finally:
            self.hub.close()
            self.api.stop()
            self.api.reset()
            self.stub.stop()
            self.folder.cleanup()


SlackStatsTruth.TestCase.settings = machine_settings(10)
TestSlackStatsTruthUnderFaults = SlackStatsTruth.TestCase


def test_work_given_up_at_the_horizon_keeps_the_figures_true() -> None:
    """The two cases a short run may not draw, step by step: a refund request whose thread Slack refuses to list
    and whose ticket of record Zendesk will not create, both past the horizon, is handed over from its event and then
    ``handover_failed``; ``hub retry`` after the outage opens its one ticket and it is ``escalated``."""
    machine = SlackStatsTruth()
    try:
        machine.first_requests(["answerable"])
        machine.long_outage("5xx", "down", "refund")
        checks = (machine.posted_at_most_once, machine.figures_are_true, machine.one_ticket_of_record)
        for check in checks:
            check()
        ref = thread_ref(thread_ts(1))
        with machine.hub.db.session() as s:
            [reasons] = s.scalars(select(DecisionRow.reasons).where(DecisionRow.ticket_ref == ref))
        assert reasons[0] == "thread_unreadable" and machine.hand_over_given_up() == {ref}
        assert figures(machine.hub)["handover_failed"] == 1
        machine.thread_reads_become(None)
        machine.help_desk_becomes("ok")
        machine.admin_retries()
        for check in checks:
            check()
        assert (figures(machine.hub)["handover_failed"], figures(machine.hub)["escalated"]) == (0, 1)
        assert len(machine.desk.records_of(key_tag(f"escalate:{ref}"))) == 1
    finally:
        machine.teardown()
