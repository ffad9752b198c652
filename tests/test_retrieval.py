"""Retrieval: BM25, the hybrid index with a stand-in embedder, the scorer's candidates, and the real
MiniLM model on the bundled sample KB (loaded offline from site-packages)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from config import load_settings
from core import kb
from core.db import Database
from interceptor.decide import decide
from interceptor.index import KBIndex
from interceptor.kb_import import articles_at, import_articles
from interceptor.lexical import BM25, tokenize
from interceptor.scorer import KBScorer, build_scorer
from interceptor.types import Policy, Verdict

ROOT = Path(__file__).resolve().parent.parent


def test_tokenize_drops_stop_words_and_folds_plurals() -> None:
    assert tokenize("How do I reset my Passwords?") == ["reset", "password"]


def test_bm25_ranks_the_matching_unit_first_and_normalises_by_its_ceiling() -> None:
    index = BM25(["reset your password", "send an invoice", "connect slack to your workspace"])
    scores, ceiling = index.scores("password reset")
    assert int(np.argmax(scores)) == 0
    assert 0 < scores[0] / ceiling <= 1.0
    assert index.scores("zebra")[0].sum() == 0.0


class CountingEmbedder:
    """A stand-in for the dense model: bag-of-words hashing vectors; counts what it encodes."""

    name = "fake"
    dim = 64

    def __init__(self) -> None:
        self.encoded: list[str] = []
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text) or ["empty"]:
                out[row, int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        self._cache.update(zip(missing, self.encode(missing)))
        return np.stack([self._cache[t] for t in texts])


def _articles() -> list[kb.KBArticle]:
    return [
        kb.KBArticle(1, "md", "reset", "Reset your password", None, (), ("Use the reset link we email you.",
                                                                          "Passwords need ten characters."), ()),
        kb.KBArticle(2, "md", "invoice", "Send an invoice", "https://x/invoice", (), ("Open Invoices, click Send.",),
                     ("how do I bill a client",)),
    ]


def test_hybrid_search_returns_articles_with_their_best_passage_and_both_scores() -> None:
    index = KBIndex(_articles(), CountingEmbedder())  # type: ignore[arg-type]
    r = index.search("bill my client")
    assert r.order[0] == 1 and r.dense is not None
    assert r.passage[0] == "Open Invoices, click Send."
    r = index.search("password characters")
    assert r.order[0] == 0 and r.passage[0] == "Passwords need ten characters."
    assert r.knn[0] > 0.5


def test_leave_one_out_ignores_the_stored_copy_of_the_request() -> None:
    index = KBIndex(_articles(), None)
    with_copy = index.search("how do I bill a client").lexical[0]
    assert with_copy > 0.0
    assert index.search("How do I  bill a client", exclude_same_text=True).lexical[0] < with_copy


def test_unanswered_past_tickets_count_against_similar_requests() -> None:
    index = KBIndex(_articles(), None, negatives=("reset the office wifi password",))
    r = index.search("office wifi password")
    assert r.negative > r.lexical[0] and r.knn_negative > 0.5


def test_scorer_candidates_and_lexical_suggestions(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        with db.session() as s:
            for a in _articles():
                kb.upsert_article(s, kb.ArticleInput("md", a.external_id, a.title, url=a.url, passages=a.passages,
                                                     questions=a.questions))
        scorer = KBScorer(db, None)
        scored = scorer.score("how can I send an invoice?", k=2)
        assert [c.external_id for c in scored.candidates] == ["invoice", "reset"]
        top = scored.candidates[0]
        assert top.url == "https://x/invoice" and top.passage == "Open Invoices, click Send." and top.dense is None
        assert 0.0 <= scored.confidence <= 1.0 and scored.kb_version == scorer.kb_version and scored.model == "bm25"
        assert {"lex1", "knn1"} <= set(scored.features)
        assert [c.external_id for c in scorer.suggest("invoice", k=5)] == ["invoice"]
        assert scorer.status["retrieval"] == "lexical" and scorer.status["calibration"] == "default"
    finally:
        db.dispose()


def test_an_empty_kb_scores_nothing(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        scored = KBScorer(db, None).score("anything")
        assert scored.candidates == () and scored.confidence == 0.0
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def sample_scorer(tmp_path_factory: pytest.TempPathFactory) -> KBScorer:
    import migrations

    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'hub.db'}"
    migrations.upgrade(url)
    db = Database(url)
    import_articles(db, articles_at(ROOT / "config" / "sample_kb"))
    return build_scorer(load_settings({"HUB_DATABASE_URL": url, "HUB_DENSE": "on"}), db)


@pytest.mark.parametrize(
    "text, verdict, title",
    [
        ("I forgot my password, how do I reset it?", Verdict.ANSWER, "Reset your password"),
        ("How do I invite my teammates?", Verdict.ANSWER, "Invite teammates"),
        ("What's the weather in Paris tomorrow?", Verdict.ESCALATE, None),
        ("Can you recommend a good pizza place?", Verdict.ESCALATE, None),
    ],
)
def test_the_sample_kb_answers_the_obvious_and_lets_the_rest_through(
    sample_scorer: KBScorer, text: str, verdict: Verdict, title: str | None
) -> None:
    scored = sample_scorer.score(text)
    decision = decide(text, scored, Policy(threshold=sample_scorer.threshold_for(0.95), guard_topics=False))
    assert sample_scorer.mode == "dense" and sample_scorer.calibration_source == "default"
    assert decision.verdict == verdict
    if title is not None:
        assert scored.candidates[0].title == title and scored.candidates[0].dense is not None


def test_retrieval_health_says_when_the_hub_is_lexical_only() -> None:
    from interceptor.scorer import retrieval_health

    assert retrieval_health(load_settings({"HUB_DENSE": "off"}))["retrieval"] == "lexical"
    assert retrieval_health(load_settings({"HUB_DENSE": "auto"})) == {"retrieval": "hybrid",
                                                                    "reason": "BM25 + all-MiniLM-L6-v2"}


def test_embeddings_persist_beside_a_sqlite_database(tmp_path: Path) -> None:
    from interceptor.scorer import embedding_store

    assert embedding_store(f"sqlite:///{tmp_path / 'hub.db'}") == tmp_path / "embeddings"
    assert embedding_store("sqlite://") is None
    assert embedding_store("postgresql+psycopg://u@h/db") is None


def test_a_restart_reuses_the_stored_embeddings(sample_scorer: KBScorer, tmp_path: Path) -> None:
    from interceptor.dense import Embedder

    embedder = sample_scorer.embedder
    assert embedder is not None
    texts = ["first unit text", "second unit text"]
    embedder.attach_store(tmp_path)
    vectors = embedder.encode_cached(texts)
    fresh = Embedder.__new__(Embedder)  # a second process: same model, empty memory cache
    fresh.__dict__.update(embedder.__dict__, _cache={}, _store=None)
    fresh.encode = lambda *a, **k: (_ for _ in ()).throw(AssertionError("re-embedded"))  # type: ignore[method-assign]
    fresh.attach_store(tmp_path)
    assert np.allclose(fresh.encode_cached(texts), vectors)
