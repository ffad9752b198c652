"""Jira Cloud / Jira Service Management (registered as ``"jira"`` in :data:`connectors.REGISTRY`).

Hooks: :func:`build`, :func:`checks` (``hub check``), :func:`scheduled_jobs` (the polling fallback, on when
JIRA_POLL is set).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from connectors.checks import Check
from connectors.jira import poll
from connectors.jira.connector import JiraConnector
from connectors.polling import polling_jobs

__all__ = ["JiraConnector", "build", "checks", "scheduled_jobs"]

log = logging.getLogger(__name__)


def build(settings: Any) -> JiraConnector | None:
    """The connector, or ``None`` when JIRA_URL/EMAIL/API_TOKEN are not set. Makes no vendor call.

    Warns when webhooks are off for want of JIRA_WEBHOOK_SECRET, and louder when they are taken unsigned
    (JIRA_ALLOW_UNSIGNED_WEBHOOKS): anyone who can reach the hub can then post events for any issue.
    """
    jira = settings.jira
    if jira is None:
        return None
    if jira.webhook_secret is None and jira.allow_unsigned_webhooks:
        log.warning("jira.webhook.unsigned-allowed: JIRA_ALLOW_UNSIGNED_WEBHOOKS is on, Jira webhooks are not authenticated")
    elif jira.webhook_secret is None:
        log.warning("jira.webhook.no-secret: JIRA_WEBHOOK_SECRET is not set, Jira webhooks are refused (polling works)")
    return JiraConnector(jira)


def scheduled_jobs(hub: Any) -> list[tuple[str, Callable[[], object], float]]:
    """The polling fallback, on when ``JIRA_POLL`` is set (for installs that cannot receive webhooks)."""
    return polling_jobs(hub, "jira", poll.CURSOR_NAME)


def checks(connector: JiraConnector, settings: Any) -> list[Check]:
    """What ``hub check`` verifies of Jira (:func:`connectors.jira.preflight.checks`)."""
    from connectors.jira.preflight import checks as run

    return run(connector, settings)
