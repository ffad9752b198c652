"""The intent classifier (interceptor.retrieval.intents): an article that many past requests were answered with is
known by all of them, not by its single nearest one; past requests scored to calibrate are scored by a classifier
that never learnt from them."""

from __future__ import annotations

import numpy as np

from core.kb import KBArticle
from interceptor.retrieval import intents
from interceptor.retrieval.history import Labelled, feature_rows
from interceptor.retrieval.index import KBIndex

DIM = 16


def _unit(*pairs: tuple[int, float]) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for axis, value in pairs:
        v[axis] = value
    return v / np.linalg.norm(v)


class TableEmbedder:
    """A stand-in for the dense model: the vector a table gives a text, else a small random one off every
    article's axis (titles, passages: noise the classifier must see through)."""

    name, dim, precision = "table", DIM, "float32"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode(self, texts: list[str]) -> np.ndarray:
        rng = [np.random.default_rng(list(t.encode()) or [0]) for t in texts]
        out = [self.table[t] if t in self.table else _unit((DIM - 1, 1.0), (int(r.integers(12, DIM - 1)), 0.3))
               for t, r in zip(texts, rng)]
        return np.stack(out).astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_cached(self, texts: list[str], store: object = None) -> np.ndarray:
        return self.encode(texts)


def _kb(classes: int, examples: int, *, odd_one: bool = True) -> tuple[list[KBArticle], dict[str, np.ndarray]]:
    """``classes`` intents, each ``examples`` past requests around its own axis; intent 1 also holds one request
    that leans towards intent 0 (an oddly worded one, as real histories hold)."""
    table: dict[str, np.ndarray] = {}
    articles = []
    for c in range(classes):
        asked = []
        for e in range(examples):
            text = f"intent{c} example{e}"
            table[text] = _unit((c, 1.0), ((c + 1 + e) % classes, 0.15))
            asked.append(text)
        if odd_one and c == 1:
            table["weird phrasing"] = _unit((0, 0.6), (1, 0.8))
            asked.append("weird phrasing")
        articles.append(KBArticle(c + 1, "md", f"i{c}", f"title{c}", None, (), (), tuple(asked)))
    table["fresh ask"] = _unit((0, 0.85), (1, 0.53))  # nearest to the odd request of intent 1; intent 0's by its side
    return articles, table


def test_an_intent_is_known_by_all_its_past_requests_not_its_nearest_one() -> None:
    articles, table = _kb(12, 15)
    index = KBIndex(articles, TableEmbedder(table))  # type: ignore[arg-type]
    assert index.intents is not None
    r = index.search("fresh ask")
    assert index.articles[r.order[0]].external_id == "i0"
    assert r.fused[0] < max(r.fused)  # the nearest single example (intent 1's odd request) would have ranked i1 first
    assert index.intents.probabilities(TableEmbedder(table).encode_query("fresh ask"), len(articles))[0] > 0.5


def test_without_enough_past_requests_there_is_no_classifier_and_the_nearest_example_ranks() -> None:
    for classes, examples in ((intents.MIN_CLASSES - 1, 15), (12, intents.MIN_EXAMPLES - 2)):
        articles, table = _kb(classes, examples)
        index = KBIndex(articles, TableEmbedder(table))  # type: ignore[arg-type]
        assert index.intents is None
        r = index.search("fresh ask")
        assert index.articles[r.order[0]].external_id == "i1"


def test_a_kb_where_only_some_articles_gathered_past_requests_has_no_classifier() -> None:
    # it would send the requests of the bare articles (a title, passages) to the ones it knows
    articles, table = _kb(12, 15)
    bare = [KBArticle(100 + n, "md", f"page{n}", f"page title{n}", None, (), (), ()) for n in range(3)]
    assert KBIndex(articles + bare[:1], TableEmbedder(table)).intents is not None  # type: ignore[arg-type]
    assert KBIndex(articles + bare, TableEmbedder(table)).intents is None  # type: ignore[arg-type]


def test_a_lexical_index_has_no_classifier() -> None:
    articles, _ = _kb(12, 15)
    assert KBIndex(articles, None).intents is None


def test_a_past_request_is_scored_by_a_classifier_that_never_learnt_from_it() -> None:
    # intent 1's odd request, asked as history: a classifier that learnt from it remembers it as intent 1's, one that
    # did not takes it for intent 0's, as it would a new request worded so; the calibration must see the latter
    articles, table = _kb(12, 15)
    table["weird phrasing"] = _unit((0, 0.75), (1, 0.66))
    index = KBIndex(articles, TableEmbedder(table))  # type: ignore[arg-type]
    asked = [Labelled("weird phrasing", "i1")]
    assert index.articles[index.search("weird phrasing", exclude_same_text=True).order[0]].external_id == "i1"
    unseen = index.without_learnt(["weird phrasing"])
    assert index.articles[unseen.search("weird phrasing", exclude_same_text=True).order[0]].external_id == "i0"
    assert feature_rows(index, asked)[1] == [False]  # scored as a new request would be: a wrong answer
    assert index.without_learnt(["never asked"]).intents is not None

