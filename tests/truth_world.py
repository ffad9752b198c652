"""What the state machines proving the figures true under vendor faults share (tests/test_stats_truth_*.py):
a migrated database per example, the figures as ``/api/v1/stats`` computes them, the steps of time, the
settling rounds, the questions asked of the hub's own rows (answers whose look-up was given up, waiting
inbox rows, outcomes recorded once, requests decided once), and the checks of the machines whose help desk
has agents and a requester acting beside the hub (Jira, Zendesk with polling): :func:`assert_figures_true`
after every step, :func:`assert_settled` at the end, :func:`assert_no_early_followup`, and, once settled,
:func:`assert_followups_heard`."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

import responses
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule
from sqlalchemy import func, select

import migrations
from core.analytics import Costs, parse_period, stats
from core.db import DecisionRow, InboxEvent, OutboxAction, OutcomeRow
from core.models import utcnow
from tests.outage_world import run_inbox, run_outbox

STEPS = [timedelta(minutes=1), timedelta(minutes=6), timedelta(minutes=20), timedelta(hours=3), timedelta(days=1), timedelta(days=8)]
SETTLE_STEPS = [timedelta(minutes=1), timedelta(minutes=20), timedelta(days=2)] * 3
"""The rounds that settle a machine: past every backoff, look-up bound and answer deadline, three times over."""
HORIZON_GIVEN_UP = "gave up after the retry horizon"
_TEMPLATE = tempfile.TemporaryDirectory()  # one migrated database, copied for each example


def machine_settings(default_examples: int) -> settings:
    """The machines' hypothesis settings: ``HUB_FUZZ_EXAMPLES`` examples (else ``default_examples``) of 25 steps."""
    return settings(max_examples=int(os.environ.get("HUB_FUZZ_EXAMPLES", str(default_examples))), stateful_step_count=25,
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh_database(folder: str) -> str:
    """A migrated SQLite database in ``folder`` (a copy of one migrated once per run): its URL."""
    migrated = Path(_TEMPLATE.name) / "hub.db"
    if not migrated.exists():
        migrations.upgrade(f"sqlite:///{migrated}")
    shutil.copy(migrated, Path(folder) / "hub.db")
    return f"sqlite:///{Path(folder) / 'hub.db'}"


def outcomes(hub: Any) -> list[tuple[str, str | None]]:
    """Every outcome recorded: its kind and how (``via``) or why (``reason``), sorted."""
    with hub.db.session() as s:
        return sorted((o.kind, (o.detail or {}).get("via") or (o.detail or {}).get("reason")) for o in s.scalars(select(OutcomeRow)))


def polled_comments(hub: Any) -> list[tuple[str, int]]:
    """The comments polling passed on to the inbox, in order: delivery id and how often each came again."""
    with hub.db.session() as s:
        return [(r.delivery_id, r.duplicates) for r in s.scalars(select(InboxEvent).where(InboxEvent.kind == "commented").order_by(InboxEvent.id))]


def figures(hub: Any, now: datetime | None = None) -> dict[str, Any]:
    """The counts of ``/api/v1/stats`` over the last 700 days, every channel, computed at ``now`` (the hub's
    clock unless told), with the split."""
    today = utcnow()
    with hub.db.session() as s:
        period = parse_period((today - timedelta(days=700)).date().isoformat(), None, now=today)
        doc = stats(s, period, channel=None, costs=Costs(10.0, 1.0), now=now or today)
    return dict(doc["counts"]) | {"split": doc["split"]}


def outbox(hub: Any) -> list[OutboxAction]:
    """Every outbox row, detached."""
    with hub.db.session() as s:
        found = list(s.scalars(select(OutboxAction)))
        s.expunge_all()
        return found


def answers_given_up(hub: Any) -> set[str]:
    """The tickets whose answer was handed over while its vendor could not say whether it had it, and whose
    look-ups were given up past their bound (interceptor/overdue_recheck.py): escalated only, whatever the vendor has."""
    return {row.ticket_ref for row in outbox(hub) if row.idempotency_key.startswith("answer:") and "gave up asking" in (row.last_error or "")}


def waiting(hub: Any, *, given_up: bool = True) -> set[str]:
    """The tickets with an inbox row still to be processed, by the hub or (``given_up``), given up after the retry
    horizon, by the admin's ``hub retry``: the documented limit for a Zendesk or Jira ticket, which stays in its
    help desk (docs/metrics.md, "Work given up at the retry horizon"); a Slack request is handed over instead."""
    with hub.db.session() as s:
        return {e.ticket_ref for e in s.scalars(select(InboxEvent)) if e.status in ("pending", "running")
                or (given_up and e.status == "failed" and HORIZON_GIVEN_UP in (e.last_error or ""))}


def assert_outcomes_once(hub: Any, kinds: tuple[str, ...] = ("answer_posted", "escalated")) -> None:
    """Each of ``kinds`` is recorded at most once per ticket."""
    with hub.db.session() as s:
        once = s.execute(select(OutcomeRow.ticket_ref, OutcomeRow.kind, func.count()).group_by(OutcomeRow.ticket_ref, OutcomeRow.kind))
        twice = [(ref, kind, n) for ref, kind, n in once if kind in kinds and n > 1]
    assert not twice, f"an outcome recorded more than once: {twice}"


def decided(hub: Any) -> set[str]:
    """The tickets whose request the hub decided, each decided once."""
    with hub.db.session() as s:
        refs = list(s.scalars(select(DecisionRow.ticket_ref).where(DecisionRow.trigger == "request")))
    assert len(refs) == len(set(refs)), f"a request decided more than once: {sorted(refs)}"
    return set(refs)


def assert_figures_true(hub: Any, now: datetime, carrying: set[str], taken: Callable[[str], bool]) -> None:
    """What holds after every step: each request in one bucket, ``answered`` never above the tickets holding
    the hub's answer (``carrying``), ``answer_posted``/``escalated`` once per request, each request decided once,
    and nothing lost: every request taken in is decided, waiting in the inbox, or was taken by people (``taken``,
    by ticket ref) before it was decided (in no bucket, docs/metrics.md)."""
    counts = figures(hub, now)
    assert sum(counts["split"].values()) == counts["requests"]
    assert counts["answered"] <= len(carrying), (counts, carrying)
    assert_outcomes_once(hub)
    done = decided(hub)
    assert counts["requests"] == len(done)
    with hub.db.session() as s:
        taken_in = set(s.scalars(select(InboxEvent.ticket_ref).where(InboxEvent.kind == "created")))
    lost = {ref for ref in taken_in - done - waiting(hub) if not taken(ref)}
    assert not lost, f"requests taken in, neither decided, nor waiting, nor taken by people first: {lost}"


def assert_settled(hub: Any, now: datetime, refs: Iterable[str], carrying: set[str], taken: Callable[[str], bool],
                   drafted: Callable[[str], bool], people: dict[str, int]) -> None:
    """What holds once the faults stopped and time ran past every bound: every ticket of ``refs`` not taken by
    people is a decided request (or an inbox row given up after the retry horizon), nothing is unposted,
    ``answered`` equals the tickets holding the answer (bar answers whose look-up was given up), every escalated
    request has the hub's draft (``drafted``; bar a draft row given up after the retry horizon), and the
    requests left to people are no more than what people did (``people``: ``already_solved``,
    ``already_replied``, ``already_noted`` -> how many tickets people solved, replied on, noted on)."""
    counts = figures(hub, now)
    refs = set(refs)
    assert {r for r in refs if not taken(r)} <= decided(hub) | waiting(hub) <= refs, (decided(hub), refs)
    assert counts["unposted"] == 0, counts
    assert counts["answered"] == len(carrying - answers_given_up(hub)), (counts, carrying)
    with hub.db.session() as s:
        escalated = set(s.scalars(select(OutcomeRow.ticket_ref).where(OutcomeRow.kind == "escalated")))
        escalated |= set(s.scalars(select(DecisionRow.ticket_ref).where(DecisionRow.verdict == "escalate")))
    gave_up = {r.ticket_ref for r in outbox(hub) if r.action == "add_internal_note" and HORIZON_GIVEN_UP in (r.last_error or "")}
    for ref in escalated - gave_up:
        assert drafted(ref), f"{ref}: escalated without the hub's draft"
    for bucket, done in people.items():
        assert counts[bucket] <= done, (bucket, counts, people)


def assert_no_early_followup(hub: Any, written: Iterable[tuple[str, str, bool]]) -> None:
    """A requester's comment written before the request was decided is part of the request, not a follow-up:
    a ``solved`` (by reply) or ``not_solved`` outcome, or an escalation for ``not_solved``, needs a comment
    saying so written once the request was decided. ``written``: (ticket ref, what the requester said, whether
    the request was decided by then), where what they said is ``solved``, ``not_solved`` or ``human`` (a request
    for a person is honoured whenever it was written)."""
    said_after = {(ref, what) for ref, what, after in written if after}
    with hub.db.session() as s:
        rows = [(o.ticket_ref, o.kind, (o.detail or {}).get("via") or (o.detail or {}).get("reason")) for o in s.scalars(select(OutcomeRow))]
    for ref, kind, why in rows:
        if (kind == "solved" and why == "reply") or kind == "not_solved" and why == "not_solved":
            assert (ref, kind) in said_after, f"{ref}: {kind} recorded from a comment written before its request was decided"
        if kind == "escalated" and why == "not_solved":
            assert (ref, "not_solved") in said_after, f"{ref}: escalated for a comment written before its request was decided"


def assert_followups_heard(hub: Any, keys: Iterable[str]) -> None:
    """Every requester's comment written once its request was decided, and either delivered by a webhook or
    left to a poll (``keys``: the inbox delivery ids the webhooks and the polls key them by), is in the inbox:
    a poll hears it whatever was written after it before that poll (an agent's note, the hub's own comment,
    another reply, the ticket solved)."""
    with hub.db.session() as s:
        stored = set(s.scalars(select(InboxEvent.delivery_id).where(InboxEvent.kind == "commented")))
    unheard = sorted(set(keys) - stored)
    assert not unheard, f"requester's follow-ups written after the decision never heard: {unheard}"


class DeskMachine(RuleBasedStateMachine):
    """What the machines of a help desk with agents share (Jira, Zendesk with polling): a migrated database folder,
    the vendor faked at the transport (``api``), a clock the machine moves (:meth:`now`, ``offset``), and the
    rules of time passing and of the hub's worker and deadline-sweep rounds. A subclass builds ``hub`` and its
    stand-in, and calls :meth:`close` from its teardown."""

    hub: Any

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.api = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.api.start()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self.offset

    def drain(self) -> None:
        self.hub.jobs.drain()

    @rule(step=st.sampled_from(STEPS))
    def time_passes(self, step: timedelta) -> None:
        self.offset += step

    @rule()
    def worker_round(self) -> None:
        run_inbox(self.hub, self.now())
        run_outbox(self.hub, self.now())
        self.drain()

    @rule()
    def sweep_round(self) -> None:
        self.hub.pipeline.escalate_unposted(now=self.now())
        self.drain()

    def close(self) -> None:
        """Close the hub (when it was built), the transport's fake and the database folder."""
        if hasattr(self, "hub"):
            self.hub.close()
        self.api.stop()
        self.api.reset()
        self.folder.cleanup()
