"""The knowledge-base store: articles with their passages and questions, the KB version, calibrations,
and the retrieval units' embeddings.

Writers go through :func:`upsert_article`, :func:`mark_deleted`, :func:`set_ticket_questions` and
:func:`forget_history`; each change moves the KB version (a hash chain kept in the ``cursors`` table, so
reading it is one row). An upsert whose content hash did not change does no work at all. Passages are split
by the caller (``interceptor.kb.sections``): ``core`` stores each passage with its section (heading path,
section id), it does not interpret the text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Text, cast, delete, func, select
from sqlalchemy.orm import Session

from core.cursors import set_cursor
from core.db import (
    ArticleQuestionRow,
    ArticleRow,
    CalibrationRow,
    CursorRow,
    EmbeddingRow,
    PassageRow,
    insert_ignoring,
)
from core.models import as_utc, storable, utcnow

VERSION_CURSOR = "kb.version"
EMPTY_VERSION = "empty"
_CHUNK = 500  # keys per IN (…) list or rows per INSERT: well inside every database's parameter limit


@dataclass(frozen=True)
class KBPassage:
    """A retrieval unit of an article's body: part of exactly one section.

    A long section may be several passages (with the same ``heading_path`` and ``section_id``); a passage
    never spans two sections.
    """

    text: str  # the passage text as quoted to a person (no heading line in it)
    heading_path: tuple[str, ...] = ()  # headings above it, outermost first; () when none
    section_id: str | None = None  # the section's id where the source names one (a v2 pack's section id)

    def as_json(self) -> list[Any]:
        """The passage as JSON-able data (for content hashes)."""
        return [self.text, list(self.heading_path), self.section_id]


@dataclass(frozen=True)
class ArticleInput:
    """An article to store. ``passages`` are the body's retrieval units (split by the caller, section by
    section); ``questions`` are alternate phrasings it answers (origin ``phrasing``)."""

    source: str
    external_id: str
    title: str
    body: str = ""
    url: str | None = None
    tags: tuple[str, ...] = ()
    locale: str | None = None
    section: str | None = None
    updated_at: datetime | None = None
    passages: tuple[KBPassage, ...] = ()
    questions: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        """A stable hash of everything retrieval and display depend on."""
        payload = [self.title, self.body, self.url, list(self.tags), self.locale, self.section,
                   [p.as_json() for p in self.passages], list(self.questions)]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KBArticle:
    """A stored, live article as retrieval sees it."""

    id: int
    source: str
    external_id: str
    title: str
    url: str | None
    tags: tuple[str, ...]
    passages: tuple[KBPassage, ...]
    questions: tuple[str, ...]  # phrasings first, then past tickets
    body: str = ""


@dataclass(frozen=True)
class StoredCalibration:
    """A calibration as stored: the KB version it was fitted for, its method and parameters."""

    id: int
    kb_version: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    provenance: str = ""


def kb_version(session: Session) -> str:
    """Return the KB version: a short string that changes whenever the KB's content changes."""
    row = session.get(CursorRow, VERSION_CURSOR)
    return row.value if row is not None and row.value else EMPTY_VERSION


def _bump(session: Session, change: str) -> str:
    digest = hashlib.sha256(f"{kb_version(session)}|{change}".encode("utf-8")).hexdigest()[:16]
    set_cursor(session, VERSION_CURSOR, digest)
    return digest


def _storable(article: ArticleInput) -> ArticleInput:
    """``article`` as the database can hold it (:func:`core.models.storable`: no NUL characters, no lone
    surrogates; a Help Center body with either would fail every sync); files holding NUL bytes are refused before this."""
    def clean(text: str | None) -> str | None:
        return None if text is None else storable(text)

    def texts(values: Iterable[str]) -> tuple[str, ...]:
        return tuple(storable(v) for v in values)

    return replace(
        article, external_id=storable(article.external_id), title=storable(article.title),
        body=storable(article.body), url=clean(article.url), locale=clean(article.locale),
        section=clean(article.section), tags=texts(article.tags), questions=texts(article.questions),
        passages=tuple(KBPassage(storable(p.text), texts(p.heading_path), clean(p.section_id)) for p in article.passages))


def upsert_article(session: Session, article: ArticleInput) -> bool:
    """Insert or update one article with its passages and phrasings, unless its content is unchanged.

    Args:
        session: the caller's transaction.
        article: the article; ``(source, external_id)`` identifies it.

    Returns:
        Whether anything was written (``False`` when the content hash matched a live article).
    """
    article = _storable(article)
    digest = article.content_hash
    row = session.scalars(
        select(ArticleRow).where(ArticleRow.source == article.source, ArticleRow.external_id == article.external_id)
    ).one_or_none()
    if row is not None and row.content_hash == digest and not row.deleted:
        return False
    if row is None:
        row = ArticleRow(source=article.source, external_id=article.external_id)
        session.add(row)
    row.title, row.body, row.url, row.tags = article.title, article.body, article.url, list(article.tags)
    row.locale, row.section, row.content_hash, row.deleted = article.locale, article.section, digest, False
    row.updated_at = as_utc(article.updated_at) if article.updated_at else utcnow()
    session.flush()
    session.execute(delete(PassageRow).where(PassageRow.article_id == row.id))
    session.execute(
        delete(ArticleQuestionRow).where(ArticleQuestionRow.article_id == row.id, ArticleQuestionRow.origin == "phrasing")
    )
    session.add_all(
        PassageRow(article_id=row.id, position=i, text=p.text, heading_path=list(p.heading_path), section_id=p.section_id)
        for i, p in enumerate(article.passages)
    )
    session.add_all(ArticleQuestionRow(article_id=row.id, text=q, origin="phrasing") for q in article.questions)
    _bump(session, f"upsert:{article.source}:{article.external_id}:{digest}")
    return True


def mark_deleted(session: Session, source: str, external_id: str) -> bool:
    """Mark an article deleted (it leaves retrieval; its row stays for old decisions' citations).

    Returns:
        Whether a live article was marked.
    """
    row = session.scalars(
        select(ArticleRow).where(ArticleRow.source == source, ArticleRow.external_id == external_id)
    ).one_or_none()
    if row is None or row.deleted:
        return False
    row.deleted, row.updated_at = True, utcnow()
    _bump(session, f"delete:{source}:{external_id}")
    return True


def live_external_ids(session: Session, source: str) -> set[str]:
    """Return the external ids of ``source``'s live articles."""
    rows = session.scalars(select(ArticleRow.external_id).where(ArticleRow.source == source, ArticleRow.deleted.is_(False)))
    return set(rows)


def find_article_ids(session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    """Return ``external_id -> id`` for the live articles among ``external_ids`` (any source)."""
    wanted = set(external_ids)
    rows = session.execute(select(ArticleRow.external_id, ArticleRow.id).where(ArticleRow.deleted.is_(False)))
    return {ext: aid for ext, aid in rows if ext in wanted}


def set_ticket_questions(session: Session, tickets: Iterable[tuple[int, str, str | None]]) -> int:
    """Replace every past-ticket question (origin ``ticket``) with ``tickets``.

    Args:
        session: the caller's transaction.
        tickets: ``(article_id, text, ticket_ref)`` of past requests each article resolved.

    Returns:
        How many ticket questions are stored now.
    """
    items = list(tickets)
    session.execute(delete(ArticleQuestionRow).where(ArticleQuestionRow.origin == "ticket"))
    session.add_all(ArticleQuestionRow(article_id=a, text=t, origin="ticket", ticket_ref=r) for a, t, r in items)
    digest = hashlib.sha256(json.dumps(sorted((a, t) for a, t, _ in items)).encode("utf-8")).hexdigest()
    _bump(session, f"tickets:{digest}")
    return len(items)


def history_stored(session: Session) -> tuple[int, bool]:
    """Return how many past-ticket questions are stored, and whether the newest calibration keeps a labelled
    history (``hub kb calibrate``) rather than resting on the KB's own content."""
    questions = session.scalar(select(func.count()).select_from(ArticleQuestionRow)
                               .where(ArticleQuestionRow.origin == "ticket")) or 0
    latest = load_calibration(session)
    return int(questions), bool(latest is not None and latest.params.get("history"))


def forget_history(session: Session) -> int:
    """Remove every past-ticket question and every stored calibration (the labelled history a calibration
    keeps with it): the KB is its own content again. The KB version moves.

    Returns:
        How many past-ticket questions were removed.
    """
    questions, _ = history_stored(session)
    session.execute(delete(CalibrationRow))
    set_ticket_questions(session, [])
    return questions


def load_articles(session: Session, tickets: Sequence[tuple[int, str, str | None]] | None = None) -> list[KBArticle]:
    """Return every live article with its passages and questions, ordered by id.

    Args:
        session: the caller's transaction.
        tickets: past-ticket questions to use instead of the stored ones, as :func:`set_ticket_questions`
            takes them (``None``: the stored ones): the articles as they will be once those are stored.
    """
    rows = session.scalars(select(ArticleRow).where(ArticleRow.deleted.is_(False)).order_by(ArticleRow.id)).all()
    passages: dict[int, list[KBPassage]] = {}
    raw_path = cast(PassageRow.heading_path, Text)  # decoded here: most paths are short or empty (a restart reads all)
    for aid, text, path, section_id in session.execute(
        select(PassageRow.article_id, PassageRow.text, raw_path, PassageRow.section_id).order_by(
            PassageRow.article_id, PassageRow.position
        )
    ):
        heading_path = tuple(json.loads(path)) if path and path != "[]" else ()
        passages.setdefault(aid, []).append(KBPassage(text, heading_path, section_id))
    questions: dict[int, list[str]] = {}
    query = select(ArticleQuestionRow.article_id, ArticleQuestionRow.text)
    if tickets is not None:
        query = query.where(ArticleQuestionRow.origin != "ticket")
    for aid, text in session.execute(
        query.order_by(ArticleQuestionRow.article_id, ArticleQuestionRow.origin, ArticleQuestionRow.id)
    ):
        questions.setdefault(aid, []).append(text)
    for aid, text, _ in tickets or ():  # after the phrasings, in the order they are stored (origin, then id)
        questions.setdefault(aid, []).append(text)
    return [
        KBArticle(r.id, r.source, r.external_id, r.title, r.url, tuple(r.tags or ()),
                  tuple(passages.get(r.id, ())), tuple(questions.get(r.id, ())), r.body)
        for r in rows
    ]


def store_calibration(session: Session, version: str, method: str, params: dict[str, Any], provenance: str) -> int:
    """Store a fitted calibration for KB ``version``.

    Returns:
        The new row's id.
    """
    row = CalibrationRow(kb_version=version, method=method, params=params, provenance=provenance, created_at=utcnow())
    session.add(row)
    session.flush()
    return row.id


def load_calibration(session: Session, version: str | None = None) -> StoredCalibration | None:
    """Return the newest calibration for KB ``version`` (any version when ``None``), or ``None``."""
    query = select(CalibrationRow).order_by(CalibrationRow.id.desc()).limit(1)
    if version is not None:
        query = query.where(CalibrationRow.kb_version == version)
    row = session.scalars(query).first()
    if row is None:
        return None
    return StoredCalibration(row.id, row.kb_version, row.method, dict(row.params or {}), row.provenance)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    return (items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK))


def load_embeddings(session: Session, model: str, keys: Sequence[str]) -> dict[str, bytes]:
    """Return the stored vectors of ``model`` for those of ``keys`` (text SHA-1s) that have one.

    Many keys (a process starting on a stored KB) are read in one pass over the model's rows, which hold
    little else (stale ones are deleted). Measured on PostgreSQL with the 10,000-article synthetic KB: a
    restart took 21 s reading 20,000 keys as 40 ``IN (…)`` lists of 500, 2.4 s in one pass.
    """
    query = select(EmbeddingRow.text_sha1, EmbeddingRow.vector).where(EmbeddingRow.model == model)
    if len(keys) > _CHUNK:
        wanted = set(keys)
        return {key: bytes(vector) for key, vector in session.execute(query) if key in wanted}
    return {key: bytes(vector) for key, vector in session.execute(query.where(EmbeddingRow.text_sha1.in_(keys)))}


def store_embeddings(session: Session, model: str, vectors: Mapping[str, bytes]) -> None:
    """Store vectors of ``model`` by text SHA-1; a key already stored (by another process) is kept."""
    rows = [{"model": model, "text_sha1": key, "vector": vector} for key, vector in vectors.items()]
    for chunk in _chunks(rows):
        session.execute(insert_ignoring(session, EmbeddingRow, ["model", "text_sha1"]).values(list(chunk)))


def embedding_keys(session: Session, model: str) -> set[str]:
    """Return the keys (text SHA-1s) of every stored vector of ``model``."""
    return set(session.scalars(select(EmbeddingRow.text_sha1).where(EmbeddingRow.model == model)))


def delete_embeddings(session: Session, model: str, keys: Iterable[str]) -> None:
    """Delete the stored vectors of ``model`` under ``keys``."""
    for chunk in _chunks(list(keys)):
        session.execute(delete(EmbeddingRow).where(EmbeddingRow.model == model, EmbeddingRow.text_sha1.in_(chunk)))
