"""Passage-level scoring: the answer quotes exactly the passage the confidence is about, the second stage
picks it among the article's sections, and a KB without history calibrates from its own content."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.db import Database
from core.kb import KBArticle, KBPassage
from interceptor.compose import compose_answer
from interceptor.retrieval import coldstart, pseudo
from interceptor.retrieval.features import extract
from interceptor.retrieval.index import BATCH, KBIndex, Retrieval, top_k
from interceptor.retrieval.rerank import PAIR_FEATURES, pair_features

TOPICS = ["password", "invoice", "timer", "calendar", "export", "project", "billing", "slack", "invoice template",
          "vacation", "report", "tag", "client", "budget", "rate", "team", "webhook", "token"]


WORDS = ("amber basil cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon meadow nectar onyx "
         "pepper quartz raven saffron tundra umber violet willow xenon yarrow zephyr acorn birch cobalt dune").split()


def _article(n: int, topic: str) -> KBArticle:
    w = [WORDS[(n * 3 + k) % len(WORDS)] for k in range(6)]  # words of this article only (mostly)
    sections = [
        KBPassage(f"The {topic} keeps {w[0]} and {w[1]} records for every workspace.", (), f"a{n}-s0"),
        KBPassage(f"To change the {topic}, open the {w[2]} panel and press save.", (f"Change the {topic}",), f"a{n}-s1"),
        KBPassage(f"If the {topic} does not update, reset the {w[3]} {w[4]} cache.",
                  (f"Troubleshoot {topic} problems",), f"a{n}-s2"),
    ]
    return KBArticle(n + 1, "md", f"a{n}", f"Manage the {topic}", None, (), tuple(sections), ())


def test_the_candidate_quotes_the_passage_its_section_heading_names() -> None:
    index = KBIndex([_article(n, t) for n, t in enumerate(TOPICS[:4])], None)
    r = index.search("troubleshoot timer problems")
    article = index.articles[r.order[0]]
    assert article.external_id == "a2" and r.passage_at[0] == 2
    assert r.passage[0] == article.passages[2].text  # the quoted text is the scored passage, nothing around it
    features = extract(r)
    assert features["p_fused"] == r.pair[0].fused and features["s2_share"] == r.pair[0].share


def test_the_scorer_candidate_and_the_answer_carry_that_passage(sqlite_url: str) -> None:
    from core import kb
    from core.db import Database
    from interceptor.retrieval.scorer import KBScorer

    import migrations

    migrations.upgrade(sqlite_url)
    db = Database(sqlite_url)
    try:
        with db.session() as s:
            for n, topic in enumerate(TOPICS[:4]):
                a = _article(n, topic)
                kb.upsert_article(s, kb.ArticleInput("md", a.external_id, a.title, passages=a.passages))
        top = KBScorer(db, None, cold_start=False).score("how do I change the calendar").candidates[0]
    finally:
        db.dispose()
    assert (top.external_id, top.section_id, top.heading_path) == ("a3", "a3-s1", ("Change the calendar",))
    assert top.passage == "To change the calendar, open the lagoon panel and press save."
    assert compose_answer(top, 3000).startswith(top.passage + "\n\nSource: Manage the calendar")


def test_pair_features_say_where_a_passage_sits_and_how_far_it_trails() -> None:
    raw = np.array([[0.5, 0.2, 0.6, 0.0], [0.8, 0.4, 0.9, 0.7], [0.3, 0.1, 0.4, 0.2]])
    rows = pair_features(raw)
    col = {name: rows[:, i] for i, name in enumerate(PAIR_FEATURES)}
    assert list(col["first"]) == [1.0, 0.0, 0.0] and list(col["position"]) == [0.0, 0.5, 1.0]
    assert list(col["gap_fused"]) == [-0.30000000000000004, 0.0, -0.5] and col["gap_heading"][1] == 0.0


def test_pseudo_requests_come_from_titles_and_headings_but_not_from_headings_two_articles_share() -> None:
    a, b = _article(0, "invoice"), _article(1, "timer")
    shared = KBArticle(3, "md", "a2", "Sync errors", None, (),
                       (KBPassage("Reconnect the account.", ("Change the invoice",), "a2-s0"),), ())
    texts = {p.text for p in pseudo.pseudo_requests([a, b, shared], sentences=False,
                                                      skip=pseudo.shared_headings([a, b, shared]))}

    def made_of(heading: str) -> bool:
        return any(heading.lower() in t.lower() for t in texts)

    assert made_of("manage the invoice") and made_of("troubleshoot timer problems")  # wrapped as people write
    assert not made_of("change the invoice")  # two articles have that heading: ambiguous
    title = next(p for p in pseudo.pseudo_requests([a]) if "manage the invoice" in p.text.lower())
    assert title.passages == frozenset({0})  # a title is answered by the opening section


def test_without_titles_only_an_article_of_one_section_is_asked_its_title() -> None:
    """A fresh install does not ask the title of an article of several sections: which section answers it
    is a guess. An article of one section has no other to guess."""
    several = _article(0, "invoice")
    one = KBArticle(2, "md", "a1", "Manage the timer", None, (), (KBPassage("Press start on the timer.", (), "a1-s0"),), ())

    def asked(titles: bool) -> set[str]:
        made = pseudo.pseudo_requests([several, one], sentences=False, titles=titles)
        return {a for a, title in (("several", "manage the invoice"), ("one", "manage the timer"))
                if any(title in p.text.lower() for p in made)}

    assert asked(True) == {"several", "one"}
    assert asked(False) == {"one"}
    headings = {p.text for p in pseudo.pseudo_requests([several], sentences=False, titles=False)}
    assert len(headings) == 2  # its section headings are still asked


def test_a_kb_written_to_one_template_still_calibrates_itself_from_its_titles() -> None:
    """Every article's headings are the template's ("Steps", "Troubleshooting"): shared, so no heading is a
    pseudo-request, and without titles there would be none. The titles are asked then, as before."""
    articles = [KBArticle(n + 1, "md", f"t{n}", f"Manage the {topic}", None, (), (
        KBPassage(f"The {topic} keeps {WORDS[n % len(WORDS)]} records.", (), f"t{n}-s0"),
        KBPassage(f"Open the {topic} panel and press save.", ("Steps",), f"t{n}-s1"),
        KBPassage(f"Reset the {topic} cache if it does not update.", ("Troubleshooting",), f"t{n}-s2"),
    ), ()) for n, topic in enumerate(TOPICS)]
    assert pseudo.pseudo_requests(articles, sentences=False, titles=False, skip=pseudo.shared_headings(articles)) == []
    reranker, calibrator = coldstart.fit_cold(KBIndex(articles, None))
    assert calibrator.examples > 20 and 0 < calibrator.positives < calibrator.examples


def test_a_kb_without_history_calibrates_itself_and_holds_some_articles_out_as_gaps() -> None:
    articles = [_article(n, t) for n, t in enumerate(TOPICS)]
    index = KBIndex(articles, None)
    reranker, calibrator = coldstart.fit_cold(index)
    assert reranker is not None and reranker.examples >= 10
    assert calibrator.examples > 20 and 0 < calibrator.positives < calibrator.examples  # gaps: wrong by construction
    assert {pseudo.fold(a) for a in articles} == set(range(pseudo.FOLDS))
    chosen = index.with_reranker(reranker).search("change the budget")
    assert index.articles[chosen.order[0]].external_id == "a13" and chosen.passage_at[0] == 1


class RandomEmbedder:
    """A stand-in for the dense model: a random unit vector per text (no two units tie)."""

    name, dim, precision = "random", 32, "float32"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.array([np.random.default_rng(list(t.encode())).standard_normal(self.dim) for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_cached(self, texts: list[str], store: object = None) -> np.ndarray:
        return self.encode(texts)


def test_articles_left_out_of_a_search_are_as_if_they_were_not_in_the_kb() -> None:
    # articles alike in shape and one-word requests: BM25's statistics, which still count what is left out,
    # cancel (the unanswered tickets are one more such article's units, so the mean unit length stays put)
    articles = [replace(_article(n, t), questions=(t,)) for n, t in enumerate(TOPICS) if " " not in t]
    gone = [i for i in range(len(articles)) if i % 3 == 0]
    negatives = tuple(KBIndex([replace(_article(99, "wifi"), questions=("wifi",))], None).texts)
    full = KBIndex(articles, RandomEmbedder(), negatives)  # type: ignore[arg-type]
    kept = KBIndex([a for i, a in enumerate(articles) if i not in gone], RandomEmbedder(), negatives)  # type: ignore[arg-type]

    def seen(index: KBIndex, r: Retrieval) -> tuple[object, ...]:
        ids = tuple(index.articles[i].external_id for i in r.order)
        tops = (index.articles[r.lexical_top].external_id, index.articles[r.dense_top].external_id)
        return ids, tops, r.passage, r.passage_at

    for text in ("password", "the workspace", "troubleshoot", "lagoon", "how do I export"):
        left_out = full.search(text, leave_out=gone)
        absent = kept.search(text)
        assert seen(full, left_out) == seen(kept, absent)
        assert left_out.knn == pytest.approx(absent.knn) and extract(left_out) == pytest.approx(extract(absent))
    whole = full.search("password")  # the password article (left out) would rank, and top both lists
    assert 0 in gone and 0 in whole.order and whole.lexical_top == whole.dense_top == 0
    nothing = full.search("password", leave_out=range(len(articles)))
    assert nothing.order == () and nothing.lexical_top == nothing.dense_top == -1 and nothing.knn_negative == 1.0
    nothing = KBIndex(articles, None).search("password", leave_out=range(len(articles)))
    assert nothing.order == () and nothing.lexical_top == -1 and nothing.knn_negative == 0.0


def test_the_sample_kb_calibrates_itself(sqlite_url: str) -> None:
    from pathlib import Path

    from core import kb
    from core.db import Database
    from interceptor.kb.importer import articles_at, import_articles

    db = Database(sqlite_url)
    try:
        import_articles(db, articles_at(Path(__file__).resolve().parent.parent / "config" / "sample_kb"))
        with db.session() as s:
            index = KBIndex(kb.load_articles(s), None)
    finally:
        db.dispose()
    reranker, calibrator = coldstart.fit_cold(index)
    assert reranker is not None and calibrator.examples > 100 and 0 < calibrator.positives < calibrator.examples
    chosen = index.with_reranker(reranker)

    def confidence(text: str) -> float:
        return calibrator.confidence(extract(chosen.search(text)))

    assert confidence("I forgot my password, how do I reset it?") > confidence("What's the weather in Paris tomorrow?")


def test_a_small_kb_edit_reuses_the_cold_start_and_a_grown_kb_refits_it(sqlite_url: str) -> None:
    import migrations
    from core import kb
    from core.db import Database
    from interceptor.retrieval.scorer import KBScorer

    def store(articles: list[KBArticle]) -> None:
        with db.session() as s:
            for a in articles:
                kb.upsert_article(s, kb.ArticleInput("md", a.external_id, a.title, passages=a.passages))

    migrations.upgrade(sqlite_url)
    db = Database(sqlite_url)
    try:
        store([_article(n, t) for n, t in enumerate(TOPICS)])
        scorer = KBScorer(db, None)
        first = scorer.calibration_source
        assert first.startswith("coldstart:")
        edited = _article(0, TOPICS[0])
        store([KBArticle(1, "md", "a0", "Manage the password safely", None, (), edited.passages, ())])
        assert scorer.refresh(force=True) and scorer.calibration_source == first  # 1 of 18 changed: reused
        store([_article(n + 20, f"{t} extra") for n, t in enumerate(TOPICS)])
        assert scorer.refresh(force=True) and scorer.calibration_source not in (first, "default")  # doubled: refit
    finally:
        db.dispose()


def _topics_db(url: str) -> Database:
    """A migrated database at ``url`` holding an article for each of :data:`TOPICS`."""
    import migrations
    from core import kb

    migrations.upgrade(url)
    db = Database(url)
    with db.session() as s:
        for n, t in enumerate(TOPICS):
            a = _article(n, t)
            kb.upsert_article(s, kb.ArticleInput("md", a.external_id, a.title, passages=a.passages))
    return db


def test_a_cold_start_fitted_by_an_earlier_method_is_fitted_again_once(sqlite_url: str) -> None:
    """A new version of the hub does not keep serving the threshold an earlier cold-start method stored."""
    from sqlalchemy import select, update

    from core.db import CalibrationRow
    from interceptor.retrieval.scorer import KBScorer

    db = _topics_db(sqlite_url)
    try:
        first = KBScorer(db, None).calibration_source
        with db.session() as s:
            row = s.scalars(select(CalibrationRow)).one()
            assert row.params["cold_method"] == coldstart.METHOD
            earlier = {k: v for k, v in row.params.items() if k != "cold_method"}  # as the first method stored it
            s.execute(update(CalibrationRow).where(CalibrationRow.id == row.id).values(params=earlier))
        refitted = KBScorer(db, None).calibration_source
        again = KBScorer(db, None).calibration_source
        with db.session() as s:
            stored = s.scalars(select(CalibrationRow).order_by(CalibrationRow.id)).all()
        assert first == f"coldstart:{stored[0].id}" and len(stored) == 2
        assert refitted == again == f"coldstart:{stored[1].id}" and stored[1].params["cold_method"] == coldstart.METHOD
    finally:
        db.dispose()


def test_processes_booting_together_fit_the_cold_start_once_and_serve_the_same_one(sqlite_url: str) -> None:
    """``hub serve``'s web and job processes (or several workers) boot on one KB at once: one fits its cold
    start, the others wait for it and serve what it stored."""
    import threading

    from sqlalchemy import select

    from core.db import CalibrationRow, LeaseRow
    from interceptor.retrieval.scorer import KBScorer

    db = _topics_db(sqlite_url)
    try:
        start, sources = threading.Barrier(3), []

        def boot() -> None:
            start.wait()
            sources.append(KBScorer(db, None).calibration_source)

        booting = [threading.Thread(target=boot) for _ in range(3)]
        for thread in booting:
            thread.start()
        for thread in booting:
            thread.join(timeout=120)
        with db.session() as s:
            stored = s.scalars(select(CalibrationRow.id)).all()
            leases = s.scalars(select(LeaseRow.name).where(LeaseRow.name.like("kb.coldstart:%"))).all()
        assert len(stored) == 1 and sources == [f"coldstart:{stored[0]}"] * 3
        assert not leases  # every fitter gave its lease up
    finally:
        db.dispose()


def test_a_kb_too_small_to_calibrate_itself_keeps_the_default_and_a_restart_does_not_retry(sqlite_url: str) -> None:
    import migrations
    from sqlalchemy import select

    from core import kb
    from core.db import CalibrationRow, Database
    from interceptor.retrieval.scorer import KBScorer

    migrations.upgrade(sqlite_url)
    db = Database(sqlite_url)
    try:
        with db.session() as s:
            a = _article(0, TOPICS[0])
            kb.upsert_article(s, kb.ArticleInput("md", a.external_id, a.title, passages=a.passages))

        def attempts() -> list[CalibrationRow]:
            with db.session() as s:
                return list(s.scalars(select(CalibrationRow)))

        assert KBScorer(db, None).calibration_source == "default"  # one article: nothing to hold out as a gap
        [remembered] = attempts()
        assert remembered.params["fallback"] and remembered.params["coldstart"]
        assert KBScorer(db, None).calibration_source == "default" and len(attempts()) == 1  # not tried again
    finally:
        db.dispose()


@given(st.lists(st.sampled_from([-np.inf, 0.0, 0.25, 0.5, 1.0]), max_size=40), st.integers(0, 45))
def test_top_k_is_the_head_of_a_stable_sort(values: list[float], k: int) -> None:
    scores = np.array(values, dtype=np.float64)
    assert top_k(scores, k).tolist() == np.argsort(-scores, kind="stable")[:k].tolist()


def test_a_batch_of_searches_finds_what_each_search_finds() -> None:
    articles = [replace(_article(n, t), questions=(f"where is my {t}",)) for n, t in enumerate(TOPICS)]
    index = KBIndex(articles, RandomEmbedder())  # type: ignore[arg-type]
    asks = [f"how do I fix the {t}" for t in TOPICS] * 4 + [f"where is my {t}" for t in TOPICS]
    assert len(asks) > BATCH  # more than one matrix product
    exclude = [n % 2 == 0 for n in range(len(asks))]
    for n, batched in enumerate(index.search_many(asks, k=3, exclude_same_text=exclude, leave_out=[1, 2])):
        one = index.search(asks[n], k=3, exclude_same_text=exclude[n], leave_out=[1, 2])
        assert (batched.order, batched.passage_at) == (one.order, one.passage_at)
        assert extract(batched) == pytest.approx(extract(one), abs=1e-6)  # float32 products, batched or not


def test_a_request_that_is_a_section_s_heading_quotes_that_section() -> None:
    letters = KBArticle(1, "md", "letters", "Respond to insurance letters and orders", None, (), (
        KBPassage("You received an insurance letter or order from us. Respond to the letter or order: a letter "
                  "or order you do not respond to leads to a suspended registration.", ("I received an insurance letter or order",), "s0"),
        KBPassage("Send the completed form back within ten days, with proof of coverage.",
                  ("How do I respond to the letter or order?",), "s1"),
        KBPassage("Ignoring it suspends your registration.", ("What happens if I ignore it?",), "s2"),
    ), ())
    others = [_article(n, t) for n, t in enumerate(TOPICS)]
    index = KBIndex([letters, *others], None)
    assert index.search("How do I respond to the letter or order?").passage_at[0] == 1
    assert index.search("how do i respond to the letter or order").passage_at[0] == 1
    # a request that only shares the section's words with others is not named by it: the best passage stands
    assert index.search("letter or order received, respond how?").passage_at[0] == 0
