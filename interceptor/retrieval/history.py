"""Labelled history: past requests with the article that solved them (or none), read from JSONL or CSV,
and the fitting of a calibrator on it.

A history file has one past request per line/row: ``text`` and ``article`` (the article's external id;
empty or null when no article solved it), optionally ``ref`` (the ticket's id) and ``sections`` (the
article's sections that answer it, named as :func:`interceptor.retrieval.rerank.section_key` names them: a
section id where the source has one, else the heading path joined by " › ", else, for the opening section,
the article's title; a JSON list, or ``;``-separated in CSV). JSONL also accepts the bench pack's names
``expected_article_id`` and ``expected_section_ids``.

A past request counts as answered right when the top article is its article and, where the history names
sections and the passage names its section, the quoted passage lies in one of them: the confidence is
about the passage the hub quotes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.errors import HubError
from core.models import storable
from core.textfile import read_utf8
from interceptor.retrieval.calibration import Calibrator, fit
from interceptor.retrieval.features import extract, feature_names, sign
from interceptor.retrieval.index import KBIndex, Retrieval, normalise
from interceptor.retrieval.pseudo import FOLDS
from interceptor.retrieval.rerank import PairModel, section_key
from interceptor.retrieval.training import text_fold


class HistoryError(HubError):
    """A history file cannot be read."""


@dataclass(frozen=True)
class Labelled:
    """One past request and the article (external id) that solved it, ``None`` when none did; ``sections``
    the ids of the sections that answer it, when known."""

    text: str
    article: str | None
    ref: str | None = None
    sections: tuple[str, ...] | None = None


def _row(data: dict[str, Any], where: str) -> Labelled:
    text = storable(str(data.get("text") or "")).strip()  # stored as an article's question
    if not text:
        raise HistoryError(f"{where}: no text")
    article = data.get("article", data.get("expected_article_id"))
    ref = data.get("ref") or data.get("id")
    raw = data.get("sections", data.get("expected_section_ids"))
    if isinstance(raw, str):
        raw = [x for x in raw.split(";") if x.strip()]
    sections = tuple(str(x).strip() for x in raw) if raw else None
    return Labelled(text, str(article) if article not in (None, "") else None, str(ref) if ref else None, sections)


def read_history(path: Path) -> list[Labelled]:
    """Read a JSONL (``.jsonl``/``.json``) or CSV history file.

    Raises:
        HistoryError: the file is unreadable or not UTF-8, holds no past tickets, a CSV header has no ``text``
            column, or a row has no text.
    """
    raw = read_utf8(path, HistoryError)
    items = _csv(raw, path) if path.suffix.lower() == ".csv" else _jsonl(raw, path)
    if not items:
        raise HistoryError(f"{path} holds no past tickets: one per line, {HISTORY_SHAPE}")
    return items


HISTORY_SHAPE = "with `text` and `article` (and optionally `sections`)"


def _csv(raw: str, path: Path) -> list[Labelled]:
    """The rows of a CSV history: comma-separated, a header row naming at least ``text``."""
    reader = csv.DictReader(raw.splitlines(keepends=True), strict=True)
    rows = []
    try:
        header = [name.strip() for name in reader.fieldnames or ()]
        if header and "text" not in header:
            raise HistoryError(f"{path}: the header row has no `text` column (it reads {', '.join(map(repr, header))}): "
                               f"a comma-separated history needs a header row {HISTORY_SHAPE}, e.g. text,article")
        for r in reader:
            where = f"{path}:{reader.line_num}"
            if None in r:  # more fields than the header names: an unquoted comma in the text
                raise HistoryError(f"{where}: more fields than the header names: quote a text that holds a comma")
            rows.append(_row({k.strip(): v for k, v in r.items() if k is not None}, where))
    except csv.Error as e:  # a quote never closed, and the like
        raise HistoryError(f"{path}: not CSV ({e}: a quote that is never closed?)") from e
    return rows


def _jsonl(raw: str, path: Path) -> list[Labelled]:
    """The lines of a JSONL history: one JSON object per line."""
    items = []
    for n, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError(f"{path}:{n}: not JSON: {e}") from e
            if not isinstance(data, dict):
                raise HistoryError(f"{path}:{n}: not a JSON object: each line is one past ticket {HISTORY_SHAPE}")
            items.append(_row(data, f"{path}:{n}"))
    return items


def to_params(items: list[Labelled]) -> list[list[Any]]:
    """Return the history in the compact form a stored calibration keeps (to refit after KB changes)."""
    return [[i.text, i.article, i.ref, list(i.sections) if i.sections else None] for i in items]


def from_params(params: dict[str, Any]) -> list[Labelled]:
    """Return the history a stored calibration kept (empty for the shipped default)."""
    rows = params.get("history") or ()
    return [Labelled(r[0], r[1], r[2], tuple(r[3]) if len(r) > 3 and r[3] else None) for r in rows]


def is_right(index: KBIndex, r: Retrieval, item: Labelled) -> bool:
    """Return whether the top answer of retrieval ``r`` answers ``item``, as a person reading it would judge:
    its article, and (when the history names sections the article has) a quoted passage of one of those sections
    (the chosen one, or the section quoted after a summary: :meth:`KBIndex.quote`);
    or another article's passage of a section the history names by its id (a page the KB holds twice, such
    as a bench pack whose request is answered by sections of two articles). Heading paths name sections only
    within their article: "Overview" in another article is another section."""
    if item.article is None or not r.order:
        return False
    article = index.articles[r.order[0]]
    named = set(item.sections or ())
    quoted = [j for j in (r.passage_at[0] if r.passage_at else -1, r.pair[0].also if r.pair else -1) if j >= 0]
    if article.external_id != item.article:
        return any(article.passages[j].section_id in named for j in quoted)
    keys = [section_key(article, j) for j in range(len(article.passages))]
    if not named & set(keys):
        return True
    return any(keys[j] in named for j in quoted)


def feature_rows(index: KBIndex, items: list[Labelled],
                 rerankers: Callable[[int], PairModel | None] | None = None) -> tuple[list[dict[str, float]], list[bool]]:
    """Retrieve every past request against ``index`` (leaving out its own stored copy, and ordering articles with an
    intent classifier that did not learn from its fold: :meth:`KBIndex.without_learnt`) and return the
    features and whether the top answer was right (:func:`is_right`).

    Args:
        index: the index to retrieve from.
        items: the past requests.
        rerankers: given a history fold (:func:`interceptor.retrieval.training.text_fold`), the second
            stage to choose passages with for that fold's requests: one that did not learn from them
            (``None``: the index's own).
    """
    vectors = index.encode_requests([i.text for i in items])
    asked: dict[int, list[str]] = {f: [] for f in range(FOLDS)}
    for item in items:
        asked[text_fold(item.text)].append(item.text)
    by_fold = {f: (index.with_reranker(rerankers(f)) if rerankers is not None else index).without_learnt(asked[f])
               for f in range(FOLDS)}
    rows, correct = [], []
    for n, item in enumerate(items):
        searched = by_fold[text_fold(item.text)]
        r = searched.search(item.text, k=5, exclude_same_text=True, query_vector=None if vectors is None else vectors[n])
        rows.append(extract(r))
        correct.append(is_right(searched, r, item))
    return rows, correct


def agreed_sections(items: list[Labelled]) -> list[Labelled]:
    """Return ``items`` with each request's sections made those of every past request with the same text
    (case and spacing folded) and article: when agents answered one request from different sections of an
    article, each of those sections answers it, and neither answer counts as wrong."""
    union: dict[tuple[str, str | None], set[str]] = {}
    for i in items:
        if i.sections:
            union.setdefault((normalise(i.text), i.article), set()).update(i.sections)
    return [replace(i, sections=tuple(sorted(union[(normalise(i.text), i.article)]))) if i.sections else i for i in items]


def fit_calibrator(index: KBIndex, items: list[Labelled],
                   rerankers: Callable[[int], PairModel | None] | None = None,
                   prior: tuple[list[dict[str, float]], list[bool]] | None = None,
                   prior_in_curve: list[bool] | None = None) -> Calibrator:
    """Fit a calibrator for ``index`` on labelled history (``rerankers``: see :func:`feature_rows`;
    ``prior``, ``prior_in_curve``: examples from the KB's own content it also learns from, and which of them
    are evidence for a threshold, see :func:`interceptor.retrieval.calibration.fit`).

    Raises:
        ValueError: too little history, or only one outcome in it.
    """
    rows, correct = feature_rows(index, items, rerankers)
    names = feature_names(index.dense)
    return fit(rows, correct, names, signs=[sign(n) for n in names], prior=prior, prior_in_curve=prior_in_curve)


def top_accuracy(correct: list[bool]) -> float:
    """Return the share of right top answers (a figure for logs and reports)."""
    return float(np.mean(correct)) if correct else 0.0
