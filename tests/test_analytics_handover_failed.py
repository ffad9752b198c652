"""The ``handover_failed`` bucket of docs/metrics.md on hand-built rows, on SQLite and PostgreSQL: a request handed
to people whose hand-over write (its ``escalate:<ref>`` outbox row: the ticket of record, or the triage post) is
``failed`` is in no other bucket, not escalated, not human-handled and costs no agent ticket; a hand-over still
under way (pending, re-queued) or made is ``escalated`` as before, and the buckets add up to the requests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from core.analytics import parse_period, series
from core.db import Database, DecisionRow, OutboxAction
from test_analytics_definitions import COSTS, H, db, figures  # noqa: F401 - the db fixture
from test_analytics_seed import NOW, Seed


def hand_over(s: Seed, request: DecisionRow, status: str, at: datetime) -> None:
    """The request's hand-over write (a ticket of record in Zendesk), in ``status`` since ``at``."""
    s.session.add(OutboxAction(
        idempotency_key=f"escalate:{request.ticket_ref}", connector="zendesk", action="create_ticket", ticket_ref=request.ticket_ref,
        payload={"origin": {"connector": "slack", "ref": request.ticket_ref}}, status=status, created_at=at - H,
        next_attempt_at=at, finished_at=at if status in ("done", "failed") else None,
        last_error="gave up after the retry horizon (86400 s): Retriable: 503" if status == "failed" else None))
    s.session.flush()


def test_a_failed_hand_over_is_its_own_bucket_not_escalated(db: Database) -> None:  # noqa: F811
    def build(s: Seed) -> None:
        failed = s.ask(s.person("slack", "a@x.com"), NOW - 30 * H, verdict="escalate")
        s.outcome(failed, "escalated", NOW - 30 * H, reason="sensitive_topic:billing")
        hand_over(s, failed, "failed", NOW - 6 * H)
        made = s.ask(s.person("slack", "b@x.com"), NOW - 30 * H, verdict="escalate")
        hand_over(s, made, "done", NOW - 29 * H)
        again = s.ask(s.person("slack", "c@x.com"), NOW - 30 * H, verdict="escalate")
        hand_over(s, again, "pending", NOW - H)  # re-queued by hub retry: under way again
        shadow = s.ask(s.person("slack", "d@x.com"), NOW - 30 * H, verdict="escalate", dry_run=True, reasons=["dry_run"])
        hand_over(s, shadow, "failed", NOW - 6 * H)  # the shadow draft never reached people either
        answered = s.ask(s.person("slack", "e@x.com"), NOW - 30 * H)
        s.follow_up(answered, NOW - 29 * H)  # "I still need help": handed over, and that failed
        s.outcome(answered, "not_solved", NOW - 29 * H)
        hand_over(s, answered, "failed", NOW - 5 * H)

    doc = figures(db, build)
    counts, split = doc["counts"], doc["split"]
    assert counts["requests"] == 5 and sum(split.values()) == 5
    assert (split["handover_failed"], counts["handover_failed"]) == (3, 3)
    assert (split["escalated"], split["shadow"]) == (2, 0)
    assert (counts["escalated"], counts["escalated_direct"], counts["escalated_after_answer"]) == (2, 2, 0)
    assert counts["human_handled"] == 2 and counts["answered"] == 1 and counts["deflected"] == 0
    assert doc["rates"]["escalation_ratio"] == 0.4
    assert doc["cost"]["agent_total"] == 20.0, "a ticket no person has costs no agent"
    [channel] = doc["channels"]
    assert (channel["handover_failed"], channel["escalated"]) == (3, 2)


@pytest.mark.parametrize("status,bucket", [("failed", "handover_failed"), ("pending", "escalated"), ("done", "escalated")])
def test_hub_retry_moves_it_back_to_escalated_and_the_series_days_add_up(db: Database, status: str, bucket: str) -> None:  # noqa: F811
    def build(s: Seed) -> None:
        request = s.ask(s.person("slack", "a@x.com"), NOW - 30 * H, verdict="escalate")
        hand_over(s, request, status, NOW - 2 * H)

    doc = figures(db, build)
    assert doc["split"][bucket] == 1 and sum(doc["split"].values()) == 1
    with db.session() as session:
        days = series(session, parse_period("2026-11-01", "2026-11-20", now=NOW), channel=None, now=NOW)["days"]
    assert sum(d[bucket] for d in days) == 1 and sum(d["requests"] for d in days) == 1
    assert sum(d["split_handover_failed"] for d in days) == (1 if status == "failed" else 0)


def test_figures_as_of_before_the_failure_say_escalated(db: Database) -> None:  # noqa: F811
    def build(s: Seed) -> None:
        request = s.ask(s.person("slack", "a@x.com"), NOW - 30 * H, verdict="escalate")
        hand_over(s, request, "failed", NOW + timedelta(hours=1))  # it fails after the evaluation time

    doc: dict[str, Any] = figures(db, build)
    assert (doc["split"]["escalated"], doc["split"]["handover_failed"]) == (1, 0)
