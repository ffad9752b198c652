"""The in-memory retrieval index: units (titles, passages, questions, unanswered past tickets) searched
lexically (BM25) and, when available, densely; results are per article, with each article's best passage.

Units are grouped by article so per-article maxima are one ``np.maximum.reduceat``. Past tickets that no
article solved ("negatives") form one pseudo-article after the real ones: they never rank, but their
similarity to a request is a feature (a request like a known knowledge gap should go to a person).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.kb import KBArticle, KBPassage
from interceptor.retrieval.dense import Embedder, VectorStore
from interceptor.retrieval.lexical import BM25

DENSE_WEIGHT = 0.75  # fused = w * cosine + (1 - w) * normalised BM25, both in [0, 1]
KNN = 10


def normalise(text: str) -> str:
    """Return the key under which two texts count as the same request (case and spacing folded)."""
    return " ".join(text.lower().split())


def unit_text(title: str, passage: KBPassage) -> str:
    """Return the indexed text of a passage: its article title and heading path lead it
    (``"Title › Heading › Sub: text"``; ``"Title. text"`` when the passage has no heading)."""
    if passage.heading_path:
        return f"{' › '.join((title, *passage.heading_path))}: {passage.text}"
    return f"{title}. {passage.text}"


@dataclass(frozen=True)
class Retrieval:
    """One request's raw retrieval: articles ranked by fused score, with component scores.

    ``order`` indexes ``KBIndex.articles``; ``passage`` holds each ranked article's best passage.
    ``knn`` is the share of the nearest units' (similarity-weighted) votes per ranked article;
    ``negative`` is the best similarity to an unanswered past ticket and ``knn_negative`` their vote share.
    """

    order: tuple[int, ...]
    fused: tuple[float, ...]
    lexical: tuple[float, ...]
    dense: tuple[float, ...] | None
    passage: tuple[str, ...]
    knn: tuple[float, ...]
    lexical_top: int
    dense_top: int
    negative: float
    knn_negative: float


class KBIndex:
    """Search structure over a KB snapshot.

    Args:
        articles: the live articles.
        embedder: the dense model, or ``None`` for lexical-only retrieval.
        negatives: texts of past requests no article solved.
        store: where the embedder's vectors persist (see :meth:`Embedder.encode_cached`).
    """

    def __init__(
        self,
        articles: list[KBArticle],
        embedder: Embedder | None,
        negatives: tuple[str, ...] = (),
        store: VectorStore | None = None,
    ) -> None:
        self.articles = articles
        self.embedder = embedder
        owner: list[int] = []
        texts: list[str] = []
        self._passage_of: list[int] = []  # per unit: index into the article's passages, or -1
        for i, article in enumerate(articles):
            units = [(article.title, -1)] + [(unit_text(article.title, p), j) for j, p in enumerate(article.passages)]
            units += [(q, -1) for q in article.questions]
            for text, pos in units:
                owner.append(i)
                texts.append(text)
                self._passage_of.append(pos)
        for text in negatives:
            owner.append(len(articles))
            texts.append(text)
            self._passage_of.append(-1)
        self.has_negatives = bool(negatives)
        self.owner = np.array(owner, dtype=np.int64)
        self.starts = np.flatnonzero(np.r_[True, self.owner[1:] != self.owner[:-1]]) if owner else np.zeros(0, int)
        self._groups = self.owner[self.starts] if owner else np.zeros(0, int)
        self.texts = texts
        self._by_text: dict[str, list[int]] = {}
        for u, text in enumerate(texts):
            self._by_text.setdefault(normalise(text), []).append(u)
        self.lexical = BM25(texts)
        self.vectors = embedder.encode_cached(texts, store) if embedder is not None and texts else None

    @property
    def dense(self) -> bool:
        """Whether dense retrieval is on for this index."""
        return self.vectors is not None

    def per_article(self, unit_scores: np.ndarray, floor: float) -> np.ndarray:
        """Return each article's best unit score (the last entry: the unanswered-tickets pseudo-article)."""
        out = np.full(len(self.articles) + 1, floor, dtype=np.float64)
        if len(unit_scores):
            out[self._groups] = np.maximum.reduceat(unit_scores, self.starts)
        return out

    def search(self, text: str, *, k: int = 5, exclude_same_text: bool = False, query_vector: np.ndarray | None = None) -> Retrieval:
        """Retrieve the top ``k`` articles for ``text``.

        Args:
            text: the request.
            k: how many articles to return.
            exclude_same_text: ignore units whose text equals the request (leave-one-out when the request
                is itself a stored past ticket, as in calibration).
            query_vector: the request's embedding, when the caller already has it.

        Returns:
            The retrieval (empty ``order`` for an empty KB).
        """
        n = len(self.articles)
        lex_units, ceiling = self.lexical.scores(text)
        lex_units = lex_units / ceiling if ceiling > 0 else lex_units
        dense_units = None
        if self.vectors is not None and self.embedder is not None:
            q = query_vector if query_vector is not None else self.embedder.encode_query(text)
            dense_units = self.vectors @ q
        if exclude_same_text:
            for u in self._by_text.get(normalise(text), ()):
                lex_units[u] = 0.0
                if dense_units is not None:
                    dense_units[u] = -1.0
        lex = self.per_article(lex_units, 0.0)
        if dense_units is not None:
            dense = self.per_article(dense_units.astype(np.float64), -1.0)
            unit_fused = DENSE_WEIGHT * dense_units + (1 - DENSE_WEIGHT) * lex_units
            fused = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lex
            knn_basis = dense_units.astype(np.float64)
        else:
            dense, unit_fused, fused, knn_basis = None, lex_units, lex, lex_units
        real = fused[:n]
        top = np.argsort(-real, kind="stable")[: min(k, n)]
        votes = np.zeros(n + 1)
        if len(knn_basis):
            near = np.argpartition(-knn_basis, min(KNN, len(knn_basis)) - 1)[:KNN]
            weights = np.exp((knn_basis[near] - knn_basis[near].max()) / 0.05)
            np.add.at(votes, self.owner[near], weights)
            votes /= votes.sum() or 1.0
        return Retrieval(
            order=tuple(int(i) for i in top),
            fused=tuple(float(real[i]) for i in top),
            lexical=tuple(float(lex[i]) for i in top),
            dense=None if dense is None else tuple(float(dense[i]) for i in top),
            passage=tuple(self.best_passage(int(i), unit_fused) for i in top),
            knn=tuple(float(votes[i]) for i in top),
            lexical_top=int(np.argmax(lex[:n])) if n else -1,
            dense_top=int(np.argmax(dense[:n])) if dense is not None and n else -1,
            negative=float(dense[n] if dense is not None else lex[n]) if self.has_negatives else 0.0,
            knn_negative=float(votes[n]),
        )

    def best_passage(self, article: int, unit_fused: np.ndarray) -> str:
        """Return the passage of ``article`` with the best unit score (the body or title when it has none)."""
        a = self.articles[article]
        if not a.passages:
            return a.body or a.title
        lo = int(self.starts[np.searchsorted(self._groups, article)])
        span = range(lo, lo + 1 + len(a.passages))  # title unit, then the passage units
        best = max((u for u in span if self._passage_of[u] >= 0), key=lambda u: unit_fused[u])
        return a.passages[self._passage_of[best]].text
