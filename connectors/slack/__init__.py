"""Slack: requests come from channel messages and mentions; answers go in the request's own thread.

Package hooks (``connectors/__init__.py``): :func:`build`, :func:`checks`, :func:`extra_performers`, :func:`scheduled_jobs`.
``POST /slack/events`` is routed by ``surfaces.http`` through :func:`connectors.inbound.receive` (the connector
verifies, answers the handshakes via :mod:`connectors.slack.events`, and parses).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from connectors.checks import Check
from connectors.slack.connector import SlackConnector
from core.models import TicketRef
from core.outbox import Performed, Performer

__all__ = ["SlackConnector", "build", "checks", "extra_performers", "scheduled_jobs"]


def build(settings: Any) -> SlackConnector | None:
    """Return the Slack connector, or ``None`` when ``SLACK_BOT_TOKEN``/``SLACK_SIGNING_SECRET`` are not set."""
    if settings.slack is None:
        return None
    return SlackConnector(settings.slack, settings.policy)


def _acknowledge_feedback(connector: SlackConnector) -> Performer:
    def perform(payload: Mapping[str, Any]) -> Performed:
        changed = connector.acknowledge_feedback(
            TicketRef.parse(payload["ref"]), payload["feedback"], payload["channel"], payload["ts"], payload.get("user")
        )
        return Performed({"updated": changed})

    return perform


def extra_performers(connector: SlackConnector) -> dict[str, Performer]:
    """Slack's own action: ``acknowledge_feedback`` (payload ``{"ref", "feedback", "channel", "ts", "user"?}``)
    replaces the feedback buttons once they were pressed."""
    return {"acknowledge_feedback": _acknowledge_feedback(connector)}


def scheduled_jobs(hub: Any) -> list[tuple[str, Callable[[], object], float]]:
    """Resolve the hub's Slack identity (``auth.test``) in the background; a no-op once cached."""
    connector: SlackConnector = hub.connectors["slack"]
    return [("slack.identity", connector.identity, 300.0)]


def checks(connector: SlackConnector, settings: Any) -> list[Check]:
    """What ``hub check`` verifies of Slack (:func:`connectors.slack.preflight.checks`)."""
    from connectors.slack.preflight import checks as run

    return run(connector, settings)
