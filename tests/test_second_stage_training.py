"""What the second stage learns from: pseudo-requests that read like requests, and the labelled history's
sections, with fits that leave a fold of that history out for an honest calibration."""

from __future__ import annotations

from core.kb import KBArticle, KBPassage
from interceptor.retrieval import pseudo
from interceptor.retrieval.history import Labelled, agreed_sections, feature_rows
from interceptor.retrieval.index import KBIndex, normalise
from interceptor.retrieval.training import PairTraining, text_fold

TOPICS = ["password", "invoice", "timer", "calendar", "export", "project", "billing", "slack", "receipt",
          "vacation", "report", "tag", "client", "budget", "rate", "team", "webhook", "token"]


def _article(n: int, topic: str) -> KBArticle:
    sections = (
        KBPassage(f"The {topic} settings hold every option of the {topic} in one place.", (), f"a{n}-s0"),
        KBPassage(f"To rename the {topic}, open its menu and type the new name.", (f"Rename the {topic}",), f"a{n}-s1"),
        KBPassage(f"A {topic} that does not load needs the page refreshed.", (f"Fix {topic} loading",), f"a{n}-s2"),
    )
    return KBArticle(n + 1, "md", f"a{n}", f"The {topic}", None, (), sections, ())


def test_no_pseudo_request_is_a_title_or_heading_word_for_word() -> None:
    articles = [_article(n, t) for n, t in enumerate(TOPICS)]
    own = {normalise(a.title) for a in articles} | {normalise(h) for a in articles for p in a.passages for h in p.heading_path}
    made = pseudo.pseudo_requests(articles)
    assert made and not {normalise(p.text) for p in made} & own


def test_a_repeated_request_stays_in_one_history_fold() -> None:
    assert text_fold("How do I  rename the timer?") == text_fold("how do i rename the TIMER?")
    assert len({text_fold(f"request number {n}") for n in range(40)}) == pseudo.FOLDS


def test_the_history_s_sections_teach_the_second_stage_which_passage_answers() -> None:
    articles = [_article(n, t) for n, t in enumerate(TOPICS)]
    index = KBIndex(articles, None)
    # this help desk's agents answer "rename" requests with the settings overview, not the rename steps
    history = [Labelled(f"how can I rename my {t}", f"a{n}", None, (f"a{n}-s0",)) for n, t in enumerate(TOPICS[:14])]
    ask = "how can I rename my token from the settings page"  # unseen article; more than its heading

    def chosen(training: PairTraining) -> int:
        return index.with_reranker(training.fit()).search(ask).passage_at[0]

    assert chosen(PairTraining(index, articles)) == 1  # the KB alone: the heading that matches
    assert chosen(PairTraining(index, articles, history)) == 0  # the history: what people here were given


def test_a_request_answered_from_two_sections_counts_either_as_right() -> None:
    articles = [_article(n, t) for n, t in enumerate(TOPICS)]
    index = KBIndex(articles, None)
    # two agents answered the same request (as typed twice) from different sections of the timer article
    history = [Labelled("my timer will not load, can I rename it?", "a2", None, ("a2-s1",)),
               Labelled("My timer will not load,  can I rename it?", "a2", None, ("a2-s2",)),
               Labelled("how can I rename my invoice", "a1", None, ("a1-s1",))]
    agreed = agreed_sections(history)
    assert [i.sections for i in agreed] == [("a2-s1", "a2-s2"), ("a2-s1", "a2-s2"), ("a1-s1",)]
    assert sum(feature_rows(index, history)[1][:2]) == 1  # one quote, one of the two labels wrong
    assert feature_rows(index, agreed)[1][:2] == [True, True]


def test_each_past_request_is_scored_by_a_second_stage_that_did_not_learn_from_it() -> None:
    articles = [_article(n, t) for n, t in enumerate(TOPICS)]
    index = KBIndex(articles, None)
    history = [Labelled(f"how can I rename my {t}", f"a{n}", None, (f"a{n}-s0",)) for n, t in enumerate(TOPICS)]
    training = PairTraining(index, articles, history)
    learnt = [g for g in training.groups if g.fold is not None]
    assert len(learnt) == len(TOPICS)
    for fold in range(pseudo.FOLDS):
        held = sum(1 for g in learnt if g.fold == fold)
        left = training.fit(without_fold=fold)
        assert left is not None and left.examples == training.fit().examples - held  # type: ignore[union-attr]
    seen: list[int] = []
    feature_rows(index, history, lambda fold: seen.append(fold) or training.fit(without_fold=fold))
    assert sorted(seen) == list(range(pseudo.FOLDS))


def test_a_request_naming_only_the_article_s_topic_gets_its_opening_section() -> None:
    def article(n: int, topic: str) -> KBArticle:
        a = _article(n, topic)
        return KBArticle(a.id, a.source, a.external_id, f"{topic.capitalize()} settings", None, (), a.passages, ())

    articles = [article(n, t) for n, t in enumerate(TOPICS)]
    index = KBIndex(articles, None)
    index = index.with_reranker(PairTraining(index, articles).fit())
    for asked, title, passage in [("what are the webhook settings?", "Webhook settings", 0),
                                  ("tell me about budget settings", "Budget settings", 0),
                                  ("how can I rename my webhook", "Webhook settings", 1),
                                  ("the budget does not load", "Budget settings", 2)]:
        r = index.search(asked)
        assert (index.articles[r.order[0]].title, r.passage_at[0]) == (title, passage), asked


def test_calibration_requests_name_half_of_their_topics_loosely() -> None:
    texts = [f"Change the {t} settings for every workspace" for t in TOPICS] + ["Reset password", "Sync errors"]
    loose = [pseudo.vague(t) for t in texts]
    assert loose == [pseudo.vague(t) for t in texts]  # stable
    changed = [(t, v) for t, v in zip(texts, loose) if v != t]
    assert 0.25 * len(TOPICS) <= len(changed) <= 0.75 * len(TOPICS)
    for t, v in changed:  # one content word left out, nothing else
        assert len(v.split()) == len(t.split()) - 1 and set(v.split()) < set(t.split())
    assert loose[-2:] == ["Reset password", "Sync errors"]  # two content words: named as they stand


def test_a_history_names_markdown_sections_by_heading_path_and_the_opening_one_by_the_title() -> None:
    from interceptor.retrieval.rerank import section_key
    from interceptor.retrieval.training import history_pseudo

    opening = (KBPassage("Budgets cap what a project may spend.", ()), KBPassage("They reset each month.", ()))
    article = KBArticle(1, "md", "budgets.md", "Project budgets", None, (),
                        opening + (KBPassage("Open the project and type a new cap.", ("Change a budget", "From the web")),), ())
    assert [section_key(article, j) for j in range(3)] == ["Project budgets", "Project budgets", "Change a budget › From the web"]
    index = KBIndex([article], None)
    named = history_pseudo(index, [Labelled("what is a budget", "budgets.md", None, ("Project budgets",)),
                                   Labelled("new cap?", "budgets.md", None, ("Change a budget › From the web",)),
                                   Labelled("huh", "budgets.md", None, ("No such section",))])
    assert [p.passages for p in named] == [frozenset({0, 1}), frozenset({2})]  # an unknown name teaches nothing
