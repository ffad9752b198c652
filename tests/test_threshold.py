"""The answer threshold holds the promised precision on requests the calibration has not seen: it is chosen
on out-of-fold confidences with a lower confidence bound of precision, so a small history promises less, and
the KB's own pseudo-requests count as evidence beside it (at most ``PRIOR_CURVE_WEIGHT`` requests' worth), the
history's own requests among them counted once, in the history's curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.db import Database
from interceptor.retrieval import coldstart
from interceptor.retrieval.calibration import (
    BOUND_LEVEL,
    PRIOR_CURVE_WEIGHT,
    PRIOR_WEIGHT,
    Calibrator,
    fit,
    precision_curve,
    wilson_lower,
)
from interceptor.retrieval.history import read_history
from interceptor.retrieval.scorer import KBScorer
from interceptor.retrieval.training import PairTraining
from tests.test_calibration import NAMES, _led_by
from tests.test_calibration_history import HISTORY, _history_file, _seed


def test_the_wilson_bound_grows_with_the_evidence() -> None:
    assert wilson_lower(10, 10) < wilson_lower(60, 60) < 1.0
    assert wilson_lower(10, 10) < 0.95 <= wilson_lower(20, 20)  # ten right of ten do not promise 0.95
    assert wilson_lower(0, 0) == 0.0
    assert wilson_lower(95, 100, z=0.0) == pytest.approx(0.95)  # no margin: the point estimate


def _synthetic(n: int, seed: int) -> tuple[list[dict[str, float]], list[bool]]:
    """A history where a higher score is more often right: P(right) = score."""
    rng = np.random.default_rng(seed)
    score = rng.uniform(0, 1, n)
    right = rng.uniform(0, 1, n) < score
    return [{"s": float(x)} for x in score], [bool(r) for r in right]


def _true_precision(cal: Calibrator, threshold: float) -> float:
    """The precision answering at ``threshold`` reaches on unseen requests of the synthetic kind (scores
    uniform, P(right) = score; the confidence rises with the score): the mean of P(right) above it."""
    grid = np.linspace(0, 1, 2001)
    above = grid[np.array([cal.confidence({"s": float(x)}) >= threshold for x in grid])]
    return float(above.mean()) if len(above) else 1.0


def test_on_small_synthetic_histories_the_promise_holds_where_the_point_estimate_breaks_it() -> None:
    missed = {"bound": 0, "point": 0}
    for seed in range(20):
        rows, right = _synthetic(120, seed)
        cal = fit(rows, right, ["s"])
        missed["bound"] += _true_precision(cal, cal.threshold_for(0.85)) < 0.85
        point = min((t for t, p, _ in cal.curve if p >= 0.85), default=1.0)  # the old method: lowest that reached it
        missed["point"] += _true_precision(cal, point) < 0.85
    assert missed["bound"] <= 3 < 8 <= missed["point"]


def test_the_report_gives_the_bound_the_threshold_rests_on() -> None:
    rows, right = _synthetic(400, seed=7)
    cal = fit(rows, right, ["s"])
    threshold = cal.threshold_for(0.9)
    bound = cal.bound_at(threshold)
    assert threshold < 1.0 and bound["answered"] > 20
    assert bound["precision"] >= bound["lower_bound"] >= 0.9


def test_the_point_estimate_would_answer_more_than_the_bound_allows() -> None:
    curve = precision_curve(np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]), np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0]))
    cal = Calibrator(("x",), (0.0,), (1.0,), (0.0, 1.0), curve)
    assert cal.threshold_for(0.95) == 1.0  # five right answers are no evidence of 0.95
    assert 0.5 < BOUND_LEVEL < 1.0


def _curve(right: list[bool]) -> tuple[tuple[float, float, int], ...]:
    """The precision curve of requests answered in this order (most confident first), evenly spread in (0, 1)."""
    return precision_curve(np.linspace(0.99, 0.01, len(right)), np.array(right, dtype=float))


def _calibrator(history: list[bool], prior: list[bool] | None = None) -> Calibrator:
    return Calibrator(("x",), (0.0,), (1.0,), (0.0, 1.0), _curve(history), examples=len(history),
                      prior_curve=_curve(prior) if prior else ())


def test_a_lucky_run_of_past_requests_is_not_enough_where_the_kb_s_own_examples_go_wrong() -> None:
    # 40 past requests, all right: alone they back 0.95 down to the last of them
    history = [True] * 40
    assert _calibrator(history).threshold_for(0.95) < 0.05
    # the KB's pseudo-requests spread over the same confidences: right at the top, one in four wrong below
    prior = [True] * 100 + [i % 4 != 0 for i in range(300)]
    cal = _calibrator(history, prior)
    threshold = cal.threshold_for(0.95)
    assert 0.5 < threshold < 1.0  # answers only where both are right
    bound = cal.bound_at(threshold)
    assert bound["lower_bound"] >= 0.95 and bound["prior_precision"] > 0.95
    assert cal.prior_curve_weight == PRIOR_CURVE_WEIGHT and bound["prior_answered"] > PRIOR_CURVE_WEIGHT
    assert bound["counted"] == bound["answered"] + PRIOR_CURVE_WEIGHT
    # a long history judges alone: the pseudo-requests count for less, and its lucky run carries further
    long = _calibrator([True] * 400, prior)
    assert long.prior_curve_weight == PRIOR_CURVE_WEIGHT * (PRIOR_WEIGHT / 400) ** 2
    assert long.threshold_for(0.95) < threshold


def test_one_early_miss_in_a_short_history_does_not_silence_the_hub_when_the_kb_s_examples_back_it() -> None:
    history = [True, True, False] + [True] * 17  # 19 right of 20: alone no bound reaches 0.95
    assert _calibrator(history).threshold_for(0.95) == 1.0
    cal = _calibrator(history, [True] * 400)
    threshold = cal.threshold_for(0.95)
    assert threshold < 1.0 and cal.bound_at(threshold)["lower_bound"] >= 0.95
    # a history that keeps missing is not outvoted: pseudo-requests count as at most PRIOR_CURVE_WEIGHT requests
    assert _calibrator([True, False] * 20, [True] * 400).threshold_for(0.95) == 1.0


def test_a_long_history_is_not_held_back_by_the_kb_s_examples_going_wrong_more_often_than_real_requests() -> None:
    # an intent KB's shape (HWU64's): 500 past requests, 97% right over their most confident 180 after one early
    # miss; the KB's pseudo-requests (its past tickets asked again with their articles left out) 80% right
    history = [True] * 18 + [False] + [i % 36 != 35 for i in range(180)] + [i % 2 == 0 for i in range(300)]
    cal = _calibrator(history, [True] * 3 + [i % 5 != 4 for i in range(400)])
    assert cal.prior_curve_weight == pytest.approx(PRIOR_CURVE_WEIGHT * (PRIOR_WEIGHT / 499) ** 2)
    bound = cal.bound_at(cal.threshold_for(0.95))
    assert bound["answered"] > 100 and bound["lower_bound"] >= 0.95  # weighing 6 requests, they held it to 9


def test_prior_examples_left_out_of_the_curve_still_teach_the_weights() -> None:
    # The history's own requests come back among the KB's examples (the articles hold them as past-ticket
    # questions): they are counted once, in the history's curve, not again in the prior's.
    prior = _led_by("knn1", seed=3, n=600)
    rows, correct = _led_by("dense1", seed=11, n=20)
    in_curve = [i % 3 != 0 for i in range(600)]
    everything, counted_once = fit(rows, correct, NAMES, prior=prior), fit(rows, correct, NAMES, prior=prior, prior_in_curve=in_curve)
    assert counted_once.weights == everything.weights and counted_once.curve == everything.curve
    assert max(n for _, _, n in everything.prior_curve) == 600 and max(n for _, _, n in counted_once.prior_curve) == 400
    assert fit(rows, correct, NAMES, prior=prior, prior_in_curve=[False] * 600).prior_curve == ()


def test_the_kbs_examples_flag_the_historys_own_requests(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url)
    try:
        _seed(db)
        scorer = KBScorer(db, None)
        scorer.calibrate(read_history(_history_file(tmp_path)), provenance="test history")  # stored as questions
        index = scorer.index
        texts = {row["text"] for row in HISTORY}
        flagged = coldstart.kb_examples(index, PairTraining(index, index.articles), texts)[2]
        unflagged = coldstart.kb_examples(index, PairTraining(index, index.articles))[2]
    finally:
        db.dispose()
    answered = sum(1 for row in HISTORY if row["article"])  # the solved ones became questions
    assert all(unflagged) and len(flagged) == len(unflagged)
    assert flagged.count(False) == answered  # each once: as a pseudo-request of its article (or a gap)
