"""Pure analytics rules: the period, the 48-hour window's edges, the latest word, timings and gap grouping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.analytics import PeriodError, RequestFacts, classify, parse_period
from core.analytics.facts import OutcomeFact, recontact_index
from core.analytics.gaps import GapRequest, group_gaps, is_gap, terms
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


def test_an_answer_withheld_from_a_ticket_people_solved_is_neither_answered_nor_deflected() -> None:
    solved = OutcomeFact("already_solved", T0 + timedelta(minutes=5))
    withheld = classify(facts(posted=False, outcomes=(solved,)), {}, NOW)
    assert (withheld.bucket, withheld.answered, withheld.deflected) == ("already_solved", False, False)
    assert not withheld.human_handled and withheld.hub_first_response_s is None
    # The requester asked for a person afterwards: escalated, as any request a person takes.
    taken = classify(facts(posted=False, outcomes=(solved, OutcomeFact("escalated", T0 + timedelta(hours=1)))), {}, NOW)
    assert taken.bucket == "escalated"


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
    # a hub answering in 11 ms: its mean is not "0.0" beside a median of 0.0108
    assert timing([0.010815]) == {"count": 1, "median_seconds": 0.010815, "p90_seconds": 0.010815, "mean_seconds": 0.011}


def test_terms_fold_plurals_but_not_words_ending_in_s() -> None:
    assert terms("Passwords for the invoices on macOS: access status!") == ["password", "invoice", "macos", "access", "status"]


def gap(i: int, subject: str) -> GapRequest:
    return GapRequest(f"zendesk:{i}", "zendesk", subject, "", 0.2, T0 + timedelta(minutes=i), decision_id=i)


def test_gaps_group_by_meaning_lexically_and_are_named_by_their_medoid() -> None:
    requests = [
        gap(1, "VPN drops at home every hour"),
        gap(2, "VPN connection drops at home"),
        gap(3, "Expense report stuck in approval"),
        gap(4, "VPN connection drops on Windows"),
        gap(5, "Who approves my expense report?"),
        gap(6, "Printer on floor 3 is jammed"),
    ]
    background = [f"Error in app {i}" for i in range(20)]
    doc = group_gaps(requests, background=background)
    groups = doc["groups"]
    assert doc["method"] == "lexical" and doc["unclear"] == 0
    assert [g["count"] for g in groups] == [3, 2, 1]
    vpn, expense, printer = groups
    assert vpn["ticket_refs"] == ["zendesk:1", "zendesk:2", "zendesk:4"] and vpn["decision_ids"] == [1, 2, 4]
    # the most typical request names the group: closest on average to both others
    assert vpn["label"] == "VPN connection drops at home" and vpn["medoid_ref"] == "zendesk:2"
    assert vpn["examples"] == ["VPN connection drops at home", "VPN connection drops on Windows", "VPN drops at home every hour"]
    assert expense["ticket_refs"] == ["zendesk:3", "zendesk:5"] and "expense" in expense["terms"]
    assert printer["label"] == "Printer on floor 3 is jammed"
    assert sum(g["count"] for g in groups) == 6


def test_one_shared_word_does_not_chain_unrelated_requests() -> None:
    """The issue's case: "time off", a merge of projects and a board question all say "jira"."""
    requests = [
        gap(1, "How do I request time off in Jira?"),
        gap(2, "Request time off for next week in Jira"),
        gap(3, "Merge two Jira projects into one"),
        gap(4, "Jira board columns are missing"),
    ]
    groups = group_gaps(requests, background=["Jira login", "Jira permissions", "Jira filters"])["groups"]
    assert sorted(g["ticket_refs"] for g in groups) == [["zendesk:1", "zendesk:2"], ["zendesk:3"], ["zendesk:4"]]


def test_greetings_are_never_a_topic() -> None:
    doc = group_gaps([gap(1, "hello"), gap(2, "Hi there, thanks!"), gap(3, "hello"), gap(4, "Printer jammed")])
    assert doc["unclear"] == 3
    assert [g["label"] for g in doc["groups"]] == ["Printer jammed"]


def _fake_model(texts: list[str]) -> list[list[float]]:
    """A stand-in sentence model: requests about getting into the network point one way, money another."""
    network = ("vpn", "remote", "tunnel", "office network")
    return [[1.0, 0.1] if any(w in t.lower() for w in network) else [0.1, 1.0] for t in texts]


def test_gaps_use_the_embedding_function_when_given() -> None:
    requests = [gap(1, "VPN drops every hour"), gap(2, "Cannot reach the office network from home"),
                gap(3, "Remote tunnel keeps failing"), gap(4, "Where is my reimbursement?"), gap(5, "Payout missing")]
    doc = group_gaps(requests, embed=_fake_model)
    assert doc["method"] == "embeddings"
    assert [g["ticket_refs"] for g in doc["groups"]] == [["zendesk:1", "zendesk:2", "zendesk:3"], ["zendesk:4", "zendesk:5"]]
    lexical = group_gaps(requests)  # no word is shared: lexically, nothing groups
    assert lexical["method"] == "lexical" and [g["count"] for g in lexical["groups"]] == [1] * 5


def test_no_gaps_report_the_method_that_would_group_them() -> None:
    # a fresh install's dashboard said "grouped by shared words (no embedding model)" beside a loaded model
    assert group_gaps([], embed=_fake_model) == {"method": "embeddings", "unclear": 0, "groups": []}
    assert group_gaps([])["method"] == "lexical"


def test_a_failing_model_falls_back_to_the_lexical_path() -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("model not loaded")

    def wrong_shape(texts: list[str]) -> list[list[float]]:
        return [[1.0]]

    for embed in (broken, wrong_shape):
        doc = group_gaps([gap(1, "VPN drops"), gap(2, "VPN drops again")], embed=embed)
        assert doc["method"] == "lexical" and [g["count"] for g in doc["groups"]] == [2]


@pytest.mark.parametrize(
    "verdict, reasons, confidence, expected",
    [
        ("escalate", ["confidence_below_threshold"], 0.3, True),
        ("escalate", ["no_candidate"], 0.0, True),
        ("escalate", ["no_passage"], 0.9, True),
        ("escalate", ["sensitive_topic:refund", "confidence_below_threshold"], 0.2, False),
        ("escalate", ["asked_for_human", "confidence_below_threshold"], 0.2, False),
        ("escalate", ["frustration"], 0.2, False),
        ("escalate", ["dry_run", "confident"], 0.9, False),
        ("escalate", ["too_long", "confidence_below_threshold"], 0.2, False),  # not read whole: no gap shown
        ("answer", ["confident"], 0.95, False),
        ("escalate", [], 0.3, True),  # a row without reasons: judged by its confidence
        ("escalate", [], 0.9, False),
    ],
)
def test_which_requests_are_gaps(verdict: str, reasons: list[str], confidence: float, expected: bool) -> None:
    assert is_gap(verdict, reasons, confidence, 0.6) is expected


def test_gaps_limit_and_empty_input() -> None:
    assert group_gaps([]) == {"method": "lexical", "unclear": 0, "groups": []}
    assert len(group_gaps([gap(i, f"topic{i} unique{i}") for i in range(15)], limit=4)["groups"]) == 4


def test_the_caching_embed_asks_the_model_only_for_new_texts() -> None:
    from core.analytics.clusters import CachingEmbed

    asked: list[list[str]] = []

    def model(texts: list[str]) -> list[list[float]]:
        asked.append(list(texts))
        return [[float(len(t)), 1.0] for t in texts]

    embed = CachingEmbed(model, max_items=3)
    assert [list(v) for v in embed(["ab", "abc", "ab"])] == [[2.0, 1.0], [3.0, 1.0], [2.0, 1.0]]
    assert [list(v) for v in embed(["abc", "abcd"])] == [[3.0, 1.0], [4.0, 1.0]]
    assert asked == [["ab", "abc"], ["abcd"]]
    embed(["x", "y"])  # over the limit: the least recently used ("ab") goes
    embed(["ab"])
    assert asked[-1] == ["ab"]
