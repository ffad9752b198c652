"""``hub kb sync``: pull every configured knowledge source incrementally into the KB.

Each source keeps a cursor (``kb.sync.<connector>``): the newest ``updated_at`` it delivered, stored in the
same transaction as the articles it covers. Sources yield articles oldest change first (Zendesk's incremental
export does), so a crash skips nothing: the next run re-reads from the last stored batch, and an unchanged
re-read costs nothing thanks to the content hash. An article the source flags ``deleted`` (archived, made a
draft, restricted to some readers) leaves the KB. A source whose export leaves removed articles out (a
:class:`connectors.base.KnowledgeListing`: Zendesk's archived articles) is then listed whole, and its stored
articles it no longer lists leave the KB; only after the export was read to its end, so a failed run removes
nothing.

A source that answers "wait" (a ``Retriable`` with ``retry_after``: a 429, or a 503 naming a ``Retry-After``) part
way through is waited out, at most :data:`WAIT_CAP_SECONDS` a time and :data:`WAITS` times a run, when the caller
allows it (``hub kb sync`` does; the scheduled sync does not: it ends the run, and the next round resumes). What was
read before is stored first, and the export is read again from the stored cursor. Otherwise the sync stops with
one line naming the failure, what it stored, and that the next sync resumes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, TypeVar

from connectors.base import KnowledgeListing, KnowledgeSource
from core import kb
from core.cursors import get_cursor, set_cursor
from core.db import Database
from core.errors import Retriable
from core.telemetry import count
from core.write_lock import in_short_transactions, let_others_write
from core.words import plural
from interceptor.kb.importer import from_knowledge_article

log = logging.getLogger("interceptor.kb.sync")
BATCH = 100
SOURCE_NAMES = {"zendesk": "zendesk_hc"}
SOURCE_LABELS = {"zendesk": "Zendesk Help Center"}  # the connectors that are knowledge sources, as admins know them
WAITS = 3
"""How many ``Retry-After`` waits ``hub kb sync`` makes for one source in one run before it stops."""
WAIT_CAP_SECONDS = 60.0
"""The longest ``Retry-After`` a sync waits; a longer one stops it at once (the next sync resumes). NOTE(zendesk):
Zendesk's rate limits count requests a minute, and its 429 "has a Retry-After header that tells you how many seconds
to wait": a longer wait is not that limit. https://developer.zendesk.com/api-reference/introduction/rate-limits/"""
T = TypeVar("T")


@dataclass(frozen=True)
class SyncReport:
    """What one source's sync did."""

    connector: str
    seen: int
    changed: int
    deleted: int


def _flush(db: Database, source: str, cursor: str, batch: list[Any], newest: datetime | None) -> tuple[int, int]:
    changed = deleted = 0
    with db.session() as s:
        for article in batch:
            if article.deleted:
                deleted += kb.mark_deleted(s, source, article.external_id)
            else:
                changed += kb.upsert_article(s, from_knowledge_article(source, article))
        if newest is not None:
            set_cursor(s, cursor, newest.isoformat())
    return changed, deleted


def _remove_unlisted(db: Database, source: str, listed: set[str]) -> int:
    """Mark deleted the live articles of ``source`` that are not in ``listed``; return how many. An empty listing
    removes nothing: a Help Center whose every article was archived is rarer than an API user who lost sight
    of them (a role or Guide permission changed), and emptying the KB would send every request to people."""
    if not listed:
        log.warning("interceptor.kb.sync.listing-empty", extra={"source": source})
        return 0
    with db.session() as s:
        gone = sorted(kb.live_external_ids(s, source) - listed)
    # in short transactions, others writing in between (3,000 in one took 1.4 s on SQLite)
    removed = sum(in_short_transactions(db, gone, lambda s, external_id: kb.mark_deleted(s, source, external_id)))
    if removed:
        log.info("interceptor.kb.sync.unlisted", extra={"source": source, "removed": removed})
    return removed


class _Run:
    """One source's sync: what it read and stored so far, and the waits it has left."""

    def __init__(self, db: Database, name: str, connector: KnowledgeSource, waits: int) -> None:
        self.db, self.name, self.connector, self.waits, self.left = db, name, connector, waits, waits
        self.cursor = f"kb.sync.{name}"
        self.source = SOURCE_NAMES.get(name, f"{name}_kb")
        value = get_cursor(db, self.cursor)
        self.newest = datetime.fromisoformat(value) if value else None
        self.seen: set[str] = set()  # an article read again (after a wait, or changed twice) counts once
        self.changed = self.deleted = 0
        self.stored = False  # whether a batch was stored yet

    def read(self) -> None:
        """Read the export from the cursor to its end, storing every :data:`BATCH` articles and, whatever stops
        the reading, the ones read before it (they are whole, and come oldest change first)."""
        batch: list[Any] = []
        try:
            for article in self.connector.fetch_articles(self.newest):
                self.seen.add(article.external_id)
                batch.append(article)
                self.newest = article.updated_at if self.newest is None or article.updated_at > self.newest else self.newest
                if len(batch) >= BATCH:
                    self._store(batch)
                    batch = []
        finally:
            self._store(batch)

    def _store(self, batch: list[Any]) -> None:
        if self.stored:  # a page of many articles is stored in several transactions: others write in between
            let_others_write(self.db)
        self.stored = True
        c, d = _flush(self.db, self.source, self.cursor, batch, self.newest)
        self.changed, self.deleted = self.changed + c, self.deleted + d

    def patiently(self, step: Callable[[], T]) -> T:
        """Run ``step``, waiting out the source's ``Retry-After`` and running it again while waits are left.

        Raises:
            Retriable: the source still answers "wait", asks longer than :data:`WAIT_CAP_SECONDS`, or failed
                otherwise; the message says what is stored and that the next sync resumes.
        """
        while True:
            try:
                return step()
            except Retriable as e:
                seconds = e.retry_after
                if seconds is None or seconds > WAIT_CAP_SECONDS or self.left <= 0:
                    raise self._stopped(e, seconds) from e
            self.left -= 1
            log.warning("interceptor.kb.sync.waiting", extra={"connector": self.name, "seconds": seconds,
                                                              "waits_left": self.left})
            count("kb_sync_waits", connector=self.name)
            time.sleep(max(seconds, 0.0))

    def _stopped(self, error: Retriable, seconds: float | None) -> Retriable:
        if seconds is not None and seconds > WAIT_CAP_SECONDS:
            why = f", asked to wait {seconds:g} s (a sync waits at most {WAIT_CAP_SECONDS:g} s)"
        elif seconds is not None and self.waits:
            why = f", still after {plural(self.waits, 'wait')}"
        else:
            why = ""
        stored = (f"{plural(len(self.seen), 'article')} read this run are stored ({self.changed} new or changed, "
                  f"{self.deleted} deleted)")
        return Retriable(f"{error}{why}; {stored}; the next sync resumes from there", retry_after=error.retry_after,
                         rate_limited=error.rate_limited)


def sync_source(db: Database, name: str, connector: KnowledgeSource, *, waits: int = 0) -> SyncReport:
    """Pull what changed in one knowledge source since its cursor.

    Args:
        waits: how many times the source's ``Retry-After`` may be waited out (each at most
            :data:`WAIT_CAP_SECONDS`); 0 stops at the first.

    Raises:
        Retriable, Fatal: a vendor call failed (what was read before the failure is stored; a Retriable's message
            says so).
    """
    run = _Run(db, name, connector, waits)
    run.patiently(run.read)
    if isinstance(connector, KnowledgeListing):
        listed = run.patiently(connector.article_ids)
        run.deleted += _remove_unlisted(db, run.source, listed)
    report = SyncReport(name, len(run.seen), run.changed, run.deleted)
    count("kb_sync_articles", report.changed, connector=name)
    log.info("interceptor.kb.sync", extra={"connector": name, "seen": report.seen, "changed": report.changed,
                                           "deleted": report.deleted})
    return report


def sync_all(db: Database, connectors: Mapping[str, Any], *, waits: int = 0) -> list[SyncReport]:
    """Sync every connector that is a :class:`KnowledgeSource`, in name order, each allowed ``waits`` waits
    (:func:`sync_source`). The scheduled sync passes none: a round that waits a minute or more would hold back
    the scheduler's shutdown (it lets running jobs finish), while the next round resumes where this one stopped."""
    return [sync_source(db, name, c, waits=waits) for name, c in sorted(connectors.items()) if isinstance(c, KnowledgeSource)]
