"""Learning from the KB's own content: pseudo-requests for the second stage and for a fresh install's
calibration (no labelled history needed, nothing fitted on another KB).

Pseudo-requests are what a person asking about a part of an article might write, taken from the article:
its title (answered by its opening section), each section's heading (answered by that section) and each
passage's first sentence, cut short (answered by its section). Articles are split by a stable hash into
three groups: the second stage learns from the first group's pseudo-requests; the calibrator learns from the
second group's (answerable) and the third group's, whose articles are left out of the index (knowledge
gaps: a right answer is impossible, so every answer to them is wrong).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np


from core.kb import KBArticle
from interceptor.retrieval.calibration import Calibrator, fit
from interceptor.retrieval.features import feature_names, sign
from interceptor.retrieval.lexical import quote_in_section, tokenize
from interceptor.retrieval.rerank import PairModel, fit_pairs, section_key

if TYPE_CHECKING:
    from interceptor.retrieval.history import Labelled
    from interceptor.retrieval.index import KBIndex

MAX_PSEUDO = 600  # pseudo-requests per use (second stage; calibration): bounded work on a large KB
MAX_WORDS = 14
FOLDS = 5
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# People rarely type a heading as it stands: they wrap it in a greeting, a request for help, a question.
# A pseudo-request is its heading or title in one of these wrappings (chosen by a stable hash), so that its
# lexical match is no stronger than a real request's would be.
WRAPPINGS = ("{}", "Hi, I need help with {}.", "I have a question about {}", "Can you tell me about {}? Thanks",
             "hello, {} please", "{} - what do I do?")


@dataclass(frozen=True)
class Pseudo:
    """A pseudo-request: its text, the article (external id) and the passages (positions) that answer it."""

    text: str
    article: str
    passages: frozenset[int]


def fold(article: KBArticle) -> int:
    """Return the article's fold (0 to ``FOLDS`` - 1), by a stable hash of its external id."""
    return int(hashlib.sha1(article.external_id.encode("utf-8")).hexdigest()[:8], 16) % FOLDS


def wrap(text: str) -> str:
    """Return ``text`` in one of :data:`WRAPPINGS` (stable: the same text always gets the same one)."""
    core = text.strip().rstrip("?.!:")
    pick = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % len(WRAPPINGS)
    return WRAPPINGS[pick].format(core[:1].lower() + core[1:] if pick else core)


def _short(text: str) -> str:
    first = _SENTENCE.split(" ".join(text.split()), maxsplit=1)[0]
    words = first.split()
    return " ".join(words[:MAX_WORDS]).rstrip(",;:")


def shared_headings(articles: list[KBArticle]) -> frozenset[str]:
    """Return the headings and titles (case and spacing folded) found in more than one article: a request
    made of one ("Sync errors") is ambiguous, not an example of either article."""
    seen: dict[str, set[str]] = {}
    for a in articles:
        for text in [a.title, *(h for p in a.passages for h in p.heading_path)]:
            seen.setdefault(" ".join(text.lower().split()), set()).add(a.external_id)
    return frozenset(t for t, owners in seen.items() if len(owners) > 1)


def pseudo_requests(articles: list[KBArticle], limit: int = MAX_PSEUDO, *, sentences: bool = True,
                    skip: frozenset[str] = frozenset()) -> list[Pseudo]:
    """Return up to ``limit`` pseudo-requests for ``articles`` (a deterministic sample, spread over them).

    Args:
        articles: articles with passages (articles without any give none).
        limit: how many at most.
        sentences: also make pseudo-requests of passages' first sentences.
        skip: texts (case and spacing folded) not to use (see :func:`shared_headings`).

    Returns:
        Pseudo-requests with at least two content words each.
    """
    out: list[Pseudo] = []
    for a in articles:
        if not a.passages:
            continue
        keys = [section_key(a, j) for j in range(len(a.passages))]
        members = {k: frozenset(j for j, kk in enumerate(keys) if kk == k) for k in keys}
        candidates = [(a.title, members[keys[0]])]
        seen = set()
        for j, p in enumerate(a.passages):
            if p.heading_path and keys[j] not in seen:
                seen.add(keys[j])
                candidates.append((p.heading_path[-1], members[keys[j]]))
            if sentences:
                candidates.append((_short(p.text), members[keys[j]]))
        out.extend(Pseudo(wrap(t), a.external_id, m) for t, m in candidates
                   if len(tokenize(t)) >= 2 and " ".join(t.lower().split()) not in skip)
    if len(out) > limit:
        keep = np.random.default_rng(0).choice(len(out), size=limit, replace=False)
        out = [out[i] for i in sorted(keep)]
    return out


def pair_groups(index: KBIndex, items: list[Pseudo]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return, per pseudo-request whose article ranks in the top 3, its article's passages' pair features
    and whether each answers it."""
    position = {a.external_id: i for i, a in enumerate(index.articles)}
    vectors = index.embedder.encode([p.text for p in items]) if index.embedder is not None and index.dense else None
    groups = []
    for n, item in enumerate(items):
        r = index.search(item.text, k=3, exclude_same_text=True, query_vector=None if vectors is None else vectors[n])
        target = position.get(item.article)
        if target in r.order:
            pair = r.pair[r.order.index(target)]
            y = np.array([j in item.passages for j in range(len(pair.rows))], dtype=np.float64)
            groups.append((pair.rows, y))
    return groups


def fit_reranker(index: KBIndex, articles: list[KBArticle]) -> PairModel | None:
    """Fit the second stage on pseudo-requests from ``articles`` (``None`` when too few are usable:
    articles without sections, or a KB of one-passage articles)."""
    try:
        return fit_pairs(pair_groups(index, pseudo_requests(articles, skip=shared_headings(articles))))
    except ValueError:
        return None


def cold_items(articles: list[KBArticle], answerable: bool, limit: int,
               skip: frozenset[str] = frozenset()) -> list[tuple[Labelled, str]]:
    """Return labelled pseudo-history from ``articles``, each item with the text it was made from: their
    pseudo-requests and stored questions, labelled with their article and section when
    ``answerable``, as knowledge gaps (no article) when not. A title is answered by the opening section."""
    from interceptor.retrieval.history import Labelled

    items = []
    for a in articles:
        for p in pseudo_requests([a], limit, sentences=False, skip=skip):
            source = " ".join(a.passages[j].text for j in sorted(p.passages))
            sections = tuple(sorted({section_key(a, j) for j in p.passages}))
            items.append((Labelled(p.text, p.article if answerable else None, None, sections if answerable else None), source))
        items += [(Labelled(q, a.external_id if answerable else None), "") for q in a.questions]
    if len(items) > limit:
        keep = np.random.default_rng(1).choice(len(items), size=limit, replace=False)
        items = [items[i] for i in sorted(keep)]
    return items


def cold_rows(index: KBIndex, items: list[tuple[Labelled, str]]) -> tuple[list[dict[str, float]], list[bool]]:
    """Retrieve each pseudo-request and return its features and whether the answer is right, where an
    answer that quotes the same content as the item's source (the bench's 60% rule) is right, and a gap
    whose content another article repeats is no gap (left out)."""
    from interceptor.retrieval.features import extract
    from interceptor.retrieval.history import is_right

    vectors = index.embedder.encode([i.text for i, _ in items]) if index.embedder is not None and index.dense else None
    rows, correct = [], []
    for n, (item, source) in enumerate(items):
        r = index.search(item.text, k=5, exclude_same_text=True, query_vector=None if vectors is None else vectors[n])
        same = bool(source) and bool(r.order) and quote_in_section(r.passage[0], source)
        if item.article is None and same:
            continue
        rows.append(extract(r))
        correct.append(is_right(index, r, item) or (item.article is not None and same))
    return rows, correct


def fit_cold(index: KBIndex) -> tuple[PairModel | None, Calibrator]:
    """Fit the second stage and the calibrator from the KB's own content (no labelled history).

    Args:
        index: the full index (its embedder's cached vectors are reused; nothing is embedded twice).

    Returns:
        The second stage (``None`` when the KB gives too few usable pseudo-requests) and the calibrator,
        with its out-of-fold precision curve over every fold's pseudo-requests.

    Raises:
        ValueError: too few articles or pseudo-requests to calibrate on (fewer than 10, or one outcome).
    """
    from interceptor.retrieval.index import KBIndex

    folds: list[list[KBArticle]] = [[] for _ in range(FOLDS)]
    for a in index.articles:
        folds[fold(a)].append(a)
    if sum(1 for f in folds if f) < 2:
        raise ValueError("too few articles to hold some out as knowledge gaps")
    reranker = fit_reranker(index, index.articles)
    share = max(MAX_PSEUDO // (2 * FOLDS), 10)
    skip = shared_headings(index.articles)
    rows: list[dict[str, float]] = []
    correct: list[bool] = []
    for f in range(FOLDS):
        gaps, answerable = folds[f], folds[(f + 1) % FOLDS]
        if not gaps or not answerable:
            continue
        reduced = KBIndex([a for g in folds if g is not gaps for a in g], index.embedder, reranker=reranker)
        fold_rows, fold_correct = cold_rows(reduced, cold_items(answerable, True, share, skip) + cold_items(gaps, False, share, skip))
        rows += fold_rows
        correct += fold_correct
    names = feature_names(index.dense)
    return reranker, fit(rows, correct, names, signs=[sign(n) for n in names])
