"""The confidence calibrator: features -> probability that the top article answers the request.

A logistic regression (L2, fitted by Newton's method in numpy: deterministic, no extra dependency) on
standardised features. Thresholds come from the precision curve of *out-of-fold* confidences on the
labelled history, so a target precision maps to the lowest confidence that reached it on data the model
had not seen. Everything needed to score and to pick thresholds is in :meth:`Calibrator.to_params`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

METHOD = "logistic-v1"
DEFAULT_PATH = Path(__file__).with_name("default_calibration.json")
FOLDS = 5


def _fit(x: np.ndarray, y: np.ndarray, l2: float, signs: np.ndarray) -> np.ndarray:
    """Return ``[intercept, coef...]`` of an L2-penalised logistic regression whose coefficients keep the
    given signs (a coefficient that would take the wrong sign is held at zero: an active set)."""
    free = np.ones(x.shape[1], dtype=bool)
    while True:
        w = np.zeros(x.shape[1] + 1)
        w[np.r_[True, free]] = _newton(x[:, free], y, l2)
        wrong = np.flatnonzero(free & (w[1:] * signs < 0))
        if not len(wrong):
            return w
        free[wrong[np.argmin(w[1:][wrong] * signs[wrong])]] = False


def _newton(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> np.ndarray:
    """Return ``[intercept, coef...]`` of an L2-penalised logistic regression (intercept unpenalised)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibrator and its out-of-fold precision curve.

    ``curve`` rows are ``(threshold, precision, answered)``: answering every request whose confidence is
    at least ``threshold`` reached ``precision`` over ``answered`` requests of the history.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]  # intercept first
    curve: tuple[tuple[float, float, int], ...]
    positives: int = 0
    examples: int = 0

    def confidence(self, features: dict[str, float]) -> float:
        """Return the probability (in [0, 1]) that the top article answers the request."""
        x = (np.array([features.get(f, 0.0) for f in self.features]) - self.mean) / self.scale
        z = self.weights[0] + float(np.dot(self.weights[1:], x))
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    def threshold_for(self, target_precision: float) -> float:
        """Return the lowest confidence whose answered set reached ``target_precision`` on the history
        (1.0, i.e. never answer, when no threshold did). Monotone: a higher target never lowers it."""
        best = 1.0
        for threshold, precision, _ in sorted(self.curve, key=lambda row: -row[0]):
            if precision >= target_precision:
                best = threshold
        return min(best, 1.0)

    def to_params(self) -> dict[str, Any]:
        """Return the JSON-able parameters (what a ``CalibrationRow`` stores)."""
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "curve": [list(row) for row in self.curve],
                "positives": self.positives, "examples": self.examples}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Calibrator:
        """Rebuild a calibrator from :meth:`to_params` output."""
        return cls(tuple(params["features"]), tuple(params["mean"]), tuple(params["scale"]),
                   tuple(params["weights"]), tuple((float(t), float(p), int(n)) for t, p, n in params["curve"]),
                   int(params.get("positives", 0)), int(params.get("examples", 0)))


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
        signs: Sequence[float] | None = None) -> Calibrator:
    """Fit a calibrator on labelled history.

    Args:
        rows: the features of each past request's retrieval.
        correct: whether the top article was the one that solved it (``False`` for unanswerable ones).
        names: the features to use.
        l2: the ridge penalty on standardised coefficients.
        signs: per feature, +1 or -1: the sign its coefficient must keep (monotone confidence); default +1.

    Returns:
        The calibrator, with a precision curve from out-of-fold confidences.

    Raises:
        ValueError: fewer than 10 examples, or only one outcome among them.
    """
    y = np.array(correct, dtype=np.float64)
    if len(y) < 10 or y.min() == y.max():
        raise ValueError("calibration needs at least 10 past requests with both right and wrong top answers")
    x = np.array([[r.get(f, 0.0) for f in names] for r in rows], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    direction = np.array(signs if signs is not None else [1.0] * len(names), dtype=np.float64)
    folds = np.random.default_rng(0).permutation(len(y)) % FOLDS
    oof = np.zeros(len(y))
    for f in range(FOLDS):
        train, held = folds != f, folds == f
        if y[train].min() == y[train].max():
            oof[held] = y[train].mean()
            continue
        w = _fit(z[train], y[train], l2, direction)
        oof[held] = 1.0 / (1.0 + np.exp(-np.clip(w[0] + z[held] @ w[1:], -30, 30)))
    w = _fit(z, y, l2, direction)
    return Calibrator(tuple(names), tuple(mean.tolist()), tuple(scale.tolist()), tuple(w.tolist()),
                      precision_curve(oof, y), int(y.sum()), len(y))


def load_default() -> dict[str, Any]:
    """Return the shipped default calibration: ``{"provenance": str, "modes": {"dense"|"lexical": params}}``."""
    if not DEFAULT_PATH.exists():
        return {}
    data: dict[str, Any] = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    return data
