"""The confidence calibrator: features -> probability that the top article answers the request.

A logistic regression (L2, fitted by Newton's method in numpy: deterministic, no extra dependency) on
standardised features. Thresholds come from the precision curve of *out-of-fold* confidences on the
labelled history, so a target precision maps to a confidence measured on data the model had not seen,
and the precision counted there is discounted for how little history it rests on: scanning thresholds from
the highest confidence down (starting where enough past requests would have been answered for the bound
to reach the target at all), the threshold moves down while the answered history's one-sided Wilson lower
confidence bound of precision (at ``BOUND_LEVEL``) reaches the target, and stops at the first threshold
where it no longer does (a fixed sequence: a lucky stretch further down cannot be picked). Ten right
answers out of ten do not promise 0.95; sixty out of sixty-one do. On synthetic histories of 120 requests
the point estimate missed its target on fresh requests about half the time, this method under a tenth.
A short history is a poor teacher of the weights, so the calibrator may also learn from the KB's own
pseudo-requests (``prior``), weighted as at most ``PRIOR_WEIGHT`` past requests. A short history is also a
poor judge of a threshold: on doc2dial re-split five times at random (88 past requests each), the history
alone certified nothing four times, and once certified a threshold whose answers were 87% right on the test
split, because 19 past requests in a row happened to be right. So the pseudo-requests' own out-of-fold curve
(``prior_curve``) is evidence too: at each step of the history's sequence, the bound counts the past requests
answered there plus the pseudo-requests answered there, these weighted as at most ``PRIOR_CURVE_WEIGHT``
requests at their precision (fewer for a history longer than ``PRIOR_WEIGHT``: by the square of the ratio, so
that a history of several hundred judges alone). The steps are the history's (a threshold is only ever where a
real request was), and a threshold below which the KB's own examples go visibly wrong is not certified by a
lucky run of real ones. In an intent KB the pseudo-requests (past tickets asked again with their articles left out
as gaps) are right far less often than real requests are: HWU64's 512 past requests, 97% right over their
most confident 80, were held back by them weighing 6 requests at 80% (in proportion), and the hub answered 25 of
1,076 test requests; weighing 1.2 (the square), 168 at 0.98.
The history's own requests, which the articles hold as past-ticket questions once it is fitted, come back
among the KB's examples: they teach the weights there too, but are left out of ``prior_curve``
(``prior_in_curve`` in :func:`fit`), so that each counts once as evidence for a threshold, in the history's curve.
Everything needed to score and to pick thresholds is in :meth:`Calibrator.to_params`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

METHOD = "logistic-v1"
THRESHOLD_METHOD = "wilson-lower-bound, fixed sequence, out-of-fold, the KB's pseudo-requests as evidence"
BOUND_LEVEL = 0.80  # one-sided: with 80% confidence, precision on new requests is at least the bound
_Z = 0.8416  # the standard normal quantile of BOUND_LEVEL
MIN_ANSWERED = 10  # the sequence of tests starts where this many past requests would have been answered
PRIOR_WEIGHT = 100  # the KB's own pseudo-requests weigh at most this many past requests in a calibration
# ... and at most this many in a threshold's bound (for a history of at most PRIOR_WEIGHT requests; fewer by the
# square of the ratio for a longer one): on doc2dial re-splits, 30 kept the promise on every split, 50 let one
# split answer 28 at 0.93.
PRIOR_CURVE_WEIGHT = 30


def wilson_lower(hits: float, n: float, z: float | None = None) -> float:
    """Return the Wilson score lower bound of a proportion of ``hits`` out of ``n`` (0 for ``n`` = 0), at
    normal quantile ``z`` (default: that of ``BOUND_LEVEL``); ``n`` may be fractional (weighted evidence)."""
    z = _Z if z is None else z
    if n <= 0:
        return 0.0
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - spread) / (1 + z * z / n))
DEFAULT_PATH = Path(__file__).with_name("default_calibration.json")
FOLDS = 5


def _fit(x: np.ndarray, y: np.ndarray, l2: float, signs: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Return ``[intercept, coef...]`` of an L2-penalised logistic regression whose coefficients keep the
    given signs (a coefficient that would take the wrong sign is held at zero: an active set)."""
    free = np.ones(x.shape[1], dtype=bool)
    while True:
        w = np.zeros(x.shape[1] + 1)
        w[np.r_[True, free]] = newton(x[:, free], y, l2, sample_weight=sample_weight)
        wrong = np.flatnonzero(free & (w[1:] * signs < 0))
        if not len(wrong):
            return w
        free[wrong[np.argmin(w[1:][wrong] * signs[wrong])]] = False


def newton(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50,
           sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Return ``[intercept, coef...]`` of an L2-penalised logistic regression (intercept unpenalised),
    each row weighted by ``sample_weight`` (default 1)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (sw * (p - y)) + penalty * w
        hessian = (design * (sw * p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibrator and its out-of-fold precision curve.

    ``curve`` rows are ``(threshold, precision, answered)``: answering every request whose confidence is
    at least ``threshold`` reached ``precision`` over ``answered`` requests of the history. ``prior_curve``
    is the same over the KB's own pseudo-requests, scored out of fold (empty without a prior).
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]  # intercept first
    curve: tuple[tuple[float, float, int], ...]
    positives: int = 0
    examples: int = 0
    prior_curve: tuple[tuple[float, float, int], ...] = ()

    def confidence(self, features: dict[str, float]) -> float:
        """Return the probability (in [0, 1]) that the top article answers the request."""
        x = (np.array([features.get(f, 0.0) for f in self.features]) - self.mean) / self.scale
        z = self.weights[0] + float(np.dot(self.weights[1:], x))
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    def threshold_for(self, target_precision: float) -> float:
        """Return the confidence threshold for ``target_precision``: from the highest confidence down, the
        last threshold of the first unbroken run whose answered history (with the KB's pseudo-requests, see
        :meth:`bound_at`) has a precision lower bound (:func:`wilson_lower`) of at least the target, or of at
        least a higher target on a 0.01 grid, whichever is lowest (1.0, i.e. never answer, when none is).
        Monotone on the 0.01 grid of targets (a higher one never gets a lower threshold), and every
        threshold's bound reaches its target."""
        higher = np.arange(np.ceil(target_precision * 100 + 1e-6) / 100, 1.0, 0.01)
        targets = [target_precision] + [float(t) for t in higher]
        return min(self._sequence(t) for t in targets)

    def _sequence(self, target_precision: float) -> float:
        best, reached = 1.0, False
        start = max(MIN_ANSWERED, int(np.ceil(_Z * _Z * target_precision / max(1 - target_precision, 1e-9))))
        prior = sorted(self.prior_curve, key=lambda row: -row[0])
        at, prior_precision, prior_answered = 0, 1.0, 0
        for threshold, precision, answered in sorted(self.curve, key=lambda row: -row[0]):
            while at < len(prior) and prior[at][0] >= threshold:  # the prior's row at this threshold
                _, prior_precision, prior_answered = prior[at]
                at += 1
            hits, counted = self._pooled(precision, answered, prior_precision, prior_answered)
            if counted < start:  # too few answers for any bound to reach the target: not a test yet
                continue
            if wilson_lower(hits, counted) >= target_precision:
                best, reached = threshold, True
            elif reached:
                break
        return min(best, 1.0) if reached else 1.0

    @property
    def prior_curve_weight(self) -> float:
        """How many past requests the KB's pseudo-requests count as at most in a bound: ``PRIOR_CURVE_WEIGHT``
        for a history of up to ``PRIOR_WEIGHT`` requests, less by the square of ``PRIOR_WEIGHT`` / its length for
        a longer one (30 for 100 past requests, 7.5 for 200, 1.2 for 500: a long history judges a threshold alone)."""
        return PRIOR_CURVE_WEIGHT * min(1.0, PRIOR_WEIGHT / max(self.examples, 1)) ** 2

    def _pooled(self, precision: float, answered: int, prior_precision: float,
                prior_answered: int) -> tuple[float, float]:
        """Return (right, counted): the past requests answered at a threshold, plus the pseudo-requests
        answered there counted as at most :attr:`prior_curve_weight` requests at their precision."""
        weight = min(prior_answered, self.prior_curve_weight)
        return precision * answered + prior_precision * weight, answered + weight

    def bound_at(self, threshold: float) -> dict[str, float]:
        """Return what the evidence says of answering at ``threshold``: how many past requests would have
        been answered (``answered``) and their ``precision``; how many of the KB's pseudo-requests
        (``prior_answered``) and theirs (``prior_precision``); and, the pseudo-requests counted as at most
        :attr:`prior_curve_weight` requests, how many requests that makes (``counted``) and the lower bound
        of precision over them (what ``threshold_for`` holds to the target)."""
        precision, answered = _at(self.curve, threshold)
        prior_precision, prior_answered = _at(self.prior_curve, threshold)
        hits, counted = self._pooled(precision, answered, prior_precision, prior_answered)
        return {"answered": answered, "precision": precision,
                "prior_answered": prior_answered, "prior_precision": prior_precision,
                "counted": counted, "lower_bound": wilson_lower(hits, counted) if counted else 0.0}

    def to_params(self) -> dict[str, Any]:
        """Return the JSON-able parameters (what a ``CalibrationRow`` stores)."""
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "curve": [list(row) for row in self.curve],
                "positives": self.positives, "examples": self.examples,
                "prior_curve": [list(row) for row in self.prior_curve]}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Calibrator:
        """Rebuild a calibrator from :meth:`to_params` output."""
        return cls(tuple(params["features"]), tuple(params["mean"]), tuple(params["scale"]),
                   tuple(params["weights"]), _rows(params["curve"]),
                   int(params.get("positives", 0)), int(params.get("examples", 0)),
                   _rows(params.get("prior_curve", ())))


def _rows(curve: Sequence[Sequence[float]]) -> tuple[tuple[float, float, int], ...]:
    return tuple((float(t), float(p), int(n)) for t, p, n in curve)


def _at(curve: Sequence[tuple[float, float, int]], threshold: float) -> tuple[float, int]:
    """Return (precision, answered) of answering at ``threshold`` on ``curve`` ((1.0, 0): nothing answered)."""
    rows = [row for row in curve if row[0] >= threshold]
    if not rows:
        return 1.0, 0
    _, precision, answered = min(rows, key=lambda row: row[0])
    return precision, answered


def precision_curve(confidence: np.ndarray, correct: np.ndarray) -> tuple[tuple[float, float, int], ...]:
    """Return ``(threshold, precision, answered)`` at every distinct confidence, highest first."""
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(correct[order])
    rows = []
    for i in range(len(conf)):
        if i + 1 < len(conf) and conf[i + 1] == conf[i]:
            continue
        rows.append((round(float(conf[i]), 6), float(hits[i] / (i + 1)), i + 1))
    return tuple(rows)


def fit(rows: Sequence[dict[str, float]], correct: Sequence[bool], names: Sequence[str], *, l2: float = 1.0,
        signs: Sequence[float] | None = None,
        prior: tuple[Sequence[dict[str, float]], Sequence[bool]] | None = None,
        prior_in_curve: Sequence[bool] | None = None) -> Calibrator:
    """Fit a calibrator on labelled history.

    Args:
        rows: the features of each past request's retrieval.
        correct: whether the top article was the one that solved it (``False`` for unanswerable ones).
        names: the features to use.
        l2: the ridge penalty on standardised coefficients.
        signs: per feature, +1 or -1: the sign its coefficient must keep (monotone confidence); default +1.
        prior: examples the model learns from beside the history, never measured on (the KB's own
            pseudo-requests, :func:`interceptor.retrieval.coldstart.kb_examples`): together they weigh at
            most ``PRIOR_WEIGHT`` past requests, so a short history is not all the model knows and a long
            one outweighs them. They are scored out of fold too: their curve is evidence for a threshold
            beside the history's (:meth:`Calibrator.bound_at`).
        prior_in_curve: per prior example, whether it counts in the prior's curve (default: all). The history's
            own requests, which the articles hold as past-ticket questions and so come back among the KB's
            examples, are left out of it: they are counted once, in the history's curve.

    Returns:
        The calibrator, with precision curves from out-of-fold confidences (the history's, and the prior's).

    Raises:
        ValueError: fewer than 10 examples, or only one outcome among them.
    """
    y = np.array(correct, dtype=np.float64)
    if len(y) < 10 or y.min() == y.max():
        raise ValueError(f"calibration needs at least 10 past requests, among them some the top article answers and "
                         f"some it does not ({len(y)} given, {int(y.sum())} answered by the top article)")
    x = np.array([[r.get(f, 0.0) for f in names] for r in rows], dtype=np.float64)
    px = np.array([[r.get(f, 0.0) for f in names] for r in (prior[0] if prior else ())], dtype=np.float64).reshape(-1, len(names))
    py = np.array(prior[1] if prior else [], dtype=np.float64)
    both = np.vstack([x, px])
    mean, scale = both.mean(axis=0), both.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z, pz = (x - mean) / scale, (px - mean) / scale
    direction = np.array(signs if signs is not None else [1.0] * len(names), dtype=np.float64)

    def fit_on(train: np.ndarray, prior_train: np.ndarray) -> np.ndarray:
        n_prior = int(prior_train.sum())
        weight = np.r_[np.ones(int(train.sum())), np.full(n_prior, min(PRIOR_WEIGHT, train.sum()) / max(n_prior, 1))]
        return _fit(np.vstack([z[train], pz[prior_train]]), np.r_[y[train], py[prior_train]], l2, direction, weight)

    def score(w: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(w[0] + rows @ w[1:], -30, 30)))

    folds = np.random.default_rng(0).permutation(len(y)) % FOLDS
    prior_folds = np.random.default_rng(1).permutation(len(py)) % FOLDS
    oof, prior_oof = np.zeros(len(y)), np.zeros(len(py))
    for f in range(FOLDS):
        train, held, prior_held = folds != f, folds == f, prior_folds == f
        if y[train].min() == y[train].max():
            oof[held] = prior_oof[prior_held] = y[train].mean()
            continue
        w = fit_on(train, ~prior_held)
        oof[held], prior_oof[prior_held] = score(w, z[held]), score(w, pz[prior_held])
    w = fit_on(np.ones(len(y), dtype=bool), np.ones(len(py), dtype=bool))
    return Calibrator(tuple(names), tuple(mean.tolist()), tuple(scale.tolist()), tuple(w.tolist()),
                      precision_curve(oof, y), int(y.sum()), len(y), _prior_curve(prior_oof, py, prior_in_curve))


def _prior_curve(confidence: np.ndarray, correct: np.ndarray, keep: Sequence[bool] | None) -> tuple[tuple[float, float, int], ...]:
    """The prior's precision curve over the examples ``keep`` names (all when ``None``; none: no curve)."""
    mask = np.ones(len(correct), dtype=bool) if keep is None else np.array(keep, dtype=bool).reshape(len(correct))
    return precision_curve(confidence[mask], correct[mask]) if mask.any() else ()


def load_default() -> dict[str, Any]:
    """Return the shipped default calibration: ``{"provenance": str, "modes": {"dense"|"lexical": params}}``."""
    if not DEFAULT_PATH.exists():
        return {}
    data: dict[str, Any] = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    return data
