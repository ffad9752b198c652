"""Retrieval: BM25, the hybrid index with a stand-in embedder, the scorer's candidates, and the real
MiniLM model on the bundled sample KB (loaded offline from site-packages)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from core import kb
from core.db import Database
from interceptor.decide import decide
from interceptor.retrieval.dense import Embedder
from interceptor.retrieval.index import KBIndex
from interceptor.kb.importer import articles_at, import_articles
from interceptor.retrieval.lexical import BM25, tokenize
from interceptor.retrieval.scorer import KBScorer
from interceptor.types import Policy, Verdict

ROOT = Path(__file__).resolve().parent.parent


def test_tokenize_drops_stop_words_and_folds_plurals() -> None:
    assert tokenize("How do I reset my Passwords?") == ["reset", "password"]


@pytest.mark.parametrize("forms", [
    "file files",  # a final e: "files" lost its "es" while "file" kept its e, so the two never met
    "update updated updating updates",
    "invoice invoices",
    "change changed changing changes",
    "map mapping mapped maps",  # a doubled consonant before -ing/-ed
    "stop stopped stopping",
    "bill billing billed",  # ... but a doubled l, s or z stays
    "add added adding",
    "company companies",
])
def test_every_form_of_a_word_meets_in_one_term(forms: str) -> None:
    assert len({term for word in forms.split() for term in tokenize(word)}) == 1


@pytest.mark.parametrize(("written", "asked"), [
    ("Connect to campus Wi-Fi", "wifi keeps dropping"),
    ("Change your e-mail address", "my email bounces"),
    ("Download your W-2 form", "where is my w2"),
    ("Sign-in problems", "signin fails"),
])
def test_a_hyphenated_word_meets_the_word_written_together(written: str, asked: str) -> None:
    index = BM25([written, "Printing costs", "Reset your password"])
    scores, _ = index.scores(asked)
    assert int(np.argmax(scores)) == 0 and scores[0] > 0
    scores, _ = BM25([asked, "Printing costs", "Reset your password"]).scores(written)  # and the other way round
    assert int(np.argmax(scores)) == 0 and scores[0] > 0


@pytest.mark.parametrize("text", ["2024-05-01", "use --force", "well - known"])
def test_dates_and_dashes_are_not_joined(text: str) -> None:
    assert tokenize(text) == [t for word in text.split() for t in tokenize(word)]


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

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text) or ["empty"]:
                out[row, int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_cached(self, texts: list[str], store: object = None) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        self._cache.update(zip(missing, self.encode(missing)))
        return np.stack([self._cache[t] for t in texts])


def _articles() -> list[kb.KBArticle]:
    return [
        kb.KBArticle(1, "md", "reset", "Reset your password", None, (), (kb.KBPassage("Use the reset link we email you."),
                                                                          kb.KBPassage("Passwords need ten characters.")), ()),
        kb.KBArticle(2, "md", "invoice", "Send an invoice", "https://x/invoice", (), (kb.KBPassage("Open Invoices, click Send."),),
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


def test_suggestions_are_served_from_the_index_in_hand_while_it_is_rebuilt(sqlite_url: str) -> None:
    # /api/v1/suggest waited for the rebuild (minutes of embedding for a large KB), holding a web thread each
    db = Database(sqlite_url)
    try:
        with db.session() as s:
            for a in _articles():
                kb.upsert_article(s, kb.ArticleInput("md", a.external_id, a.title, url=a.url, passages=a.passages))
        scorer = KBScorer(db, None)
        rebuilding, done = threading.Event(), threading.Event()
        holder = threading.Thread(target=lambda: (scorer._lock.acquire(), rebuilding.set(), done.wait(60), scorer._lock.release()))
        holder.start()  # what a rebuild holds while it embeds
        assert rebuilding.wait(10)
        suggested: list[str] = []
        asking = threading.Thread(target=lambda: suggested.extend(c.external_id for c in scorer.suggest("invoice")))
        asking.start()
        asking.join(10)
        done.set()
        holder.join()
        assert suggested == ["invoice"]
    finally:
        db.dispose()


def test_an_empty_kb_scores_nothing(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        scored = KBScorer(db, None).score("anything")
        assert scored.candidates == () and scored.confidence == 0.0
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "text, verdict, title",
    [
        ("I forgot my password, how do I reset it?", Verdict.ANSWER, "Reset your password"),
        ("How do I invite my teammates?", Verdict.ANSWER, "Invite teammates"),
        ("How do I export a report to CSV?", Verdict.ANSWER, "Export reports to CSV or PDF"),  # the README's curl
        ("How do I change my plan?", Verdict.ANSWER, "Change your plan (upgrade/downgrade)"),  # the README's
        # ordinary wording a fresh install answers (its calibration does not ask titles: see coldstart.fit_cold)
        ("how do I delete a project", Verdict.ANSWER, "Archive or delete a project"),
        ("Does the mobile app work without internet?", Verdict.ANSWER, "Mobile app offline mode"),
        ("need to add our VAT number to invoices", Verdict.ANSWER, "Update billing details and VAT number"),
        ("What's the weather in Paris tomorrow?", Verdict.ESCALATE, None),
        ("Can you recommend a good pizza place?", Verdict.ESCALATE, None),
    ],
)
def test_the_sample_kb_answers_the_obvious_and_lets_the_rest_through(
    sample_scorer: KBScorer, text: str, verdict: Verdict, title: str | None
) -> None:
    scored = sample_scorer.score(text)
    # the sample KB's own content (36 articles, no history) backs the default promise, 0.95 (README: a fresh install)
    decision = decide(text, scored, Policy(threshold=sample_scorer.threshold_for(0.95), guard_topics=False))
    assert sample_scorer.mode == "dense" and sample_scorer.calibration_source.startswith("coldstart:")
    assert decision.verdict == verdict
    if title is not None:
        assert scored.candidates[0].title == title and scored.candidates[0].dense is not None


def test_length_batches_group_similar_lengths_within_the_budget() -> None:
    from interceptor.retrieval.dense import length_batches

    texts = ["p" * 1500] * 3 + ["t" * 40] * 300 + ["q" * 700] * 20
    batches = length_batches(texts, max_chars=4000, max_count=64)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))  # each text exactly once
    assert [len(texts[b[0]]) for b in batches] == sorted((len(texts[b[0]]) for b in batches), reverse=True)
    for batch in batches:
        assert len(batch) <= 64 and (len(batch) == 1 or len(batch) * max(len(texts[i]) for i in batch) <= 4000)
    assert len(batches[0]) == 2  # two long passages fit the budget, a third does not
    assert max(len(b) for b in batches) == 64 and len(batches) <= 12  # titles go many at a time


def test_batched_vectors_match_one_text_at_a_time(sample_scorer: KBScorer) -> None:
    embedder = sample_scorer.embedder
    assert embedder is not None
    texts = ["Reset your password", "Export reports to CSV or PDF. Open Reports, choose a range, then Export.",
             "Invite teammates"] * 12
    batched = embedder.encode(texts)
    single = np.stack([embedder.encode_query(t) for t in texts])
    assert batched.shape == (36, embedder.dim) and batched.dtype == np.float32
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert float((batched * single).sum(axis=1).min()) > 0.999  # padding in a batch does not move a vector


def test_bfloat16_vectors_stay_close_to_float32_ones() -> None:
    texts = [a.title + ". " + a.body[:600] for a in articles_at(ROOT / "config" / "sample_kb")]
    exact = Embedder(precision="float32")
    fast = Embedder.__new__(Embedder)
    fast.__dict__.update(exact.__dict__, precision="bfloat16", _cache={})
    cosine = (exact.encode(texts) * fast.encode(texts)).sum(axis=1)
    assert exact.precision == "float32" and float(cosine.min()) > 0.999
    with pytest.raises(ValueError, match="precision"):
        Embedder(precision="half")


def _stored_keys(db: Database) -> dict[str, set[str]]:
    from sqlalchemy import select

    from core.db import EmbeddingRow

    with db.session() as s:
        rows = s.execute(select(EmbeddingRow.model, EmbeddingRow.text_sha1, EmbeddingRow.vector)).all()
    assert all(len(vector) == 384 * 4 for _, _, vector in rows)  # float32 MiniLM vectors
    out: dict[str, set[str]] = {}
    for model, key, _ in rows:
        out.setdefault(model, set()).add(key)
    return out


def _fresh_process(embedder: Embedder, *, embeds: bool) -> Embedder:
    """The same model with an empty memory cache, as in another process; ``embeds=False``: it fails the
    test if it has to embed anything."""
    fresh = Embedder.__new__(Embedder)
    fresh.__dict__.update(embedder.__dict__, _cache={})
    if not embeds:
        fresh.encode = lambda *a, **k: (_ for _ in ()).throw(AssertionError("re-embedded"))  # type: ignore[method-assign]
    return fresh


def test_the_index_keeps_its_vectors_in_the_database_for_other_processes(
    sample_scorer: KBScorer, database_url: str
) -> None:
    from interceptor.retrieval.dense import text_key

    embedder = sample_scorer.embedder
    assert embedder is not None
    db = Database(database_url)
    try:
        import_articles(db, articles_at(ROOT / "config" / "sample_kb"))
        scorer = KBScorer(db, embedder)
        model = f"all-MiniLM-L6-v2|{embedder.precision}"
        assert _stored_keys(db) == {model: {text_key(t) for t in scorer.index.texts}}

        restarted = KBScorer(db, _fresh_process(embedder, embeds=False))  # a restart embeds nothing
        assert np.allclose(restarted.index.vectors, scorer.index.vectors)

        changed = dataclasses.replace(next(iter(articles_at(ROOT / "config" / "sample_kb"))), title="A renamed article")
        import_articles(db, [changed])
        scorer.refresh(force=True)  # the stale title's vectors go; the new ones are stored
        assert _stored_keys(db) == {model: {text_key(t) for t in scorer.index.texts}}
        assert "A renamed article" in scorer.index.texts
    finally:
        db.dispose()


@pytest.fixture
def small_chunks(sample_scorer: KBScorer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Embedder, Database]]:
    """The sample KB's model and an empty database; the embedder saves every 2 texts and a waiting process
    looks again every 50 ms, so chunking and claims show on a handful of texts."""
    from interceptor.retrieval import dense

    embedder = sample_scorer.embedder
    assert embedder is not None
    monkeypatch.setattr(dense, "_SAVE_EVERY", 2)
    monkeypatch.setattr(dense, "_WAIT_SECONDS", 0.05)
    db = Database(sqlite_url)
    yield embedder, db
    db.dispose()


def _units(prefix: str) -> list[str]:
    return [f"{prefix} {n} about {word}" for n, word in enumerate(["invoices", "passwords", "exports", "teams", "plans"])]


def test_an_interrupted_embedding_run_resumes_from_the_stored_vectors(small_chunks: tuple[Embedder, Database]) -> None:
    from interceptor.retrieval.vectors import DatabaseVectors

    embedder, db = small_chunks
    texts = _units("unit")
    store = DatabaseVectors(db, embedder)
    crashing = _fresh_process(embedder, embeds=True)
    calls: list[int] = []
    real_encode = crashing.encode

    def encode_then_crash(batch: list[str]) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is stopped during the second chunk
        return real_encode(batch)

    crashing.encode = encode_then_crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        crashing.encode_cached(texts, store)
    assert sum(len(keys) for keys in _stored_keys(db).values()) == 2  # the first chunk was saved

    resumed = _fresh_process(embedder, embeds=True)
    encoded: list[str] = []
    resumed.encode = lambda batch: (encoded.extend(batch), real_encode(batch))[1]  # type: ignore[method-assign]
    vectors = resumed.encode_cached(texts, store)
    assert len(encoded) == 3 and vectors.shape == (5, embedder.dim)
    assert float((vectors * embedder.encode(texts)).sum(axis=1).min()) > 0.999


def test_a_second_process_waits_for_the_one_embedding_the_kb(small_chunks: tuple[Embedder, Database]) -> None:
    import threading

    from interceptor.retrieval.dense import text_key
    from interceptor.retrieval.vectors import DatabaseVectors

    embedder, db = small_chunks
    texts = _units("waiting unit")
    first, second = DatabaseVectors(db, embedder), DatabaseVectors(db, embedder)
    assert first.claim() and not second.claim()  # the first process is embedding this KB
    waiting = _fresh_process(embedder, embeds=False)  # fails the test if it embeds anything itself
    result: dict[str, np.ndarray] = {}
    thread = threading.Thread(target=lambda: result.update(vectors=waiting.encode_cached(texts, second)))
    thread.start()
    thread.join(timeout=0.3)
    assert thread.is_alive() and not result  # waiting: nothing stored yet, and it may not embed
    first.save(dict(zip((text_key(t) for t in texts[:3]), embedder.encode(texts[:3]))))
    first.save(dict(zip((text_key(t) for t in texts[3:]), embedder.encode(texts[3:]))))
    first.release()
    thread.join(timeout=10)
    assert not thread.is_alive() and result["vectors"].shape == (5, embedder.dim)
    assert second.claim()  # the waiting process took nothing it did not need: the claim is free


def test_a_claim_left_by_a_dead_process_expires_and_another_embeds(
    small_chunks: tuple[Embedder, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from interceptor.retrieval import vectors as vector_store
    from interceptor.retrieval.vectors import DatabaseVectors

    embedder, db = small_chunks
    monkeypatch.setattr(vector_store, "EMBED_LEASE", timedelta(seconds=0.5))
    texts = _units("orphaned unit")
    assert DatabaseVectors(db, embedder).claim()  # then the process dies without releasing it
    survivor = _fresh_process(embedder, embeds=True)
    vectors = survivor.encode_cached(texts, DatabaseVectors(db, embedder))
    assert vectors.shape == (5, embedder.dim) and len(_stored_keys(db)[f"all-MiniLM-L6-v2|{embedder.precision}"]) == 5
