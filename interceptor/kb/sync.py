"""``hub kb sync``: pull every configured knowledge source incrementally into the KB.

Each source keeps a cursor (``kb.sync.<connector>``): the newest ``updated_at`` it delivered, stored in the
same transaction as the articles it covers. Sources yield articles oldest change first (Zendesk's incremental
export does), so a crash skips nothing: the next run re-reads from the last stored batch, and an unchanged
re-read costs nothing thanks to the content hash. An article the source flags ``deleted`` (archived, made a
draft, restricted to some readers) leaves the KB. A source whose export leaves removed articles out (a
:class:`connectors.base.KnowledgeListing`: Zendesk's archived articles) is then listed whole, and its stored
articles it no longer lists leave the KB; only after the export was read to its end, so a failed run removes
nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from connectors.base import KnowledgeListing, KnowledgeSource
from core import kb
from core.cursors import get_cursor, set_cursor
from core.db import Database
from core.telemetry import count
from interceptor.kb.importer import from_knowledge_article

log = logging.getLogger("interceptor.kb.sync")
BATCH = 100
SOURCE_NAMES = {"zendesk": "zendesk_hc"}
SOURCE_LABELS = {"zendesk": "Zendesk Help Center"}  # the connectors that are knowledge sources, as admins know them


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
        removed = sum(kb.mark_deleted(s, source, external_id) for external_id in gone)
    if removed:
        log.info("interceptor.kb.sync.unlisted", extra={"source": source, "removed": removed})
    return removed


def sync_source(db: Database, name: str, connector: KnowledgeSource) -> SyncReport:
    """Pull what changed in one knowledge source since its cursor.

    Raises:
        Retriable, Fatal: a vendor call failed (what was stored before the failure stays stored).
    """
    cursor = f"kb.sync.{name}"
    value = get_cursor(db, cursor)
    since = datetime.fromisoformat(value) if value else None
    source = SOURCE_NAMES.get(name, f"{name}_kb")
    seen = changed = deleted = 0
    batch: list[Any] = []
    newest = since
    for article in connector.fetch_articles(since):
        seen += 1
        batch.append(article)
        newest = article.updated_at if newest is None or article.updated_at > newest else newest
        if len(batch) >= BATCH:
            c, d = _flush(db, source, cursor, batch, newest)
            changed, deleted, batch = changed + c, deleted + d, []
    c, d = _flush(db, source, cursor, batch, newest)
    changed, deleted = changed + c, deleted + d
    if isinstance(connector, KnowledgeListing):
        deleted += _remove_unlisted(db, source, connector.article_ids())
    report = SyncReport(name, seen, changed, deleted)
    count("kb_sync_articles", report.changed, connector=name)
    log.info("interceptor.kb.sync", extra={"connector": name, "seen": seen, "changed": report.changed,
                                           "deleted": report.deleted})
    return report


def sync_all(db: Database, connectors: Mapping[str, Any]) -> list[SyncReport]:
    """Sync every connector that is a :class:`KnowledgeSource`, in name order."""
    return [sync_source(db, name, c) for name, c in sorted(connectors.items()) if isinstance(c, KnowledgeSource)]
