"""The intent classifier: which article a request is, learnt from the past requests the articles hold.

An article that many past requests were answered with (an intent KB's article, or a help-center page that
solved many tickets) is known by how people ask for it, not only by its words. Its nearest single example
(what the index's fused score takes) is a noisy judge of that: one oddly worded past request of a
neighbouring article outranks ten typical ones. A multinomial logistic regression on the embeddings of
the past requests learns the boundary between such articles from all their examples at once. Added to the
fused score, it put the right article first for 0.935 of CLINC150's answerable test requests (120 intents
of ten domains, 18 past requests each) against 0.871, and for 0.901 of BANKING77's against 0.897. On a
help-center KB whose articles hold one or two past tickets it does harm (doc2dial: 0.71 against 0.77), so it
learns only where there is enough to learn from: articles with at least ``MIN_EXAMPLES`` past requests, and
only when there are ``MIN_CLASSES`` such articles, ``MIN_SHARE`` of all: an intent KB. Where only some
articles hold many past requests, it sends the requests of the others to them: with half of CLINC150's
intents stripped of their past requests, theirs found the right article first 0.19 of the time with it,
0.44 without it. Every other unit of the index (the few other articles, unanswered tickets) is one class of
its own, "something else".

It only orders articles (:meth:`interceptor.retrieval.index.KBIndex.search` adds ``WEIGHT`` times its
probability to the fused score of each); the confidence features stay the retrieval's own. Past requests
scored to calibrate are ordered by a classifier that did not learn from them
(:meth:`~interceptor.retrieval.index.KBIndex.without_learnt`), as the second stage's folds are; the KB's own
pseudo-requests by none (:func:`interceptor.retrieval.coldstart.kb_examples`). Tried and left: its
probabilities as confidence features. They lifted CLINC150's coverage at precision 0.95, but the KB's
knowledge gaps, which it assigns to a neighbouring intent with confidence, made BANKING77's threshold stop
early (coverage 0.64, under its 0.70).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Collection

import numpy as np

log = logging.getLogger(__name__)

MIN_EXAMPLES = 5  # past requests an article needs to be a class of its own
MIN_CLASSES = 10  # articles with that many needed for the classifier to learn at all
MIN_SHARE = 0.9  # ... and this share of all the articles: an intent KB, not one where some pages gathered tickets
MAX_CLASSES = 1000  # beyond this the fit costs too much at each index build: no classifier (logged)
WEIGHT = 1.0  # added to the fused score (a cosine blend in [0, 1]) times the article's probability
C = 10.0  # inverse L2 strength (CLINC150, BANKING77: 10 and 100 alike, 1 worse)


@dataclass(frozen=True)
class IntentModel:
    """A fitted classifier: ``coef`` (classes x dimensions), ``intercept``, and each class's article position
    (``-1``: something else)."""

    coef: np.ndarray
    intercept: np.ndarray
    articles: np.ndarray

    @staticmethod
    def fit(vectors: np.ndarray, owner: np.ndarray, questions: np.ndarray, n_articles: int,
            without: Collection[int] = ()) -> IntentModel | None:
        """Fit on the index's unit embeddings, or return ``None`` when there is too little to learn from.

        Args:
            vectors: every unit's embedding (rows of :attr:`KBIndex.vectors`).
            owner: each unit's article position (``n_articles``: the unanswered tickets).
            questions: whether each unit is a past request an article holds.
            n_articles: the number of articles.
            without: units to leave out of the fit (the past requests being scored with it).
        """
        keep = np.ones(len(owner), dtype=bool)
        keep[list(without)] = False
        counts = Counter(owner[keep & questions].tolist())
        classes = sorted(a for a, c in counts.items() if c >= MIN_EXAMPLES and a < n_articles)
        if len(classes) < max(MIN_CLASSES, MIN_SHARE * n_articles):
            return None
        if len(classes) > MAX_CLASSES:
            log.info("interceptor.intents.too-many", extra={"classes": len(classes), "limit": MAX_CLASSES})
            return None
        label = np.full(n_articles + 1, -1, dtype=np.int64)
        label[classes] = classes
        y = label[owner[keep]]
        from sklearn.linear_model import LogisticRegression  # the dense extra's (sentence-transformers needs it)

        model = LogisticRegression(C=C, max_iter=1000).fit(vectors[keep], y)
        return IntentModel(model.coef_.astype(np.float32), model.intercept_.astype(np.float32),
                           model.classes_.astype(np.int64))

    def probabilities(self, query: np.ndarray, n_articles: int) -> np.ndarray:
        """Return each article's probability for the request embedding ``query`` (0 for an article that is no
        class; "something else" is dropped)."""
        logits = self.coef @ query + self.intercept
        p = np.exp(logits - logits.max())
        p /= p.sum()
        out = np.zeros(n_articles)
        mine = self.articles >= 0
        out[self.articles[mine]] = p[mine]
        return out
