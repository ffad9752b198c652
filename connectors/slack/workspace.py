"""Which workspace an Events API delivery belongs to, and Slack's notice that it dropped events. Pure.

A Slack app distributed to several workspaces signs every workspace's events with the same signing secret and
posts them to the same Request URL: a valid signature says "from Slack, for this app", not "for this install".
A single-workspace hub that knows its own team (``SLACK_TEAM_ID``) takes only the deliveries made to its own
installation, and answers the others 200 "ignored" (counted, logged), never reading them with its own token.

NOTE(slack): the installation a delivery is for is ``authorizations[0]`` ("one installation of your app that the
event is visible to"), not the envelope's ``team_id``: in a Slack Connect channel ``team_id`` (and the message's
``team``) can name the other organisation, the one that owns the channel or wrote the message, while the event is
delivered to this installation. Bolt reads ``authorizations[0].team_id`` over ``team_id`` for that reason
(slackapi/bolt-python#152, slackapi/java-slack-sdk#629). ``context_team_id`` ("the workspace through which the
app receives this event") is the next best; an old payload with neither has only ``team_id``.
https://docs.slack.dev/reference/objects/event-object ·
https://docs.slack.dev/changelog/2020-09-15-events-api-truncate-authed-users
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from core.notices import VendorNotice

EVENTS = ("event_callback", "app_rate_limited")
RATE_LIMITED = "app_rate_limited"


def installation(envelope: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ``(team id, org id)`` of the installation an Events API delivery is made to.

    The org id is set only for an org-wide (Enterprise Grid) installation, whose authorization may name no team.
    """
    first = next(iter(envelope.get("authorizations") or ()), None)
    if isinstance(first, Mapping) and (first.get("team_id") or first.get("enterprise_id")):
        org = first.get("enterprise_id") if first.get("is_enterprise_install") else None
        return first.get("team_id"), org
    return envelope.get("context_team_id") or envelope.get("team_id"), None


def foreign(envelope: Mapping[str, Any], own_team: str | None) -> str | None:
    """The team an Events API delivery was made to, when that is another workspace than ``own_team``.

    Args:
        envelope: a decoded, schema-checked Slack request.
        own_team: this install's team (or org) id, ``SLACK_TEAM_ID``; ``None``: not known, nothing is foreign.

    Returns:
        The other workspace's id (``"?"`` when the delivery names none), or ``None``: this install's, or not an
        Events API delivery (interactivity payloads are not screened here: their buttons carry the hub's own refs).
    """
    if own_team is None or envelope.get("type") not in EVENTS:
        return None
    team, org = installation(envelope)
    if own_team in (team, org):
        return None
    return str(team or org or "?")


def rate_limited(envelope: Mapping[str, Any]) -> int | None:
    """The minute Slack stopped delivering this app's events (``minute_rate_limited``, Unix seconds; ``0`` when
    not given) for an ``app_rate_limited`` notice, else ``None``.

    NOTE(slack): sent when the app "would receive more than 30,000 events in an hour from a single workspace", or its
    subscriptions are being disabled; the events held back are not promised later. https://docs.slack.dev/reference/events/app_rate_limited
    """
    if envelope.get("type") != RATE_LIMITED:
        return None
    minute = envelope.get("minute_rate_limited")
    return minute if isinstance(minute, int) and not isinstance(minute, bool) else 0


def rate_limit_notice(envelope: Mapping[str, Any], own_team: str | None, received: datetime) -> VendorNotice | None:
    """The :class:`core.notices.VendorNotice` an ``app_rate_limited`` delivery to this install is (``None`` for any
    other delivery, or one made to another workspace: :func:`foreign`): one per workspace and minute, so Slack's
    redelivery of one notice is the same notice. A notice without its minute is named by the minute it was received.
    """
    minute = rate_limited(envelope)
    if minute is None or foreign(envelope, own_team) is not None:
        return None
    team = installation(envelope)[0] or envelope.get("team_id") or "?"
    began = datetime.fromtimestamp(minute, timezone.utc).isoformat() if minute else None
    key = f"{team}:{minute or int(received.timestamp()) // 60 * 60}"
    return VendorNotice("slack", "app_rate_limited", key, {"team": str(team)[:64], "minute_rate_limited": minute, "began_at": began})
