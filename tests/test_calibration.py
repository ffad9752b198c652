"""The calibrator: monotone in its features, reproducible, thresholds from target precisions, the default."""

from __future__ import annotations

import numpy as np
import pytest

from interceptor.retrieval.calibration import PRIOR_WEIGHT, Calibrator, fit, load_default, precision_curve, wilson_lower

NAMES = ("dense1", "knn1", "neg_sim")


def _history(seed: int = 7, n: int = 300) -> tuple[list[dict[str, float]], list[bool]]:
    rng = np.random.default_rng(seed)
    rows, correct = [], []
    for _ in range(n):
        strength = float(rng.uniform(0, 1))
        right = bool(rng.uniform() < strength)
        rows.append({"dense1": strength + float(rng.normal(0, 0.1)), "knn1": float(rng.uniform()),
                     "neg_sim": float(rng.uniform())})
        correct.append(right)
    return rows, correct


def test_fitting_is_reproducible() -> None:
    rows, correct = _history()
    assert fit(rows, correct, NAMES).to_params() == fit(rows, correct, NAMES).to_params()


def test_confidence_is_monotone_in_each_feature_by_its_sign() -> None:
    rows, correct = _history()
    # knn1 is noise here and neg_sim must never raise confidence: their signs are enforced
    cal = fit(rows, correct, NAMES, signs=[1.0, 1.0, -1.0])
    grid = np.linspace(0, 1, 21)
    up = [cal.confidence({"dense1": x, "knn1": 0.5, "neg_sim": 0.5}) for x in grid]
    down = [cal.confidence({"dense1": 0.5, "knn1": 0.5, "neg_sim": x}) for x in grid]
    knn = [cal.confidence({"dense1": 0.5, "knn1": x, "neg_sim": 0.5}) for x in grid]
    assert all(b > a for a, b in zip(up, up[1:]))
    assert all(b <= a for a, b in zip(down, down[1:]))
    assert all(b >= a for a, b in zip(knn, knn[1:]))
    assert all(0.0 <= c <= 1.0 for c in up + down + knn)


def test_a_feature_pointing_the_wrong_way_gets_no_weight() -> None:
    rows, correct = _history()
    backwards = [{**r, "dense1": -r["dense1"]} for r in rows]
    cal = fit(backwards, correct, NAMES)  # every sign +1: dense1 would need a negative weight
    assert cal.weights[1] == 0.0


def _led_by(feature: str, seed: int, n: int) -> tuple[list[dict[str, float]], list[bool]]:
    """Examples whose outcome follows ``feature`` (the other feature is noise)."""
    rows, correct = _history(seed, n)
    other = "knn1" if feature == "dense1" else "dense1"
    return [{**r, feature: r["dense1"], other: r["knn1"]} for r in rows], correct


def test_the_kb_s_own_examples_guide_a_short_history_and_a_long_one_outweighs_them() -> None:
    prior = _led_by("knn1", seed=3, n=600)  # the KB's pseudo-requests say knn1 tells right from wrong
    rows, correct = _led_by("dense1", seed=11, n=20)
    short = [{**r, "knn1": 0.5} for r in rows], correct  # too short a history to have seen knn1 vary
    alone, guided = fit(*short, NAMES), fit(*short, NAMES, prior=prior)
    assert alone.weights[2] == 0.0 and guided.weights[2] > 0.5  # knn1 learnt from the prior
    assert fit(*short, NAMES, prior=([], [])).to_params() == alone.to_params()  # a KB with no pseudo-requests
    # the curve is the history's; the prior has its own, scored out of fold (every pseudo-request on it)
    assert guided.examples == 20 and max(n for _, _, n in guided.curve) == 20
    assert max(n for _, _, n in guided.prior_curve) == 600 and alone.prior_curve == ()
    assert Calibrator.from_params(guided.to_params()) == guided
    stored_before = {k: v for k, v in guided.to_params().items() if k != "prior_curve"}  # a calibration stored earlier
    assert Calibrator.from_params(stored_before).prior_curve == ()
    long = _led_by("dense1", seed=11, n=20 * PRIOR_WEIGHT)  # however many pseudo-requests, they weigh PRIOR_WEIGHT
    weighted = fit(*long, NAMES, prior=prior)
    assert weighted.weights[1] > 4 * weighted.weights[2]
    assert fit(*long, NAMES, prior=(prior[0] * 5, prior[1] * 5)).weights == pytest.approx(weighted.weights, abs=0.05)


def test_thresholds_rise_with_the_target_precision() -> None:
    rows, correct = _history()
    cal = fit(rows, correct, NAMES)
    targets = [0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0]
    thresholds = [cal.threshold_for(t) for t in targets]
    assert thresholds == sorted(thresholds)
    assert thresholds[-1] <= 1.0


def test_the_curve_and_the_threshold_agree() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([1.0, 1.0, 0.0, 1.0, 0.0])
    curve = precision_curve(confidence, correct)
    assert [round(p, 3) for _, p, _ in curve] == [1.0, 1.0, 0.667, 0.75, 0.6]
    cal = Calibrator(("x",), (0.0,), (1.0,), (0.0, 1.0), curve)
    # two right answers out of two bound precision at 0.74 (Wilson, one-sided 80%), and five past requests
    # are fewer than the ten a threshold needs behind it: no target can be promised
    assert cal.threshold_for(0.6) == cal.threshold_for(1.0) == 1.0
    assert cal.bound_at(0.8)["answered"] == 2 and round(cal.bound_at(0.8)["lower_bound"], 4) == 0.7385
    longer = precision_curve(np.linspace(0.99, 0.01, 40), np.array([1.0] * 30 + [0.0] * 10))
    cal = Calibrator(("x",), (0.0,), (1.0,), (0.0, 1.0), longer)
    threshold = cal.threshold_for(0.9)  # down through thirty right of thirty, on while the bound holds
    answered = cal.bound_at(threshold)["answered"]
    assert answered >= 30 and wilson_lower(30, answered) >= 0.9 > wilson_lower(30, answered + 1)
    assert Calibrator(("x",), (0.0,), (1.0,), (0.0, 1.0), ((0.9, 0.5, 3),)).threshold_for(0.95) == 1.0


def test_one_outcome_only_cannot_be_calibrated() -> None:
    rows, _ = _history(n=20)
    with pytest.raises(ValueError):
        fit(rows, [True] * 20, NAMES)


def test_the_shipped_default_has_both_modes_and_says_how_it_was_made() -> None:
    default = load_default()
    assert "banking77" in default["provenance"] and "fit_default_calibration.py" in default["provenance"]
    for mode in ("dense", "lexical"):
        cal = Calibrator.from_params(default["modes"][mode])
        assert 0.5 < cal.threshold_for(0.90) < 1.0
        assert Calibrator.from_params(cal.to_params()) == cal
