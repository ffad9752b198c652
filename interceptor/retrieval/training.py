"""What the second stage learns from, and fits that leave part of it out.

The second stage (:mod:`interceptor.retrieval.rerank`) learns which passage of an article answers a request
from two sources: pseudo-requests made from the KB (:mod:`interceptor.retrieval.pseudo`) and, when the
labelled history names the sections that answered its requests, from that history. Real requests are worded
as people write, pseudo-requests as the KB is, so a past request counts ``HISTORY_WEIGHT`` pseudo-requests.

A confidence is only honest if it is measured on requests the second stage did not learn from: a passage
chosen right because the model saw that very request would make the history look better than new requests
will be. :class:`PairTraining` keeps every request's pair features (computed once) and fits the model
without a fold of the history, or without some articles, for the calibration to score those with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from core.kb import KBArticle
from interceptor.retrieval.pseudo import FOLDS, Pseudo, pseudo_requests, shared_headings
from interceptor.retrieval.rerank import PairModel, fit_pairs, section_key

if TYPE_CHECKING:
    from interceptor.retrieval.history import Labelled
    from interceptor.retrieval.index import KBIndex

HISTORY_WEIGHT = 3.0


def text_fold(text: str) -> int:
    """Return the fold of a past request (0 to ``FOLDS`` - 1) by a stable hash of its text, case and spacing
    folded: the same request asked twice is in one fold, never on both sides of a split."""
    key = " ".join(text.lower().split()).encode("utf-8")
    return int(hashlib.sha1(key).hexdigest()[:8], 16) % FOLDS


@dataclass(frozen=True)
class PairGroup:
    """One request's training group: its article's passages' pair features, which of them answer it, the
    article (external id), how much it counts, and its history fold (``None``: a pseudo-request)."""

    rows: np.ndarray
    answers: np.ndarray
    article: str
    weight: float
    fold: int | None


def pair_groups(index: KBIndex, items: Sequence[Pseudo], *, stored: bool) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Return, per item whose article ranks in the top 3, ``(item position, its article's passages' pair
    features, whether each answers it)``. ``stored``: the items are past requests the index holds as
    article questions, left out of their own retrieval (a pseudo-request is not left out: one that is an
    article's title word for word matches that title as a real request would)."""
    position = {a.external_id: i for i, a in enumerate(index.articles)}
    groups = []
    for n, (item, r) in enumerate(zip(items, index.search_many([p.text for p in items], k=3, exclude_same_text=stored))):
        target = position.get(item.article)
        if target in r.order:
            pair = r.pair[r.order.index(target)]
            y = np.array([j in item.passages for j in range(len(pair.rows))], dtype=np.float64)
            groups.append((n, pair.rows, y))
    return groups


def history_pseudo(index: KBIndex, labelled: Sequence[Labelled]) -> list[Pseudo]:
    """Return the past requests whose history names the sections that answered them as pseudo-requests
    (article and answering passages); the others are left out."""
    by_id = {a.external_id: a for a in index.articles}
    out = []
    for item in labelled:
        article = by_id.get(item.article or "")
        if article is None or not item.sections:
            continue
        passages = frozenset(j for j in range(len(article.passages)) if section_key(article, j) in item.sections)
        if passages:
            out.append(Pseudo(item.text, article.external_id, passages))
    return out


class PairTraining:
    """The second stage's training data for one index: pseudo-requests from ``articles`` and the past
    requests of ``history`` that name their sections, each retrieved once.

    Args:
        index: the index the second stage will serve (its pair features are what the model sees).
        articles: the articles to make pseudo-requests from.
        history: labelled past requests (those without sections teach the second stage nothing).
    """

    def __init__(self, index: KBIndex, articles: list[KBArticle], history: Sequence[Labelled] = ()) -> None:
        pseudo = pseudo_requests(articles, skip=shared_headings(articles))
        real = history_pseudo(index, history)
        self.groups = [PairGroup(rows, y, pseudo[n].article, 1.0, None) for n, rows, y in pair_groups(index, pseudo, stored=False)]
        self.groups += [PairGroup(rows, y, real[n].article, HISTORY_WEIGHT, text_fold(real[n].text))
                        for n, rows, y in pair_groups(index, real, stored=True)]

    def fit(self, *, without_fold: int | None = None, without_articles: frozenset[str] = frozenset()) -> PairModel | None:
        """Fit the second stage, leaving out the past requests of history fold ``without_fold`` and every
        request about ``without_articles``. ``None`` when too few requests are usable (articles without
        sections, or a KB of one-passage articles)."""
        kept = [g for g in self.groups
                if (without_fold is None or g.fold != without_fold) and g.article not in without_articles]
        try:
            return fit_pairs([(g.rows, g.answers) for g in kept], weights=[g.weight for g in kept])
        except ValueError:
            return None
