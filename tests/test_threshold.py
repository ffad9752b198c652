"""The answer threshold holds the promised precision on requests the calibration has not seen: it is chosen
on out-of-fold confidences with a lower confidence bound of precision, so a small history promises less."""

from __future__ import annotations

import numpy as np
import pytest

from interceptor.retrieval.calibration import BOUND_LEVEL, Calibrator, fit, precision_curve, wilson_lower


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
