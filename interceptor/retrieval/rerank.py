"""The second stage: which passage of a retrieved article answers the request.

Each (request, passage) pair is described by features that do not depend on the KB's size or vocabulary:
the passage unit's fused, lexical and dense scores, its section heading's score, its lead (or lag) to the
article's best passage and best heading, and where it sits in the article (the opening section often
answers a request about the article as a whole). A logistic model over those features (:class:`PairModel`)
picks the passage to quote and gives its score to the confidence features. One rule stands above the
model: a section whose own heading is what the request asks (``index.named``: "How do I respond to the
letter or order?" asked of a page with that question as a heading) is the one quoted, however much of the
request the page's title or opening also holds.

The model is trained inside the project, never downloaded: on pseudo-requests made from the KB's own
content (:mod:`interceptor.retrieval.coldstart`) and, when the labelled history names sections, on that
history too. Without a model the best passage unit is chosen (the first stage's choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from core.kb import KBArticle

PAIR_FEATURES = ("fused", "lexical", "dense", "heading", "gap_fused", "gap_heading", "first", "position", "only", "topic")


def section_key(article: KBArticle, at: int) -> str:
    """Return the name of passage ``at``'s section, as a labelled history names it: its section id where the
    source has one (a bench pack, a Help Center article), else its heading path joined by " › " ("Reset your
    password › If you sign in with SSO"), else (the opening section, before any heading) the article's title.
    The passages of one long section share it."""
    p = article.passages[at]
    return p.section_id or (" › ".join(p.heading_path) if p.heading_path else article.title)


@dataclass(frozen=True)
class PassageScores:
    """One article's passages as the second stage saw them, and the one it chose.

    ``chosen`` is the passage's position in the article (-1: the article has none); ``fused``, ``lexical``,
    ``dense`` and ``heading`` are its raw scores; ``runner`` the best fused score of the article's other
    passages; ``score`` the chosen passage's second-stage score and ``margin`` its lead over the next best
    passage's; ``share`` the chosen passage's softmax share of the article's passages' scores (how sure
    the second stage is of its choice, given the article). ``order`` holds every passage's position, the
    chosen first, then by second-stage score; ``also`` the passage quoted after the chosen one (-1: none; see
    :meth:`interceptor.retrieval.index.KBIndex.quote`). ``rows`` holds every passage's pair features (for training).
    """

    chosen: int
    fused: float = 0.0
    lexical: float = 0.0
    dense: float = 0.0
    heading: float = 0.0
    runner: float = 0.0
    score: float = 0.0
    margin: float = 0.0
    share: float = 1.0
    order: tuple[int, ...] = ()
    also: int = -1
    rows: np.ndarray = field(default_factory=lambda: np.zeros((0, len(PAIR_FEATURES))), compare=False, repr=False)


def pair_features(raw: np.ndarray) -> np.ndarray:
    """Return the pair features of an article's passages.

    Args:
        raw: one row per passage: (fused, lexical, dense, heading fused) scores of its units, and optionally
            a fifth column: how much of the request the article's title holds (the same in every row), and
            a sixth: 1.0 where the passage's own heading is what the request asks (not a feature: see
            :func:`choose`).

    Returns:
        One row per passage, columns as :data:`PAIR_FEATURES`.
    """
    n = len(raw)
    out = np.zeros((n, len(PAIR_FEATURES)))
    if not n:
        return out
    out[:, 0:4] = raw[:, :4]
    out[:, 4] = raw[:, 0] - raw[:, 0].max()
    out[:, 5] = raw[:, 3] - raw[:, 3].max()
    out[0, 6] = 1.0
    out[:, 7] = np.arange(n) / max(n - 1, 1)
    out[:, 8] = 1.0 if n == 1 else 0.0
    if raw.shape[1] > 4:  # a request that names only the article's topic is answered by its opening section
        out[0, 9] = raw[0, 4]
    return out


@dataclass(frozen=True)
class PairModel:
    """A logistic model over :data:`PAIR_FEATURES` (standardised), scoring (request, passage) pairs."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]  # intercept first
    examples: int = 0

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Return the logit of each pair's row of features."""
        z = (rows - np.array(self.mean)) / np.array(self.scale)
        return self.weights[0] + z @ np.array(self.weights[1:])

    def to_params(self) -> dict[str, Any]:
        """Return the JSON-able parameters."""
        return {"features": list(PAIR_FEATURES), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "examples": self.examples}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PairModel | None:
        """Rebuild a model from :meth:`to_params` output (``None`` when it was fitted on other features)."""
        if tuple(params.get("features", ())) != PAIR_FEATURES:
            return None
        return cls(tuple(params["mean"]), tuple(params["scale"]), tuple(params["weights"]), int(params.get("examples", 0)))


def choose(raw: np.ndarray, model: PairModel | None) -> PassageScores:
    """Choose an article's passage to quote.

    Args:
        raw: the article's passages' raw scores (see :func:`pair_features`); no rows when it has none. A
            passage whose heading the request names (sixth column) goes before every other.
        model: the second stage, or ``None`` for the best fused passage unit.

    Returns:
        The chosen passage and its scores.
    """
    if not len(raw):
        return PassageScores(-1)
    rows = pair_features(raw)
    scores = model.scores(rows) if model is not None else raw[:, 0]
    order = np.argsort(-scores, kind="stable")
    if raw.shape[1] > 5 and raw[:, 5].any():  # a section whose heading is the request is the one quoted
        order = np.r_[order[raw[order, 5] > 0], order[raw[order, 5] == 0]]
    best = int(order[0])
    others = np.delete(raw[:, 0], best)
    return PassageScores(
        chosen=best, fused=float(raw[best, 0]), lexical=float(raw[best, 1]), dense=float(raw[best, 2]),
        heading=float(raw[best, 3]), runner=float(others.max()) if len(others) else 0.0,
        score=float(scores[best]), margin=float(scores[best] - scores[order[1]]) if len(order) > 1 else 10.0,
        share=float(1.0 / np.exp(scores - scores[best]).sum()) if model is not None else 1.0 / len(order),
        order=tuple(int(j) for j in order), rows=rows,
    )


def fit_pairs(groups: Sequence[tuple[np.ndarray, np.ndarray]], *, l2: float = 1.0,
              weights: Sequence[float] | None = None) -> PairModel:
    """Fit the second stage on labelled pairs.

    Args:
        groups: per request, its candidate passages' pair features and whether each answers it; only
            requests with at least one answering passage and one that does not are used.
        l2: the ridge penalty on standardised coefficients.
        weights: per request, how much it counts (default 1 each).

    Returns:
        The fitted model.

    Raises:
        ValueError: fewer than 10 usable requests.
    """
    from interceptor.retrieval.calibration import newton

    counts = weights if weights is not None else [1.0] * len(groups)
    usable = [(x, y, c) for (x, y), c in zip(groups, counts) if len(y) > 1 and 0 < y.sum() < len(y)]
    if len(usable) < 10:
        raise ValueError("the second stage needs at least 10 requests with a right and a wrong passage")
    x = np.vstack([x for x, _, _ in usable])
    y = np.concatenate([y for _, y, _ in usable]).astype(np.float64)
    weight = np.concatenate([np.full(len(g), c / len(g)) for g, _, c in usable])  # each request counts its weight
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    w = newton((x - mean) / scale, y, l2, sample_weight=weight * len(usable) / weight.sum())
    return PairModel(tuple(mean.tolist()), tuple(scale.tolist()), tuple(w.tolist()), len(usable))
