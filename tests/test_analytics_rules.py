"""Pure analytics rules: the period, the 48-hour window's edges, the latest word, timings and gap grouping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.analytics import PeriodError, RequestFacts, classify, parse_period
from core.analytics.facts import OutcomeFact, recontact_index
from core.analytics.gaps import GapRequest, group_gaps, terms
from core.analytics.summary import timing

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
T0 = NOW - timedelta(days=5)


def test_period_defaults_to_the_last_30_days_inclusive() -> None:
    period = parse_period(None, None, now=NOW)
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == ("2026-10-22", "2026-11-20")
    assert len(period.days()) == 30 and period.end == datetime(2026, 11, 21, tzinfo=timezone.utc)


def test_period_accepts_dates_and_date_times() -> None:
    period = parse_period("2026-11-01", "2026-11-01", now=NOW)
    assert period.end - period.start == timedelta(days=1)
    exact = parse_period("2026-11-01T06:00:00Z", "2026-11-02T07:30:00+01:00", now=NOW)
    assert exact.start.hour == 6 and exact.end == datetime(2026, 11, 2, 6, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("start, end", [("nope", None), (None, "2026-02-30"), ("2026-11-05", "2026-11-04"),
                                        ("2024-01-01", "2026-11-01"), ("2026-11-01T25:00", None)])
def test_period_errors_say_what_is_wrong(start: str | None, end: str | None) -> None:
    with pytest.raises(PeriodError):
        parse_period(start, end, now=NOW)


def facts(ref: str = "slack:1", *, verdict: str = "answer", outcomes: tuple[OutcomeFact, ...] = (),
          person: str | None = "email:a@x.com", at: datetime = T0, posted: bool = True) -> RequestFacts:
    """A request; an ANSWER is posted a second after its decision unless ``posted`` is false."""
    if posted and verdict == "answer":
        outcomes = (OutcomeFact("answer_posted", at + timedelta(seconds=1)), *outcomes)
    return RequestFacts(1, ref, "slack", "C1", person, verdict, False, 0.9, 0.6, at, at - timedelta(seconds=10),
                        outcomes=outcomes)


def test_an_answer_counts_as_answered_only_once_posted() -> None:
    unposted = classify(facts(posted=False), {}, NOW)
    assert (unposted.bucket, unposted.answered, unposted.deflected, unposted.hub_first_response_s) == ("unposted", False, False, None)
    # Not posted, then handed to a person past the deadline: escalated, never "answered".
    handed = classify(facts(posted=False, outcomes=(OutcomeFact("escalated", T0 + timedelta(minutes=15)),)), {}, NOW)
    assert (handed.bucket, handed.answered, handed.escalated_after_answer) == ("escalated", False, False)
    # A posting later than the evaluation time does not count yet.
    later = facts(posted=False, outcomes=(OutcomeFact("answer_posted", NOW + timedelta(seconds=1)),))
    assert classify(later, {}, NOW).bucket == "unposted"
    posted = classify(facts(), {}, NOW)
    assert posted.answered and posted.bucket == "assumed" and posted.hub_first_response_s == 11


@pytest.mark.parametrize(
    "gap, recontacted",
    [(timedelta(hours=48), True), (timedelta(hours=48, seconds=1), False), (timedelta(0), False), (-timedelta(hours=1), False)],
)
def test_the_48_hour_window_edges(gap: timedelta, recontacted: bool) -> None:
    index = recontact_index([("email:a@x.com", T0 + gap, "zendesk:9")])
    fate = classify(facts(), index, NOW)
    assert fate.recontacted is recontacted and fate.bucket == ("recontacted" if recontacted else "assumed")


def test_a_follow_up_in_the_same_ticket_and_the_future_are_not_recontacts() -> None:
    index = recontact_index([("email:a@x.com", T0 + timedelta(hours=1), "slack:1"), ("email:a@x.com", NOW + timedelta(hours=1), "jira:2")])
    assert classify(facts(at=NOW - timedelta(hours=10)), index, NOW).bucket == "pending"
    assert classify(facts(), index, NOW).bucket == "assumed"


@pytest.mark.parametrize(
    "words, bucket",
    [
        (("solved", "not_solved"), "unresolved"),
        (("not_solved", "solved"), "verified"),
        (("solved", "reopened"), "unresolved"),
        (("solved", "reopened", "solved"), "verified"),
    ],
)
def test_the_latest_word_decides(words: tuple[str, ...], bucket: str) -> None:
    outcomes = tuple(OutcomeFact(kind, T0 + timedelta(minutes=i + 1)) for i, kind in enumerate(words))
    assert classify(facts(outcomes=outcomes), {}, NOW).bucket == bucket


def test_outcomes_after_the_evaluation_time_are_ignored() -> None:
    later = (OutcomeFact("escalated", NOW + timedelta(minutes=1)),)
    assert classify(facts(outcomes=later), {}, NOW).bucket == "assumed"


def test_timing_uses_nearest_rank() -> None:
    assert timing([10.0, None, 20.0, 30.0, 40.0]) == {"count": 4, "median_seconds": 20.0, "p90_seconds": 40.0, "mean_seconds": 25.0}
    assert timing([]) == {"count": 0, "median_seconds": None, "p90_seconds": None, "mean_seconds": None}


def test_terms_fold_plurals_but_not_words_ending_in_s() -> None:
    assert terms("Passwords for the invoices on macOS: access status!") == ["password", "invoice", "macos", "access", "status"]


def gap(i: int, subject: str) -> GapRequest:
    return GapRequest(f"zendesk:{i}", "zendesk", subject, "", 0.2, T0 + timedelta(minutes=i))


def test_gaps_group_by_shared_salient_terms_biggest_first() -> None:
    requests = [
        gap(1, "VPN drops every hour"),
        gap(2, "Cannot connect to VPN from home"),
        gap(3, "Expense report stuck in approval"),
        gap(4, "VPN error 809 on Windows"),
        gap(5, "Who approves my expense report?"),
        gap(6, "Printer on floor 3 is jammed"),
    ]
    background = [f"Error in app {i}" for i in range(20)]  # "error" is common: it must not anchor a group
    groups = group_gaps(requests, background=background)
    assert [(g["terms"][0], g["count"]) for g in groups[:2]] == [("vpn", 3), ("expense", 2)]  # ties: alphabetical
    assert groups[1]["label"] == "expense / report / approval"
    assert groups[0]["ticket_refs"] == ["zendesk:1", "zendesk:2", "zendesk:4"]
    assert groups[0]["examples"] == ["VPN error 809 on Windows", "Cannot connect to VPN from home", "VPN drops every hour"]
    assert groups[-1]["count"] == 1 and "printer" in groups[-1]["terms"]
    assert sum(g["count"] for g in groups) == 6


def test_gaps_limit_and_empty_input() -> None:
    assert group_gaps([]) == []
    assert len(group_gaps([gap(i, f"topic{i} unique{i}") for i in range(15)], limit=4)) == 4
