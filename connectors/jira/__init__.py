"""Jira Cloud / Jira Service Management (registered as ``"jira"`` in :data:`connectors.REGISTRY`).

Hooks: :func:`build`, :func:`scheduled_jobs` (the polling fallback, on when JIRA_POLL is set).
"""

from __future__ import annotations

from typing import Any, Callable

from connectors.jira import poll
from connectors.jira.connector import JiraConnector
from connectors.polling import polling_jobs

__all__ = ["JiraConnector", "build", "scheduled_jobs"]


def build(settings: Any) -> JiraConnector | None:
    """The connector, or ``None`` when JIRA_URL/EMAIL/API_TOKEN are not set. Makes no vendor call."""
    return JiraConnector(settings.jira) if settings.jira is not None else None


def scheduled_jobs(hub: Any) -> list[tuple[str, Callable[[], object], float]]:
    """The polling fallback, on when ``JIRA_POLL`` is set (for installs that cannot receive webhooks)."""
    return polling_jobs(hub, "jira", poll.CURSOR_NAME)
