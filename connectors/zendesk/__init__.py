"""Zendesk Support and Help Center (registered as ``"zendesk"`` in :data:`connectors.REGISTRY`).

Hooks: :func:`build`, :func:`checks` (``hub check``), :func:`scheduled_jobs` (the polling fallback, on when ZENDESK_POLL is set).
"""

from __future__ import annotations

from typing import Any, Callable

from connectors.checks import Check
from connectors.polling import polling_jobs
from connectors.zendesk import poll
from connectors.zendesk.connector import ZendeskConnector

__all__ = ["ZendeskConnector", "build", "checks", "scheduled_jobs"]


def build(settings: Any) -> ZendeskConnector | None:
    """The connector, or ``None`` when ZENDESK_URL/EMAIL/API_TOKEN are not set. Makes no vendor call."""
    return ZendeskConnector(settings.zendesk) if settings.zendesk is not None else None


def scheduled_jobs(hub: Any) -> list[tuple[str, Callable[[], object], float]]:
    """The polling fallback, on when ``ZENDESK_POLL`` is set (for installs that cannot receive webhooks)."""
    return polling_jobs(hub, "zendesk", poll.CURSOR_NAME)


def checks(connector: ZendeskConnector, settings: Any) -> list[Check]:
    """What ``hub check`` verifies of Zendesk (:func:`connectors.zendesk.preflight.checks`)."""
    from connectors.zendesk.preflight import checks as run

    return run(connector, settings)
