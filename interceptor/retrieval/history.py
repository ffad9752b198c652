"""Labelled history: past requests with the article that solved them (or none), read from JSONL or CSV,
and the fitting of a calibrator on it.

A history file has one past request per line/row: ``text`` and ``article`` (the article's external id;
empty or null when no article solved it), optionally ``ref`` (the ticket's id). JSONL also accepts the
bench pack's names ``expected_article_id``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HubError
from interceptor.retrieval.calibration import Calibrator, fit
from interceptor.retrieval.features import extract, feature_names, sign
from interceptor.retrieval.index import KBIndex


class HistoryError(HubError):
    """A history file cannot be read."""


@dataclass(frozen=True)
class Labelled:
    """One past request and the article (external id) that solved it, ``None`` when none did."""

    text: str
    article: str | None
    ref: str | None = None


def _row(data: dict[str, Any], where: str) -> Labelled:
    text = str(data.get("text") or "").strip()
    if not text:
        raise HistoryError(f"{where}: no text")
    article = data.get("article", data.get("expected_article_id"))
    ref = data.get("ref") or data.get("id")
    return Labelled(text, str(article) if article not in (None, "") else None, str(ref) if ref else None)


def read_history(path: Path) -> list[Labelled]:
    """Read a JSONL (``.jsonl``/``.json``) or CSV history file.

    Raises:
        HistoryError: the file is unreadable or a row has no text.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as e:
        raise HistoryError(f"cannot read {path}: {e}") from e
    if path.suffix.lower() == ".csv":
        return [_row(r, f"{path}:{n + 2}") for n, r in enumerate(csv.DictReader(raw.splitlines()))]
    items = []
    for n, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            try:
                items.append(_row(json.loads(line), f"{path}:{n}"))
            except json.JSONDecodeError as e:
                raise HistoryError(f"{path}:{n}: not JSON: {e}") from e
    return items


def to_params(items: list[Labelled]) -> list[list[str | None]]:
    """Return the history in the compact form a stored calibration keeps (to refit after KB changes)."""
    return [[i.text, i.article, i.ref] for i in items]


def from_params(params: dict[str, Any]) -> list[Labelled]:
    """Return the history a stored calibration kept (empty for the shipped default)."""
    return [Labelled(t, a, r) for t, a, r in params.get("history") or ()]


def feature_rows(index: KBIndex, items: list[Labelled]) -> tuple[list[dict[str, float]], list[bool]]:
    """Retrieve every past request against ``index`` (leaving out its own stored copy) and return the
    features and whether the top article was the right one."""
    vectors = index.embedder.encode([i.text for i in items]) if index.embedder is not None and index.dense else None
    rows, correct = [], []
    for n, item in enumerate(items):
        r = index.search(item.text, k=5, exclude_same_text=True, query_vector=None if vectors is None else vectors[n])
        rows.append(extract(r))
        top = index.articles[r.order[0]].external_id if r.order else None
        correct.append(item.article is not None and top == item.article)
    return rows, correct


def fit_calibrator(index: KBIndex, items: list[Labelled]) -> Calibrator:
    """Fit a calibrator for ``index`` on labelled history.

    Raises:
        ValueError: too little history, or only one outcome in it.
    """
    rows, correct = feature_rows(index, items)
    names = feature_names(index.dense)
    return fit(rows, correct, names, signs=[sign(n) for n in names])


def top_accuracy(correct: list[bool]) -> float:
    """Return the share of right top answers (a figure for logs and reports)."""
    return float(np.mean(correct)) if correct else 0.0
