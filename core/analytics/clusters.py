"""Grouping short texts by meaning: unit vectors, average-linkage clustering, and each group's medoid (pure).

Two ways to turn texts into vectors, one clustering for both:

- **embeddings**: an ``embed`` function handed in by the layer that wires the hub (the interceptor's sentence
  model); ``core`` never imports it;
- **lexical** (the fallback): TF-IDF over salient words, the IDF taken over a background of texts.

Clustering is agglomerative with average linkage: the two groups whose mean pairwise cosine similarity is
highest merge, until no pair reaches the threshold. Average linkage is what keeps one shared word ("jira") from
chaining unrelated requests together: a group must be similar *on average*, not through one member.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from typing import Any, Callable, Iterable

import numpy as np

Embed = Callable[[list[str]], Any]
"""Texts in, one vector per text out (a sequence of float sequences or a 2-D array; need not be normalised)."""

LEXICAL_THRESHOLD = 0.25
EMBEDDING_THRESHOLD = 0.6

STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being but by can cannot could did do
    does doing don for from get gets getting got had has have having hello help hey hi how however i if im in into
    is it its ive just know like me my need needs no not now of on or our out please problem same see so some still
    thank thanks that the their them then there these they this to trying try up us use using want was way we
    were what when where which while who why will with work working would you your good morning afternoon evening
    anyone someone there ok okay yes yeah""".split()
)
_WORD = re.compile(r"[a-z][a-z0-9]+")


def terms(text: str) -> list[str]:
    """Lower-cased words of 3+ characters without stop words or greetings; a plural ``s`` after a consonant or
    ``e`` is folded (``passwords`` -> ``password``, ``invoices`` -> ``invoice``; ``macos``, ``access`` stay)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and word[-2] not in "siuo":
            word = word[:-1]
        out.append(word)
    return out


def idf_weights(corpus: Iterable[str]) -> tuple[dict[str, float], float]:
    """Smoothed IDF of every term of ``corpus``, and the weight of a term it never saw."""
    bags = [set(terms(text)) for text in corpus]
    df = Counter(t for bag in bags for t in bag)
    n = len(bags)
    return {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()}, math.log(1 + n) + 1


def lexical_vectors(texts: list[str], idf: dict[str, float], unseen: float) -> np.ndarray:
    """Unit TF-IDF rows, one per text, over the texts' own vocabulary (an all-zero row for a text without terms)."""
    bags = [Counter(terms(text)) for text in texts]
    vocab = {t: i for i, t in enumerate(sorted({t for bag in bags for t in bag}))}
    matrix = np.zeros((len(texts), max(1, len(vocab))), dtype=np.float64)
    for row, bag in enumerate(bags):
        for t, tf in bag.items():
            matrix[row, vocab[t]] = (1 + math.log(tf)) * idf.get(t, unseen)
    return normalise(matrix)


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def cluster(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Average-linkage agglomerative clustering on cosine similarity.

    Args:
        vectors: unit rows.
        threshold: two groups merge only while their mean pairwise similarity is at least this.

    Returns:
        Groups of row indices (each sorted), every row in exactly one group.
    """
    n = len(vectors)
    if n == 0:
        return []
    sim = vectors @ vectors.T
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    while len(members) > 1:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, n)
        if not sim[i, j] >= threshold:
            break
        merged = (sizes[i] * sim[i] + sizes[j] * sim[j]) / (sizes[i] + sizes[j])  # Lance-Williams, average
        sim[i], sim[:, i] = merged, merged
        sim[i, i] = -np.inf
        sim[j], sim[:, j] = -np.inf, -np.inf
        sizes[i] += sizes[j]
        members[i].extend(members.pop(j))
    return [sorted(group) for group in members.values()]


def medoid(vectors: np.ndarray, group: list[int]) -> int:
    """The member most similar on average to the others (the group's most typical text); ties go to the last."""
    if len(group) == 1:
        return group[0]
    block = vectors[group] @ vectors[group].T
    scores = block.sum(axis=1)
    best = max(range(len(group)), key=lambda k: (round(float(scores[k]), 9), k))
    return group[best]


def embed_vectors(embed: Embed, texts: list[str]) -> np.ndarray | None:
    """Unit rows from ``embed``, or ``None`` when it fails or answers with the wrong shape (use the fallback)."""
    try:
        matrix = np.asarray(embed(texts), dtype=np.float64)
    except (RuntimeError, ValueError, TypeError, OSError, MemoryError):  # the optional model failed: fall back
        return None
    if matrix.ndim != 2 or matrix.shape[0] != len(texts) or not np.isfinite(matrix).all():
        return None
    return normalise(matrix)


class CachingEmbed:
    """An ``Embed`` that remembers the vectors of the texts it has seen (least recently used dropped first), so
    a dashboard reload embeds only the requests that are new since the last one.

    Args:
        embed: the model's function.
        max_items: the most vectors kept (float32: 10,000 MiniLM vectors take 15 MB).
    """

    def __init__(self, embed: Embed, max_items: int = 10_000) -> None:
        self._embed = embed
        self._max = max_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        fresh = np.asarray(self._embed(missing), dtype=np.float32) if missing else np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for text, vector in zip(missing, fresh):
                found[text] = self._cache[text] = vector
            for text in texts:
                if text in self._cache:
                    self._cache.move_to_end(text)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return [found[t] for t in texts]
