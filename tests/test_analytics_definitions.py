"""Every definition of docs/metrics.md on hand-built rows, on SQLite and PostgreSQL (the traps included)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest

from core.analytics import Costs, parse_period, series, stats
from core.db import Database, TicketRow
from test_analytics_seed import NOW, Seed

H = timedelta(hours=1)
COSTS = Costs(agent_ticket=10.0, automated_answer=1.0)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def figures(db: Database, build: Callable[[Seed], Any], channel: str | None = None) -> dict[str, Any]:
    with db.session() as session:
        build(Seed(session))
    with db.session() as session:
        return stats(session, parse_period("2026-11-01", "2026-11-20", now=NOW), channel=channel, costs=COSTS, now=NOW)


def test_silence_is_not_a_verified_resolution(db: Database) -> None:
    doc = figures(db, lambda s: s.ask(s.person("slack", "a@x.com"), NOW - 72 * H))
    assert doc["split"]["assumed"] == 1 and doc["split"]["verified"] == 0
    assert doc["rates"]["verified_resolution_rate"] == 0.0
    assert doc["rates"]["assumed_resolution_rate"] == 1.0
    assert doc["rates"]["deflection_rate"] == 1.0


def test_a_confirmation_is_a_verified_resolution(db: Database) -> None:
    def build(s: Seed) -> None:
        d = s.ask(s.person("slack", "a@x.com"), NOW - 72 * H)
        s.outcome(d, "solved", NOW - 71 * H)

    doc = figures(db, build)
    assert doc["split"]["verified"] == 1 and doc["counts"]["confirmed_solved"] == 1
    assert doc["rates"]["verified_resolution_rate"] == 1.0 and doc["rates"]["assumed_resolution_rate"] == 0.0


def test_recontact_through_another_channel_within_48h_cancels_the_deflection(db: Database) -> None:
    def build(s: Seed) -> None:
        s.ask(s.person("slack", "Alice@Example.com"), NOW - 100 * H)
        s.ask(s.person("zendesk", "alice@example.com"), NOW - 60 * H, verdict="escalate")

    doc = figures(db, build)
    assert doc["counts"]["requests"] == 2 and doc["counts"]["answered"] == 1
    assert doc["split"]["recontacted"] == 1 and doc["counts"]["deflected"] == 0
    assert doc["rates"]["recontact_rate"] == 1.0 and doc["rates"]["deflection_rate"] == 0.0


def test_recontact_after_48h_does_not_cancel_it(db: Database) -> None:
    def build(s: Seed) -> None:
        s.ask(s.person("slack", "alice@example.com"), NOW - 110 * H)
        s.ask(s.person("jira", "alice@example.com"), NOW - 110 * H + 48 * H + timedelta(minutes=1), verdict="escalate")

    doc = figures(db, build)
    assert doc["split"]["assumed"] == 1 and doc["counts"]["recontacted"] == 0
    assert doc["rates"]["deflection_rate"] == 0.5


def test_recontact_joins_people_without_email_only_by_their_own_row(db: Database) -> None:
    def build(s: Seed) -> None:
        bob = s.person("slack")
        s.ask(bob, NOW - 100 * H)
        s.ask(s.person("slack"), NOW - 99 * H, verdict="escalate")  # someone else, also without an email
        carol = s.person("slack")
        s.ask(carol, NOW - 100 * H)
        s.ask(carol, NOW - 90 * H, verdict="escalate")

    doc = figures(db, build)
    assert doc["counts"]["recontacted"] == 1 and doc["split"]["assumed"] == 1


def test_recontact_is_seen_across_channels_even_when_stats_are_filtered(db: Database) -> None:
    def build(s: Seed) -> None:
        s.ask(s.person("slack", "dan@example.com"), NOW - 100 * H, channel="C-help")
        s.ask(s.person("zendesk", "dan@example.com"), NOW - 80 * H, verdict="escalate")

    doc = figures(db, build, channel="C-help")
    assert doc["counts"]["requests"] == 1 and doc["split"]["recontacted"] == 1


def test_dry_run_decisions_are_shadow_never_answered(db: Database) -> None:
    def build(s: Seed) -> None:
        d = s.ask(s.person("zendesk", "e@x.com"), NOW - 72 * H, dry_run=True)
        s.outcome(d, "agent_reply", NOW - 71 * H)

    doc = figures(db, build)
    assert doc["counts"]["answered"] == 0 and doc["counts"]["shadow"] == 1 and doc["split"]["shadow"] == 1
    assert doc["counts"]["deflected"] == 0 and doc["counts"]["human_handled"] == 1
    assert doc["rates"]["verified_resolution_rate"] is None  # nothing answered: no rate, not 0 %
    assert doc["first_response"]["agents"]["median_seconds"] == 3600


def test_shadow_mode_as_the_interceptor_records_it(db: Database) -> None:
    """Shadow mode records a would-be answer as verdict escalate with the reason ``dry_run``."""

    def build(s: Seed) -> None:
        would = s.ask(s.person("slack", "g@x.com"), NOW - 72 * H, verdict="escalate", dry_run=True, confidence=0.9,
                      reasons=["dry_run", "confident"])
        s.outcome(would, "escalated", NOW - 72 * H, reason="dry_run")
        s.ask(s.person("slack", "h@x.com"), NOW - 70 * H, verdict="escalate", dry_run=True, confidence=0.2,
              reasons=["confidence_below_threshold"])  # would have escalated anyway

    doc = figures(db, build)
    assert doc["split"]["shadow"] == 1 and doc["split"]["escalated"] == 1 and doc["counts"]["answered"] == 0
    assert doc["rates"]["escalation_ratio"] == 0.5 and doc["counts"]["human_handled"] == 2


def test_not_solved_then_escalated_counts_as_escalated_not_deflected(db: Database) -> None:
    def build(s: Seed) -> None:
        d = s.ask(s.person("slack", "f@x.com"), NOW - 72 * H)
        s.outcome(d, "not_solved", NOW - 71 * H)
        s.outcome(d, "escalated", NOW - 71 * H + timedelta(seconds=5), reason="not_solved")
        s.outcome(d, "agent_reply", NOW - 70 * H + timedelta(seconds=5))
        s.outcome(d, "csat", NOW - 60 * H, value=0.2)  # rates the agent's work too: not the bot path

    doc = figures(db, build)
    assert doc["split"]["escalated"] == 1 and doc["counts"]["escalated_after_answer"] == 1
    assert doc["counts"]["deflected"] == 0 and doc["rates"]["escalation_ratio"] == 1.0
    assert doc["csat"]["feedback_not_solved"] == 1 and doc["csat"]["ratings"] == 0
    assert doc["first_response"]["agents"]["median_seconds"] == 3600


def test_follow_up_escalate_decision_escalates(db: Database) -> None:
    def build(s: Seed) -> None:
        d = s.ask(s.person("slack", "g@x.com"), NOW - 72 * H)
        s.outcome(d, "not_solved", NOW - 71 * H)
        s.follow_up(d, NOW - 71 * H, verdict="escalate")

    assert figures(db, build)["split"]["escalated"] == 1


def test_not_solved_alone_is_unresolved_and_reopened_cancels_a_confirmation(db: Database) -> None:
    def build(s: Seed) -> None:
        s.outcome(s.ask(s.person("slack", "h@x.com"), NOW - 72 * H), "not_solved", NOW - 71 * H)
        d = s.ask(s.person("slack", "i@x.com"), NOW - 72 * H)
        s.outcome(d, "solved", NOW - 71 * H)
        s.outcome(d, "reopened", NOW - 50 * H)

    doc = figures(db, build)
    assert doc["split"]["unresolved"] == 2 and doc["counts"]["confirmed_solved"] == 0
    assert doc["counts"]["deflected"] == 0


def test_an_answer_less_than_48h_old_is_pending(db: Database) -> None:
    doc = figures(db, lambda s: s.ask(s.person("slack", "j@x.com"), NOW - 10 * H))
    assert doc["split"]["pending"] == 1 and doc["counts"]["deflected"] == 0 and doc["rates"]["deflection_rate"] == 0.0


def test_escalate_verdict_and_first_response_times(db: Database) -> None:
    def build(s: Seed) -> None:
        d = s.ask(s.person("zendesk", "k@x.com"), NOW - 72 * H, created_before=timedelta(seconds=60))
        s.outcome(d, "answer_posted", NOW - 72 * H + timedelta(seconds=2))
        e = s.ask(s.person("zendesk", "l@x.com"), NOW - 72 * H, verdict="escalate")
        s.outcome(e, "agent_reply", NOW - 72 * H - timedelta(seconds=1))  # before the hand-over: ignored
        s.outcome(e, "agent_reply", NOW - 70 * H)
        s.outcome(e, "agent_reply", NOW - 69 * H)

    doc = figures(db, build)
    assert doc["counts"]["escalated_direct"] == 1
    assert doc["first_response"]["hub"] == {"count": 1, "median_seconds": 62.0, "p90_seconds": 62.0, "mean_seconds": 62.0}
    assert doc["first_response"]["agents"]["median_seconds"] == 7200


def test_csat_on_the_bot_path_and_cost_per_resolution(db: Database) -> None:
    def build(s: Seed) -> None:
        a = s.ask(s.person("slack", "m@x.com"), NOW - 72 * H)
        s.outcome(a, "solved", NOW - 71 * H)
        s.outcome(a, "csat", NOW - 70 * H, value=1.0)
        b = s.ask(s.person("slack", "n@x.com"), NOW - 72 * H)
        s.outcome(b, "csat", NOW - 70 * H, value=0.5)
        s.ask(s.person("slack", "o@x.com"), NOW - 72 * H, verdict="escalate")

    doc = figures(db, build)
    assert doc["csat"]["average"] == 0.75 and doc["csat"]["ratings"] == 2
    assert doc["csat"]["helpful_rate"] == 1.0 and doc["csat"]["feedback_response_rate"] == 0.5
    cost = doc["cost"]
    assert (cost["automated_total"], cost["agent_total"], cost["total"]) == (2.0, 10.0, 12.0)
    assert cost["per_automated_resolution"] == 1.0 and cost["per_verified_resolution"] == 2.0
    assert cost["blended_per_resolution"] == 4.0 and cost["net_savings"] == 18.0


def test_period_bounds_channel_breakdown_and_daily_series_add_up(db: Database) -> None:
    def build(s: Seed) -> None:
        s.ask(s.person("slack", "p@x.com"), datetime(2026, 10, 31, 23, 59, tzinfo=timezone.utc))  # before
        s.ask(s.person("slack", "q@x.com"), datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc))
        s.ask(s.person("zendesk", "r@x.com"), datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc), verdict="escalate")
        s.ask(s.person("slack", "s@x.com"), datetime(2026, 11, 5, 10, 0, tzinfo=timezone.utc), channel="C2")

    doc = figures(db, build)
    assert doc["counts"]["requests"] == 3
    assert {c["channel"]: c["requests"] for c in doc["channels"]} == {"C1": 1, "C2": 1, "zendesk": 1}
    with db.session() as session:
        days = series(session, parse_period("2026-11-01", "2026-11-20", now=NOW), channel=None, now=NOW)["days"]
    assert len(days) == 20 and days[0]["date"] == "2026-11-01"
    for key in ("requests", "answered", "escalated", "deflected", "recontacted", "confirmed_solved"):
        assert sum(day[key] for day in days) == doc["counts"][key]
    assert days[1]["deflection_rate"] is None and days[4]["requests"] == 2


def test_the_ticket_of_record_of_an_escalation_is_not_a_new_request_nor_a_recontact(db: Database) -> None:
    def build(s: Seed) -> None:
        alice_slack, alice_desk = s.person("slack", "alice@example.com"), s.person("zendesk", "alice@example.com")
        d = s.ask(alice_slack, NOW - 100 * H)
        s.outcome(d, "not_solved", NOW - 99 * H)
        record = s.ask(alice_desk, NOW - 99 * H, verdict="escalate")  # the hub's own Zendesk ticket
        thread = s.session.get(TicketRow, d.ticket_id)
        thread.escalated_to = record.ticket_ref
        s.outcome(d, "escalated", NOW - 99 * H, ticket_ref=record.ticket_ref)
        s.outcome(record, "agent_reply", NOW - 98 * H)  # recorded on the ticket of record

    doc = figures(db, build)
    assert doc["counts"]["requests"] == 1 and doc["counts"]["recontacted"] == 0
    assert doc["split"]["escalated"] == 1 and doc["first_response"]["agents"]["median_seconds"] == 3600
