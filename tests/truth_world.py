"""What the state machines proving the figures true under vendor faults share (tests/test_stats_truth_*.py):
a migrated database per example, the figures as ``/api/v1/stats`` computes them, the steps of time, the
settling rounds, and the questions asked of the hub's own rows (answers whose look-up was given up, waiting
inbox rows, outcomes recorded once)."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

import migrations
from core.analytics import Costs, parse_period, stats
from core.db import InboxEvent, OutboxAction, OutcomeRow
from core.models import utcnow

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


def waiting(hub: Any) -> set[str]:
    """The tickets with an inbox row still to be processed, by the hub or, given up after the retry horizon, by
    the admin's ``hub retry`` (the documented limit, README ``HUB_RETRY_HORIZON_SECONDS``)."""
    with hub.db.session() as s:
        return {e.ticket_ref for e in s.scalars(select(InboxEvent)) if e.status in ("pending", "running")
                or (e.status == "failed" and HORIZON_GIVEN_UP in (e.last_error or ""))}


def assert_outcomes_once(hub: Any, kinds: tuple[str, ...] = ("answer_posted", "escalated")) -> None:
    """Each of ``kinds`` is recorded at most once per ticket."""
    with hub.db.session() as s:
        once = s.execute(select(OutcomeRow.ticket_ref, OutcomeRow.kind, func.count()).group_by(OutcomeRow.ticket_ref, OutcomeRow.kind))
        twice = [(ref, kind, n) for ref, kind, n in once if kind in kinds and n > 1]
    assert not twice, f"an outcome recorded more than once: {twice}"
