"""Managing the stored KB: list articles, remove them (by id, URL, imported path, or a whole source), report
what is stored, and watch for changes so a running server serves a new KB within seconds.

Removal marks articles deleted (``core.kb.mark_deleted``): they leave retrieval and the KB version moves,
while old decisions keep their citations. Importing the file again brings the article back.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import kb
from core.db import ArticleRow, Database, PassageRow
from core.errors import HubError
from core.write_lock import in_short_transactions, let_others_write

log = logging.getLogger("interceptor.kb.manage")
WATCH_SECONDS = 2.0


class KBManageError(HubError):
    """A reference names no live article, or several (the message lists them)."""


@dataclass(frozen=True)
class ArticleSummary:
    """One live article as an admin lists it."""

    id: int
    source: str
    external_id: str
    title: str
    url: str | None
    passages: int
    sections: int  # distinct heading paths among its passages
    updated_at: datetime


@dataclass(frozen=True)
class KBStatus:
    """What is stored now: the KB version, live articles and their passages, articles per source."""

    kb_version: str
    articles: int
    passages: int
    sources: dict[str, int] = field(default_factory=dict)


def list_articles(db: Database, *, source: str | None = None) -> list[ArticleSummary]:
    """Return the live articles (of one ``source`` when given: ``markdown``, ``html``, ``pack``,
    ``zendesk_hc``, ...), ordered by id."""
    with db.session() as s:
        query = select(ArticleRow).where(ArticleRow.deleted.is_(False)).order_by(ArticleRow.id)
        rows = s.scalars(query.where(ArticleRow.source == source) if source else query).all()
        wanted = {r.id for r in rows}
        paths: dict[int, list[tuple[str, ...]]] = {}
        for aid, path in s.execute(select(PassageRow.article_id, PassageRow.heading_path)):
            if aid in wanted:
                paths.setdefault(aid, []).append(tuple(path or ()))
        return [ArticleSummary(r.id, r.source, r.external_id, r.title, r.url, len(paths.get(r.id, ())),
                               len(set(paths.get(r.id, ()))), r.updated_at) for r in rows]


def _matches(article: ArticleSummary, ref: str) -> bool:
    if ref in (str(article.id), article.url, article.external_id):
        return True
    path = PurePosixPath(ref.replace("\\", "/"))  # a path given with its folder: ``kb/guides/slack.html``
    return len(path.parts) > 1 and path.as_posix().endswith("/" + article.external_id)


def find_articles(db: Database, ref: str) -> list[ArticleSummary]:
    """Return the live articles ``ref`` names: a hub article id, a URL, an external id (the path it was
    imported from, a Help Center id, a pack id), or a path ending in one."""
    return [a for a in list_articles(db) if _matches(a, ref.strip())]


def remove_articles(db: Database, refs: Sequence[str] = (), *, source: str | None = None) -> list[ArticleSummary]:
    """Remove the articles ``refs`` name, and every article of ``source`` when given.

    Each article's removal stands alone (it leaves retrieval and moves the KB version), so a whole source
    goes in short transactions, other writers (webhooks) writing in between
    (:func:`core.write_lock.in_short_transactions`: 3,000 in one held SQLite's write lock 1.4 s).
    The articles ``refs`` name go in the last transaction, with at least one of ``source``'s: a run that
    stops part way (a crash, a kill) leaves them all live and ``source`` with live articles, so the same
    command run again removes the rest and ends where one whole run would have.

    Args:
        db: the hub's database.
        refs: references as :func:`find_articles` reads them; each must name exactly one live article.
        source: a source name whose every article goes.

    Returns:
        The articles this call removed (not those another writer removed meanwhile), by id.

    Raises:
        KBManageError: a reference names no live article or several (nothing is removed then), or
            ``source`` has no live articles.
    """
    chosen: dict[int, ArticleSummary] = {}
    everything = list_articles(db)
    for ref in refs:
        found = [a for a in everything if _matches(a, ref.strip())]
        if not found:
            raise KBManageError(f"{ref}: no live article has this id, URL or path (see `hub kb list`)")
        if len(found) > 1:
            names = "; ".join(f"{a.id} {a.source}:{a.external_id}" for a in found)
            raise KBManageError(f"{ref}: names {len(found)} articles ({names}); remove one by its id")
        chosen[found[0].id] = found[0]
    of_source = [a for a in everything if a.source == source] if source else []
    if source and not of_source:
        raise KBManageError(f"source {source}: no live articles (sources: {', '.join(sorted({a.source for a in everything})) or 'none'})")
    of_source = [a for a in of_source if a.id not in chosen]
    first, last = of_source[:-1], of_source[-1:] + list(chosen.values())

    def remove(s: Session, article: ArticleSummary) -> ArticleSummary | None:
        return article if kb.mark_deleted(s, article.source, article.external_id) else None

    removed = [a for a in in_short_transactions(db, first, remove) if a is not None]
    if first:
        let_others_write(db)
    with db.session() as s:
        removed += [a for a in last if remove(s, a) is not None]
    log.info("interceptor.kb.removed", extra={"articles": len(removed)})
    return sorted(removed, key=lambda a: a.id)


def kb_status(db: Database) -> KBStatus:
    """Return what is stored now (three small queries: cheap enough for every health check)."""
    with db.session() as s:
        live = ArticleRow.deleted.is_(False)
        counted = s.execute(select(ArticleRow.source, func.count()).where(live).group_by(ArticleRow.source))
        sources = {str(name): int(n) for name, n in counted}
        passages = s.scalar(select(func.count()).select_from(PassageRow).join(ArticleRow).where(live)) or 0
        return KBStatus(kb.kb_version(s), sum(sources.values()), passages, dict(sorted(sources.items())))


def health(db: Database, served: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return what ``/healthz`` reports about the knowledge base.

    Args:
        db: the hub's database.
        served: the index's status (``KBScorer.status``), or ``None`` before the index is loaded.

    Returns:
        The index's status (``{"retrieval": "not loaded yet"}`` before it loads) with the **stored** KB's
        ``articles``, ``kb_version``, ``passages`` and ``sources``, and ``index``: the version and article
        count being served and whether that is the stored version (``current``).
    """
    stored = kb_status(db)
    report: dict[str, Any] = dict(served) if served is not None else {"retrieval": "not loaded yet"}
    index = {"kb_version": report.get("kb_version"), "articles": report.get("articles"),
             "current": report.get("kb_version") == stored.kb_version} if served is not None else None
    report.update(kb_version=stored.kb_version, articles=stored.articles, passages=stored.passages,
                  sources=stored.sources, index=index)
    return report


class KBWatcher:
    """Keeps a served index up to date: every ``interval`` seconds, reads the stored KB version and, when it
    differs from the version being served, asks for a rebuild (again on the next tick until it is served).

    Args:
        db: the hub's database.
        served_version: the KB version the process serves now (``None``: nothing built yet, nothing to do).
        rebuild: rebuilds the served index from the stored KB (should not block on a rebuild in progress).
        interval: seconds between checks.
    """

    def __init__(self, db: Database, served_version: Callable[[], str | None], rebuild: Callable[[], object],
                 *, interval: float = WATCH_SECONDS) -> None:
        self.db, self.served_version, self.rebuild, self.interval = db, served_version, rebuild, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._announced = ""  # the stored version last logged (a long rebuild is asked for on every tick)

    def check(self) -> bool:
        """Check once; rebuild when the stored KB moved past the served one.

        Returns:
            Whether a rebuild was asked for.
        """
        served = self.served_version()
        if served is None:
            return False
        with self.db.session() as s:
            stored = kb.kb_version(s)
        if stored == served:
            return False
        if stored != self._announced:
            log.info("interceptor.kb.changed", extra={"kb_version": stored, "served": served})
            self._announced = stored
        self.rebuild()
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher's loop is a runner boundary: log, retry next tick
                log.exception("interceptor.kb.watch-failed")

    def start(self) -> KBWatcher:
        """Start checking in a daemon thread (once, and never after :meth:`stop`); returns ``self``.

        The watcher is started by whichever job first builds the interceptor, possibly while another thread
        closes the hub: the thread is published only once started, so :meth:`stop` never joins one that is not.
        """
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                thread = threading.Thread(target=self._run, name="kb-watcher", daemon=True)
                thread.start()
                self._thread = thread
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
