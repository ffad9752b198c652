"""Jira Cloud / Jira Service Management (registered as ``"jira"`` in :data:`connectors.REGISTRY`).

Hooks: :func:`build`, :func:`extra_performers` (``post_reply``/``add_internal_note`` that pass the
payload's ``kind``, ``citations`` and ``reopen`` on), :func:`scheduled_jobs` (the polling fallback, on when
JIRA_POLL is set).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

from connectors.jira import poll
from connectors.jira.connector import JiraConnector
from core.models import TicketRef
from core.outbox import Performed, Performer

__all__ = ["JiraConnector", "build", "extra_performers", "scheduled_jobs"]


def build(settings: Any) -> JiraConnector | None:
    """The connector, or ``None`` when JIRA_URL/EMAIL/API_TOKEN are not set. Makes no vendor call."""
    return JiraConnector(settings.jira) if settings.jira is not None else None


def extra_performers(connector: JiraConnector) -> dict[str, Performer]:
    """Performers that replace the shared ones to honour ``kind``, ``citations`` and ``reopen``."""

    def post_reply(payload: Mapping[str, Any]) -> Performed:
        ref = TicketRef.parse(payload["ref"])
        posted = connector.post_reply(
            ref,
            payload["text"],
            idempotency_key=payload.get("key", str(ref)),
            kind=payload.get("kind", "answer"),
            citations=payload.get("citations") or (),
        )
        return Performed({"external_id": posted.external_id, "url": posted.url})

    def add_internal_note(payload: Mapping[str, Any]) -> Performed:
        posted = connector.add_internal_note(TicketRef.parse(payload["ref"]), payload["text"], reopen=bool(payload.get("reopen")))
        return Performed({"external_id": posted.external_id, "url": posted.url})

    return {"post_reply": post_reply, "add_internal_note": add_internal_note}


def scheduled_jobs(hub: Any) -> list[tuple[str, Callable[[], object], float]]:
    """The polling fallback, on when ``JIRA_POLL`` is set (for installs that cannot receive webhooks)."""
    connector = hub.connectors.get("jira")
    if connector is None or not connector.settings.poll:
        return []
    return [(poll.CURSOR_NAME, partial(poll.run, hub, connector), hub.settings.poll_interval_seconds)]
