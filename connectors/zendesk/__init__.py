"""Zendesk Support and Help Center (registered as ``"zendesk"`` in :data:`connectors.REGISTRY`).

Hooks: :func:`build`, :func:`extra_performers` (``post_reply``/``add_internal_note`` that pass the
payload's ``kind``, ``citations`` and ``reopen`` on), :func:`scheduled_jobs` (the polling fallback, on when
ZENDESK_POLL is set).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

from core.models import TicketRef
from core.outbox import Performed, Performer

from connectors.zendesk.connector import ZendeskConnector
from connectors.zendesk import poll

__all__ = ["ZendeskConnector", "build", "extra_performers", "scheduled_jobs"]


def build(settings: Any) -> ZendeskConnector | None:
    """The connector, or ``None`` when ZENDESK_URL/EMAIL/API_TOKEN are not set. Makes no vendor call."""
    return ZendeskConnector(settings.zendesk) if settings.zendesk is not None else None


def extra_performers(connector: ZendeskConnector) -> dict[str, Performer]:
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
    """The polling fallback, on when ``ZENDESK_POLL`` is set (for installs that cannot receive webhooks)."""
    connector = hub.connectors.get("zendesk")
    if connector is None or not connector.settings.poll:
        return []
    return [(poll.CURSOR_NAME, partial(poll.run, hub, connector), hub.settings.poll_interval_seconds)]
