"""The in-memory retrieval index: units (titles, passages, questions, unanswered past tickets) searched
lexically (BM25) and, when available, densely; results are per article, with each article's best passage
and that passage's own scores (what the answer quotes is scored, not only its article).

A passage unit is the article title, the passage's heading path and its text ("Title › Heading: text");
each section with a heading also has a heading unit ("Title › Heading"), so a request that names a section
by its heading finds that section. Which passage of an article is quoted is chosen by the second stage
(:mod:`interceptor.retrieval.rerank`) when the index has one, else by the best passage unit.

Units are grouped by article so per-article maxima are one ``np.maximum.reduceat``. Past tickets that no
article solved ("negatives") form one pseudo-article after the real ones: they never rank, but their
similarity to a request is a feature (a request like a known knowledge gap should go to a person).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Collection, Iterator, Mapping, Sequence

import numpy as np

from core.kb import KBArticle, KBPassage
from interceptor.retrieval.dense import Embedder, VectorStore
from interceptor.retrieval.intents import WEIGHT as INTENT_WEIGHT, IntentModel
from interceptor.retrieval.lexical import BM25, tokenize
from interceptor.retrieval.rerank import PairModel, PassageScores, choose, section_key

DENSE_WEIGHT = 0.75  # fused = w * cosine + (1 - w) * normalised BM25, both in [0, 1]
KNN = 10
SUMMARY_CHARS = 300  # an opening without a heading, at most this long, is its article's summary (KBIndex.quote)
BATCH = 64  # requests whose dense scores one matrix product computes (search_many)


def normalise(text: str) -> str:
    """Return the key under which two texts count as the same request (case and spacing folded)."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Retrieval:
    """One request's raw retrieval: articles ranked by fused score, with component scores.

    ``order`` indexes ``KBIndex.articles``; ``passage`` holds each ranked article's chosen passage (its
    text) and ``passage_at`` its position in the article's passages (-1: the article has none; see
    :meth:`KBIndex.passage_text`). ``pair`` holds each ranked article's passage scores and the chosen one's second-stage
    score (:class:`~interceptor.retrieval.rerank.PassageScores`). ``knn`` is the share of the nearest units'
    (similarity-weighted) votes per ranked article; ``negative`` is the best similarity to an unanswered
    past ticket and ``knn_negative`` their vote share.
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
    passage_at: tuple[int, ...] = ()
    pair: tuple[PassageScores, ...] = ()


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Return the positions of the ``k`` largest ``values``, largest first and ties by position: what
    ``np.argsort(-values, kind="stable")[:k]`` returns, without sorting every value."""
    if k >= len(values):
        return np.argsort(-values, kind="stable")[:k]
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(values, len(values) - k)[len(values) - k]
    candidates = np.flatnonzero(values >= kth)
    return candidates[np.argsort(-values[candidates], kind="stable")][:k]


NAMED_SHARE = 0.75  # a heading names the request when it holds all its own words and this share of the request's


def named(heading: frozenset[str], terms: dict[str, float], total: float) -> float:
    """Return 1.0 when a section heading (its index terms) is what the request asks, in other words: every
    term of the heading (two at least) is in the request and they carry at least ``NAMED_SHARE`` of the
    request's weight (``terms``: the request's terms with their idf; ``total``: their sum); else 0.0."""
    if len(heading) < 2 or not total or not heading <= terms.keys():
        return 0.0
    return 1.0 if sum(terms[t] for t in heading) / total >= NAMED_SHARE else 0.0


def unit_text(title: str, passage: KBPassage) -> str:
    """Return the indexed text of a passage: its article title and heading path lead it
    (``"Title › Heading › Sub: text"``; ``"Title. text"`` when the passage has no heading)."""
    path = [h.strip() for h in passage.heading_path if h.strip() and h.strip() != title.strip()]
    if path:
        return f"{' › '.join((title, *path))}: {passage.text}"
    return f"{title}. {passage.text}"


def heading_unit(title: str, passage: KBPassage) -> str | None:
    """Return the heading unit of a passage's section ("Title › Heading › Sub"), ``None`` without one."""
    path = [h.strip() for h in passage.heading_path if h.strip() and h.strip() != title.strip()]
    return " › ".join([title.strip(), *path]) if path else None


class KBIndex:
    """Search structure over a KB snapshot.

    Args:
        articles: the live articles.
        embedder: the dense model, or ``None`` for lexical-only retrieval.
        negatives: texts of past requests no article solved.
        store: where the embedder's vectors persist (see :meth:`Embedder.encode_cached`).
        reranker: the second stage that picks each article's passage (``None``: the best passage unit).
        ticket_sections: for past tickets stored as article questions, the section keys that answered
            them (``coldstart.section_key``): a new request like such a ticket points at that section.
    """

    def __init__(
        self,
        articles: list[KBArticle],
        embedder: Embedder | None,
        negatives: tuple[str, ...] = (),
        store: VectorStore | None = None,
        reranker: PairModel | None = None,
        ticket_sections: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.articles = articles
        self.embedder = embedder
        self.reranker = reranker
        owner: list[int] = []
        texts: list[str] = []
        self._passage_units: list[np.ndarray] = []  # per article: the unit of each passage
        self._heading_units: list[np.ndarray] = []  # per article: each passage's heading unit (the title's if none)
        self._ticket_links: list[tuple[np.ndarray, np.ndarray]] = []  # per article: (ticket unit, passage) pairs
        tickets = ticket_sections or {}
        questions: list[int] = []  # the units that are past requests an article holds
        for i, article in enumerate(articles):
            units, heads = [len(texts) + 1 + j for j in range(len(article.passages))], []
            title_unit = len(texts)
            texts.append(article.title)
            texts.extend(unit_text(article.title, p) for p in article.passages)
            seen: dict[str, int] = {}
            for p in article.passages:
                h = heading_unit(article.title, p)
                if h is not None and h not in seen:
                    seen[h] = len(texts)
                    texts.append(h)
                heads.append(seen[h] if h is not None else title_unit)  # no heading: the title heads it
            links = [(len(texts) + n, j) for n, q in enumerate(article.questions) if q in tickets
                     for j in range(len(article.passages)) if section_key(article, j) in tickets[q]]
            self._ticket_links.append((np.array([u for u, _ in links], dtype=np.int64), np.array([j for _, j in links], dtype=np.int64)))
            questions.extend(range(len(texts), len(texts) + len(article.questions)))
            texts.extend(article.questions)
            owner.extend([i] * (len(texts) - len(owner)))
            self._passage_units.append(np.array(units, dtype=np.int64))
            self._heading_units.append(np.array(heads, dtype=np.int64))
        texts.extend(negatives)
        owner.extend([len(articles)] * len(negatives))
        self.has_negatives = bool(negatives)
        self.owner = np.array(owner, dtype=np.int64)
        self.starts = np.flatnonzero(np.r_[True, self.owner[1:] != self.owner[:-1]]) if owner else np.zeros(0, int)
        self._groups = self.owner[self.starts] if owner else np.zeros(0, int)
        self.texts = texts
        self._by_text: dict[str, list[int]] = {}
        for u, text in enumerate(texts):
            self._by_text.setdefault(normalise(text), []).append(u)
        self.lexical = BM25(texts)
        self._title_terms = [frozenset(tokenize(a.title)) for a in articles]
        self._own_heads = [[frozenset(tokenize(p.heading_path[-1])) if p.heading_path else frozenset() for p in a.passages]
                           for a in articles]  # per article: each passage's own heading's terms (for named)
        self.vectors = embedder.encode_cached(texts, store) if embedder is not None and texts else None
        self._questions = np.zeros(len(texts), dtype=bool)
        self._questions[questions] = True
        self.intents = self._fit_intents()

    def _fit_intents(self, without: Collection[int] = ()) -> IntentModel | None:
        """The intent classifier of this index's past requests, less the units ``without`` (``None``: lexical-only,
        or too little to learn from: :mod:`interceptor.retrieval.intents`)."""
        if self.vectors is None:
            return None
        return IntentModel.fit(self.vectors, self.owner, self._questions, len(self.articles), without)

    def without_learnt(self, texts: Collection[str]) -> KBIndex:
        """Return this index with an intent classifier that never learnt from the requests ``texts`` (past requests,
        unanswered tickets), to score those as new requests; this index itself when it has no classifier."""
        if self.intents is None:
            return self
        return self._with(intents=self._fit_intents([u for text in texts for u in self._by_text.get(normalise(text), ())]))

    @property
    def dense(self) -> bool:
        """Whether dense retrieval is on for this index."""
        return self.vectors is not None

    def _with(self, **changes: Any) -> KBIndex:
        """Return this index with some attributes changed (shares every array; nothing is re-embedded)."""
        clone = object.__new__(KBIndex)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        return clone

    def with_reranker(self, reranker: PairModel | None) -> KBIndex:
        """Return this index with another second stage."""
        return self._with(reranker=reranker)

    def without_intents(self) -> KBIndex:
        """Return this index with no intent classifier: articles ordered by their fused score alone."""
        return self._with(intents=None)

    def per_article(self, unit_scores: np.ndarray, floor: float) -> np.ndarray:
        """Return each article's best unit score (the last entry: the unanswered-tickets pseudo-article)."""
        out = np.full(len(self.articles) + 1, floor, dtype=np.float64)
        if len(unit_scores):
            out[self._groups] = np.maximum.reduceat(unit_scores, self.starts)
        return out

    def encode_requests(self, texts: Sequence[str]) -> np.ndarray | None:
        """Return the requests' embeddings in one batch (``None`` when the index is lexical-only)."""
        if self.embedder is None or not self.dense or not texts:
            return None
        return self.embedder.encode(list(texts))

    def search_many(self, texts: Sequence[str], *, k: int = 5, exclude_same_text: bool | Sequence[bool] = False,
                    leave_out: Collection[int] = ()) -> Iterator[Retrieval]:
        """Yield :meth:`search` of each of ``texts`` in turn (``exclude_same_text``: for all, or per text),
        embedding them in one batch and computing their dense scores ``BATCH`` requests to a matrix product
        (calibration and training ask hundreds)."""
        exclude = [exclude_same_text] * len(texts) if isinstance(exclude_same_text, bool) else list(exclude_same_text)
        vectors = self.encode_requests(texts)
        for start in range(0, len(texts), BATCH):
            block = None if vectors is None or self.vectors is None else \
                (vectors[start:start + BATCH] @ self.vectors.T).astype(np.float64)
            for j, text in enumerate(texts[start:start + BATCH]):
                yield self._search(text, None if block is None else block[j], None if vectors is None else vectors[start + j], k=k,
                                   exclude_same_text=exclude[start + j], leave_out=leave_out)

    def search(self, text: str, *, k: int = 5, exclude_same_text: bool = False, query_vector: np.ndarray | None = None,
               leave_out: Collection[int] = ()) -> Retrieval:
        """Retrieve the top ``k`` articles for ``text``, each with its chosen passage.

        Args:
            text: the request.
            k: how many articles to return.
            exclude_same_text: ignore units whose text equals the request (leave-one-out when the request
                is itself a stored past ticket, as in calibration).
            query_vector: the request's embedding, when the caller already has it.
            leave_out: positions in ``articles`` to search as if they were not in the KB (the cold start's
                knowledge gaps): they never rank, are never the lexical or dense top, and their units never
                vote among the nearest. Only BM25's statistics (idf, mean unit length) still count their
                units: a negligible difference from an index built without them.

        Returns:
            The retrieval (empty ``order`` for an empty KB, or when every article is left out).
        """
        q = dense_units = None
        if self.vectors is not None and self.embedder is not None:
            q = query_vector if query_vector is not None else self.embedder.encode_query(text)
            dense_units = (self.vectors @ q).astype(np.float64)
        return self._search(text, dense_units, q, k=k, exclude_same_text=exclude_same_text, leave_out=leave_out)

    def _search(self, text: str, dense_units: np.ndarray | None, query: np.ndarray | None, *, k: int,
                exclude_same_text: bool, leave_out: Collection[int]) -> Retrieval:
        """:meth:`search`, given the request's dense score of every unit and its embedding (``None``: lexical-only)."""
        n = len(self.articles)
        absent = np.zeros(n + 1, dtype=bool)  # per article, and the unanswered tickets (never left out)
        absent[:n][list(leave_out)] = True
        present = n - int(absent.sum())
        lex_units, ceiling = self.lexical.scores(text)
        lex_units = lex_units / ceiling if ceiling > 0 else lex_units
        if exclude_same_text:
            for u in self._by_text.get(normalise(text), ()):
                lex_units[u] = 0.0
                if dense_units is not None:
                    dense_units[u] = -1.0
        lex = self.per_article(lex_units, 0.0)
        if dense_units is not None:
            dense = self.per_article(dense_units, -1.0)
            unit_fused = DENSE_WEIGHT * dense_units + (1 - DENSE_WEIGHT) * lex_units
            fused = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lex
            knn_basis = dense_units
        else:
            dense, unit_fused, fused, knn_basis = None, lex_units, lex, lex_units
        voters = len(knn_basis)
        if present < n:  # what is left out scores below everything else, and its units do not vote
            fused, lex = np.where(absent, -np.inf, fused), np.where(absent, -np.inf, lex)
            dense = None if dense is None else np.where(absent, -np.inf, dense)
            silent = absent[self.owner]
            knn_basis = np.where(silent, -np.inf, knn_basis)
            voters -= int(silent.sum())
        real = fused[:n]
        ranked = real  # what orders the articles: the fused score, and the intent classifier's word where there is one
        if self.intents is not None and query is not None:
            ranked = real + INTENT_WEIGHT * self.intents.probabilities(query, n)
        top = top_k(ranked, min(k, present))
        votes = np.zeros(n + 1)
        if voters:
            near = np.argpartition(-knn_basis, min(KNN, voters) - 1)[: min(KNN, voters)]
            weights = np.exp((knn_basis[near] - knn_basis[near].max()) / 0.05)
            np.add.at(votes, self.owner[near], weights)
            votes /= votes.sum() or 1.0
        terms = self.lexical.weights(text)
        pairs = tuple(
            self._with_summary(int(i), choose(self._raw(int(i), unit_fused, lex_units, dense_units, terms), self.reranker))
            for i in top
        )
        return Retrieval(
            order=tuple(int(i) for i in top),
            fused=tuple(float(real[i]) for i in top),
            lexical=tuple(float(lex[i]) for i in top),
            dense=None if dense is None else tuple(float(dense[i]) for i in top),
            passage=tuple(self.quote(int(i), p) for i, p in zip(top, pairs)),
            knn=tuple(float(votes[i]) for i in top),
            lexical_top=int(np.argmax(lex[:n])) if present else -1,
            dense_top=int(np.argmax(dense[:n])) if dense is not None and present else -1,
            negative=float(dense[n] if dense is not None else lex[n]) if self.has_negatives else 0.0,
            knn_negative=float(votes[n]),
            passage_at=tuple(p.chosen for p in pairs),
            pair=pairs,
        )

    def _raw(self, article: int, fused: np.ndarray, lex: np.ndarray, dense: np.ndarray | None,
             terms: dict[str, float]) -> np.ndarray:
        """Return the raw scores of ``article``'s passages: rows of (fused, lexical, dense, heading, title,
        named), where heading is the best fused score of the section's heading unit (the title for a passage
        without heading) and of past tickets it answered, title the share of the request's terms (by weight,
        ``terms``) that the article's title holds, and named whether the passage's own heading is what the
        request asks (:func:`named`)."""
        units, heads = self._passage_units[article], self._heading_units[article]
        out = np.zeros((len(units), 6))
        total = sum(terms.values())
        out[:, 4] = sum(w for t, w in terms.items() if t in self._title_terms[article]) / total if total else 0.0
        out[:, 5] = [named(head, terms, total) for head in self._own_heads[article]]
        if len(units):
            out[:, 0], out[:, 1] = fused[units], lex[units]
            out[:, 2] = dense[units] if dense is not None else 0.0
            out[:, 3] = fused[heads]
            ticket_units, ticket_passages = self._ticket_links[article]
            if len(ticket_units):  # a past ticket this section answered counts like its heading
                np.maximum.at(out[:, 3], ticket_passages, fused[ticket_units])
        return out

    def _with_summary(self, article: int, p: PassageScores) -> PassageScores:
        """``p`` with :attr:`PassageScores.also` set when its choice is the article's summary: an opening without
        a heading of its own and at most :data:`SUMMARY_CHARS` long ("Use a personal API token to access the
        API, and stay within the rate limits."). A summary says what the article is about, rarely what to do,
        so the article's headed section whose passage best matches the request (fused score) is quoted after it
        (:meth:`quote`). Not the second stage's runner-up: it ranks sections by how they compare with the best
        one, and beside a summary chosen for naming the article's topic that is mostly how little each heading
        dilutes the title ("Connect Slack › Not working?" for "how do I connect slack")."""
        passages = self.articles[article].passages
        if p.chosen != 0 or passages[0].heading_path or len(passages[0].text) > SUMMARY_CHARS:
            return p
        headed = [j for j in range(len(passages)) if passages[j].heading_path]
        return replace(p, also=max(headed, key=lambda j: p.rows[j, 0])) if headed else p

    def quote(self, article: int, p: PassageScores) -> str:
        """Return the text quoted for ``article``'s chosen passage: the passage, and the section quoted after a
        summary (:meth:`_with_summary`) under its heading."""
        text = self.passage_text(article, p.chosen)
        if p.also < 0:
            return text
        after = self.articles[article].passages[p.also]
        return f"{text}\n\n{' › '.join(after.heading_path)}\n{after.text}"

    def passage_text(self, article: int, at: int) -> str:
        """Return the text quoted for ``article``'s passage ``at``. When ``at`` is -1, its body; else, for an
        article of a title and the requests it answered (an intent: no text of its own, questions that match it),
        its title; an article with nothing under its title and no such requests (a Help Center article of
        screenshots only) quotes nothing rather than its title, so ``decide`` gives no answer from it
        (``no_passage``)."""
        a = self.articles[article]
        if at >= 0:
            return a.passages[at].text
        return a.body or (a.title if a.questions else "")

    def best_passage(self, article: int, unit_scores: np.ndarray) -> KBPassage | None:
        """Return the passage of ``article`` whose unit scores best in ``unit_scores`` (``None``: it has none)."""
        units = self._passage_units[article]
        if not len(units):
            return None
        return self.articles[article].passages[int(np.argmax(unit_scores[units]))]
