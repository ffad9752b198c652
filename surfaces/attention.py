"""What needs an admin besides failed rows, as ``GET /api/v1/queues`` and the dashboard's "Work queues" card show
it: thread messages held for a follow-up of their closed ticket (:mod:`core.held`) and vendor notices received in
the last 24 hours (:mod:`core.notices`), each as figures and as the sentence the dashboard prints. No Flask here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from connectors.base import Connector, HelpDesk
from core.db import Database
from core.held import held_notes
from core.models import TicketRef, utcnow
from core.notices import NoticeSummary, recent
from core.words import plural


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _ticket_url(connectors: Mapping[str, Connector], ref: str) -> str | None:
    try:
        parsed = TicketRef.parse(ref)
    except ValueError:
        return None
    desk = connectors.get(parsed.source.value)
    return desk.ticket_url(parsed) if isinstance(desk, HelpDesk) else None


def held_json(db: Database, connectors: Mapping[str, Connector], now: datetime | None = None) -> dict[str, Any]:
    """The held thread messages: ``count`` (all of them), ``rows`` (the 100 held longest: the closed ticket, its
    agent-facing ``ticket_url``, the thread, what was held, its first words, ``held_since``, ``age_seconds``) and
    ``message`` (the dashboard's sentence; ``None`` when nothing is held)."""
    now = now or utcnow()
    total, rows = held_notes(db, now)
    shown = [
        {"id": r.id, "closed": r.closed, "ticket_url": _ticket_url(connectors, r.closed), "thread": r.thread,
         "thread_url": r.thread_url, "what": r.what, "excerpt": r.excerpt, "held_since": r.held_since.isoformat(),
         "age_seconds": r.age_seconds}
        for r in rows
    ]
    message = None
    if total:
        message = (f"{plural(total, 'note')} {'waits' if total == 1 else 'wait'} for a follow-up on closed tickets, "
                   f"the oldest for {_age(rows[0].age_seconds)}: a closed ticket takes no note, so each is written on a "
                   "follow-up ticket when the requester writes in its thread again, and is on no ticket until then.")
    return {"count": total, "rows": shown, "message": message}


def _notice_message(n: NoticeSummary) -> str:
    if n.vendor == "slack" and n.kind == "app_rate_limited":
        teams = sorted({str(d.get("team")) for d in n.details})
        began = sorted(d["began_at"] for d in n.details if d.get("began_at"))
        since = f", rate limited from {_when(datetime.fromisoformat(began[0]))}" if began else ""
        return (f"Slack dropped events for this app: {plural(n.count, 'notice')} in the last 24 h, the last at "
                f"{_when(n.last_at)}{since} (workspace {', '.join(teams)}). Requests written then may never reach "
                "the hub: look in the channels.")
    return f"{n.vendor}: {plural(n.count, n.kind + ' notice')} in the last 24 h, the last at {_when(n.last_at)}."


def notices_json(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """The vendor notices of the last 24 hours, one entry per vendor and kind: ``vendor``, ``kind``, ``count``,
    ``first_at``, ``last_at``, ``notices`` (each one's details, newest first, at most 100) and ``message`` (the
    dashboard's sentence)."""
    return [
        {"vendor": n.vendor, "kind": n.kind, "count": n.count, "first_at": n.first_at.isoformat(),
         "last_at": n.last_at.isoformat(), "notices": n.details[:100], "message": _notice_message(n)}
        for n in recent(db, now=now)
    ]
