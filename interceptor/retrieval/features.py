"""Confidence features of one retrieval: how strong, how clear-cut and how consistent the top hit is.

Every feature is on a scale that does not depend on the KB's size or vocabulary (cosines, BM25 normalised
by its query ceiling, vote shares), so a calibration fitted on one KB transfers to another.
"""

from __future__ import annotations

from interceptor.retrieval.index import Retrieval

LEXICAL_FEATURES = ("lex1", "lex_margin", "knn1", "knn_neg", "neg_gap", "neg_sim")
DENSE_FEATURES = (
    "fused1", "fused_margin", "dense1", "dense_margin", "lex1", "lex_margin",
    "agree_lex", "knn1", "knn_neg", "neg_gap", "neg_sim",
)
# The direction each feature may move the confidence (the calibrator never learns the opposite sign):
# a stronger, clearer, more agreed-on top hit never lowers it; closeness to known gaps never raises it.
SIGNS = {"knn_neg": -1.0, "neg_sim": -1.0}


def sign(name: str) -> float:
    """Return +1 or -1: the direction in which feature ``name`` may move the confidence."""
    return SIGNS.get(name, 1.0)


def feature_names(dense: bool) -> tuple[str, ...]:
    """Return the feature names a calibrator uses in dense or lexical-only mode."""
    return DENSE_FEATURES if dense else LEXICAL_FEATURES


def extract(r: Retrieval) -> dict[str, float]:
    """Return the features of a retrieval (all zero for an empty result).

    Args:
        r: the retrieval of one request.

    Returns:
        Feature name to value; dense features are present only when ``r.dense`` is.
    """
    if not r.order:
        return {name: 0.0 for name in DENSE_FEATURES}

    def margin(values: tuple[float, ...]) -> tuple[float, float]:
        first = values[0]
        return first, first - (values[1] if len(values) > 1 else 0.0)

    lex1 = r.lexical[0]
    lex_runner = max(r.lexical[1:], default=0.0)
    strength = r.dense[0] if r.dense is not None else lex1
    features = {
        "lex1": lex1,
        "lex_margin": lex1 - lex_runner,
        "knn1": r.knn[0],
        "knn_neg": r.knn_negative,
        "neg_sim": r.negative,
        "neg_gap": strength - r.negative if r.negative else 0.0,
    }
    if r.dense is not None:
        fused1, fused_margin = margin(r.fused)
        dense_runner = max(r.dense[1:], default=0.0)
        features.update(
            fused1=fused1,
            fused_margin=fused_margin,
            dense1=r.dense[0],
            dense_margin=r.dense[0] - dense_runner,
            agree_lex=1.0 if r.lexical_top == r.order[0] else 0.0,
        )
    return features
