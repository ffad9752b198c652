"""A fresh install's calibration, learnt from the KB's own content (no labelled history needed, nothing
fitted on another KB).

Articles are split by a stable hash into ``FOLDS`` folds. In turn, one fold's articles are left out of the
search (knowledge gaps: a right answer to their pseudo-requests is impossible, so every answer is wrong) and
the next fold's pseudo-requests are asked (answerable), scored by a second stage that did not learn from
their articles (:class:`interceptor.retrieval.training.PairTraining`). The calibrator is fitted on every
fold's rows, so its precision curve is measured on requests neither it nor the second stage had seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Collection

import numpy as np

from core.kb import KBArticle, StoredCalibration, load_calibration
from interceptor.retrieval.calibration import Calibrator, fit
from interceptor.retrieval.features import feature_names, sign
from interceptor.retrieval.lexical import quote_in_section
from interceptor.retrieval.pseudo import FOLDS, MAX_PSEUDO, fold, pseudo_requests, shared_headings
from interceptor.retrieval.rerank import PairModel, section_key
from interceptor.retrieval.training import PairTraining

# The version of this method, stored with each cold start (one of another version is fitted again).
# 2: the titles of articles of several sections are not asked (see fit_cold).
# 3: a summary is quoted with the section after it (KBIndex.quote), and judged on that quote.
# 4: the section quoted after a summary is the one whose passage best matches the request.
METHOD = 4

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from interceptor.retrieval.history import Labelled
    from interceptor.retrieval.index import KBIndex


def outdated(calibration: StoredCalibration | None) -> bool:
    """Whether ``calibration`` is a cold start fitted by another version of this method (to be fitted again,
    not served: a new version of the hub does not keep the old one's threshold)."""
    return calibration is not None and bool(calibration.params.get("coldstart")) \
        and calibration.params.get("cold_method") != METHOD


def stored_for(session: Session, version: str) -> tuple[StoredCalibration | None, StoredCalibration | None]:
    """Read the calibrations a scorer chooses from for KB ``version``: the one stored for that version, and the
    newest of any version (the same row when there is one for ``version``); neither when the newest is a cold
    start of another version of this method (:func:`outdated`)."""
    stored = load_calibration(session, version)
    latest = stored or load_calibration(session)
    return (None, None) if outdated(latest) else (stored, latest)


def served(stored: StoredCalibration | None, latest: StoredCalibration | None, mode: str,
           articles: int) -> StoredCalibration | None:
    """The stored calibration a scorer in retrieval ``mode`` serves for a KB of ``articles`` articles, without
    fitting anything: the one stored for its version, else the latest cold start of a KB about this size (within
    10% of the articles it was fitted on: its features do not depend on the KB itself, so a small edit or sync
    reuses it); ``None`` when neither has a calibrator for ``mode`` (the scorer then refits or cold-starts)."""
    if stored is None and latest is not None and latest.params.get("coldstart"):
        fitted = int(latest.params.get("articles") or 0)
        if fitted > 0 and abs(articles - fitted) <= 0.1 * fitted:
            stored = latest
    return stored if stored is not None and mode in stored.params.get("modes", {}) else None


def source(calibration: StoredCalibration) -> str:
    """How ``KBScorer.calibration_source`` names a stored calibration it serves: ``coldstart:ID`` (fitted on
    the KB's own content), ``stored:ID`` (on labelled history), ``default`` (the shipped one, for a KB too
    small to calibrate from)."""
    if calibration.params.get("fallback"):
        return "default"
    return f"{'coldstart' if calibration.params.get('coldstart') else 'stored'}:{calibration.id}"


def cold_items(articles: list[KBArticle], answerable: bool, limit: int,
               skip: frozenset[str] = frozenset(), titles: bool = True) -> list[tuple[Labelled, str]]:
    """Return labelled pseudo-history from ``articles``, each item with the text it was made from: their
    pseudo-requests and stored questions, labelled with their article and section when
    ``answerable``, as knowledge gaps (no article) when not. A title is answered by the opening section
    (``titles``: see :func:`interceptor.retrieval.pseudo.pseudo_requests`)."""
    from interceptor.retrieval.history import Labelled

    items = []
    for a in articles:
        for p in pseudo_requests([a], limit, sentences=False, skip=skip, loose=True, titles=titles):
            source = " ".join(a.passages[j].text for j in sorted(p.passages))
            sections = tuple(sorted({section_key(a, j) for j in p.passages}))
            items.append((Labelled(p.text, p.article if answerable else None, None, sections if answerable else None), source))
        items += [(Labelled(q, a.external_id if answerable else None), "") for q in a.questions]
    if len(items) > limit:
        keep = np.random.default_rng(1).choice(len(items), size=limit, replace=False)
        items = [items[i] for i in sorted(keep)]
    return items


def cold_rows(index: KBIndex, items: list[tuple[Labelled, str]],
              leave_out: Collection[int] = ()) -> tuple[list[dict[str, float]], list[bool], list[str]]:
    """Retrieve each pseudo-request (a stored question is left out of its own retrieval) from ``index``
    without the articles at positions ``leave_out`` (see :meth:`KBIndex.search`) and return its
    features and whether the answer is right, where an
    answer that quotes the same content as the item's source (the bench's 60% rule) is right, and a gap
    whose content another article repeats is no gap (left out); and the text of each request kept."""
    from interceptor.retrieval.features import extract
    from interceptor.retrieval.history import is_right

    rows, correct, asked = [], [], []
    found = index.search_many([i.text for i, _ in items], exclude_same_text=[not source for _, source in items], leave_out=leave_out)
    for (item, source), r in zip(items, found):
        same = bool(source) and bool(r.order) and quote_in_section(r.passage[0], source)
        if item.article is None and same:
            continue
        rows.append(extract(r))
        correct.append(is_right(index, r, item) or (item.article is not None and same))
        asked.append(item.text)
    return rows, correct, asked


def kb_examples(index: KBIndex, training: PairTraining, history: Collection[str] = (),
                titles: bool = True) -> tuple[list[dict[str, float]], list[bool], list[bool]]:
    """Return labelled examples made from the KB's own content: per fold, its articles are knowledge gaps
    (left out of the search) and the next fold's pseudo-requests are asked, scored by a second stage that
    never learnt from their articles, and the articles ordered by their fused score alone, without the intent
    classifier (:mod:`interceptor.retrieval.intents`): that ranks fewer answerable ones right than serving will
    (conservative evidence). Refitted without each fold's questions and gap articles instead, its most confident
    examples included wrong ones (gaps sent to a neighbouring intent), and BANKING77's threshold stopped early:
    coverage 0.67 against 0.74. Each example with its features and whether the answer is right.

    Args:
        index: the full index (searched with each fold of gaps left out: no index is rebuilt, nothing is
            embedded twice).
        training: the second stage's training data for ``index`` (refitted without each fold's articles).
        history: the texts of the labelled history being fitted beside these examples, which the articles
            hold as past-ticket questions: their examples are flagged, to be kept out of the prior's curve.
        titles: also ask the titles of articles of several sections (see :func:`fit_cold`).

    Returns:
        Each example's features, whether its answer is right, and whether it is other than a history request.

    Raises:
        ValueError: too few articles to hold some out as knowledge gaps.
    """
    folds: list[list[int]] = [[] for _ in range(FOLDS)]  # positions in index.articles
    for i, a in enumerate(index.articles):
        folds[fold(a)].append(i)
    if sum(1 for f in folds if f) < 2:
        raise ValueError("too few articles to hold some out as knowledge gaps")
    share = max(MAX_PSEUDO // (2 * FOLDS), 10)
    skip = shared_headings(index.articles)
    rows: list[dict[str, float]] = []
    correct: list[bool] = []
    texts: list[str] = []
    for f in range(FOLDS):
        gaps, answerable = folds[f], folds[(f + 1) % FOLDS]
        if not gaps or not answerable:
            continue
        asked = [index.articles[i] for i in answerable]
        unseen = training.fit(without_articles=frozenset(a.external_id for a in asked))
        items = (cold_items(asked, True, share, skip, titles)
                 + cold_items([index.articles[i] for i in gaps], False, share, skip, titles))
        fold_rows, fold_correct, fold_texts = cold_rows(index.with_reranker(unseen).without_intents(), items, leave_out=gaps)
        rows += fold_rows
        correct += fold_correct
        texts += fold_texts
    known = set(history)
    return rows, correct, [text not in known for text in texts]


def fit_cold(index: KBIndex) -> tuple[PairModel | None, Calibrator]:
    """Fit the second stage and the calibrator from the KB's own content (no labelled history).

    The title of an article of several sections is not asked: with no history, the pseudo-requests alone
    set the threshold, and a title's right section is only a guess (the opening one). Titles quoting
    another section of their own article were the first wrong answers of the KB's most confident
    pseudo-requests, and held the threshold where few real requests reached it (doc2dial without history:
    8 answered at answer precision 1.0 with them, 47 at 0.915 without; the sample KB's ordinary questions:
    4 of 21 with them, 11 without, every one from the right article). With a history (``kb_examples`` from
    :meth:`interceptor.retrieval.scorer.KBScorer.calibrate`) they stay: there the history's requests set the
    threshold, and leaving titles out put 3 of 5 doc2dial re-splits under the target, against 2. A KB that
    gives too few pseudo-requests without titles (its articles' headings all shared, as "Steps" and
    "Troubleshooting" in every article of a template) is calibrated with them, as before.

    Args:
        index: the full index.

    Returns:
        The second stage (``None`` when the KB gives too few usable pseudo-requests) and the calibrator,
        with its out-of-fold precision curve over every fold's pseudo-requests (:func:`kb_examples`).

    Raises:
        ValueError: too few articles or pseudo-requests to calibrate on (fewer than 10, or one outcome).
    """
    training = PairTraining(index, index.articles)
    names = feature_names(index.dense)
    signs = [sign(n) for n in names]
    try:
        calibrator = fit(*kb_examples(index, training, titles=False)[:2], names, signs=signs)
    except ValueError:  # too few without them (every heading shared: a KB written to one template's sections)
        calibrator = fit(*kb_examples(index, training)[:2], names, signs=signs)
    return training.fit(), calibrator
