"""``hub check`` for Slack: the bot token works (``auth.test``), it holds the OAuth scopes the hub's features
need (Slack names a token's scopes in the ``x-oauth-scopes`` header of every Web API answer), the configured
channels exist and the bot is in them (``conversations.info``), and events have a way in."""

from __future__ import annotations

from typing import Any, Iterable

from slack_sdk.errors import SlackApiError

from connectors.checks import Check, failed
from connectors.slack.connector import SlackConnector
from connectors.slack.errors import call
from connectors.slack.scopes import READ_SCOPES, feature_scopes
from core.errors import ConnectorError, NotFound

AREA = "slack"
TOKEN_FIX = ("set SLACK_BOT_TOKEN to the Bot User OAuth Token on the app's OAuth & Permissions page (reinstalling the "
             "app issues a new one)")
SCOPES_HEADER = "x-oauth-scopes"


def granted(headers: Any) -> frozenset[str] | None:
    """The scopes an answer's ``x-oauth-scopes`` header names (``"chat:write, users:read"``), or ``None`` when
    the answer has no such header (a proxy in ``SLACK_API_URL`` may drop it).

    NOTE(slack): "When using the Slack API you can check the HTTP headers to see what OAuth scopes you have"
    (X-OAuth-Scopes, comma-separated). https://api.slack.com/legacy/oauth-scopes
    """
    for name, value in dict(headers or {}).items():
        if name.lower() == SCOPES_HEADER:
            text = value[0] if isinstance(value, (list, tuple)) and value else value
            return frozenset(part.strip() for part in str(text).split(",") if part.strip())
    return None


def checks(connector: SlackConnector, settings: Any) -> list[Check]:
    """Check what the hub needs of Slack.

    Args:
        connector: the configured Slack connector (its client and error mapping make the calls).
        settings: the hub's settings (unused: Slack's own are the connector's).

    Returns:
        ``credentials``, then (when they work) ``scopes`` and one ``channel C…`` line per configured channel
        (the triage channel, and ``SLACK_CHANNELS`` unless it is ``*``), and ``intake``.
    """
    slack = connector.settings
    intake = _intake(slack)
    try:
        answer = call("auth.test", connector.client.auth_test)
    except ConnectorError as e:
        return [failed(AREA, "credentials", e, url=slack.api_url, setting="SLACK_API_URL", refused=TOKEN_FIX), intake]
    found = [Check(AREA, "credentials", True, f"signed in to {answer.get('team') or answer.get('team_id')} as "
                   f"@{answer.get('user')} ({answer.get('user_id')})")]
    scopes = granted(answer.headers)
    private = False
    for role, channel in _channels(slack):
        check, is_private = _channel(connector, role, channel, scopes)
        found.append(check)
        private = private or is_private
    found.insert(1, _scopes(scopes, private))
    return [*found, _workspace(slack.team_id, answer), intake]


def _channels(slack: Any) -> Iterable[tuple[str, str]]:
    """The configured channels, each with what it is for (a channel listed twice is checked once)."""
    seen: set[str] = set()
    listed = [("triage channel (SLACK_TRIAGE_CHANNEL)", slack.triage_channel)] if slack.triage_channel else []
    listed += [("answered channel (SLACK_CHANNELS)", c) for c in slack.channels if c != "*"]
    for role, channel in listed:
        if channel not in seen:
            seen.add(channel)
            yield role, channel


def _scopes(scopes: frozenset[str] | None, private: bool) -> Check:
    needed = feature_scopes(private)
    if scopes is None:
        return Check(AREA, "scopes", False, "Slack's answer named no scopes (no x-oauth-scopes header: is SLACK_API_URL "
                     f"a proxy that drops it?), so they could not be checked; the hub needs {', '.join(needed)}")
    missing = [scope for scope in needed if scope not in scopes]
    if not missing:
        return Check(AREA, "scopes", True, ", ".join(needed))
    lacking = "; ".join(f"{scope} (for {needed[scope]})" for scope in missing)
    return Check(AREA, "scopes", False, f"missing {lacking}: add them under OAuth & Permissions > Bot Token Scopes, then "
                 "reinstall the app (a scope counts only once the app is reinstalled)")


def _channel(connector: SlackConnector, role: str, channel: str, scopes: frozenset[str] | None) -> tuple[Check, bool]:
    """One ``conversations.info``: the channel exists, is not archived, and the bot is a member.

    Returns:
        The check, and whether the channel is private.
    """
    name = f"channel {channel}"
    try:
        info = call("conversations.info", connector.client.conversations_info, channel=channel).get("channel")
    except NotFound:
        return Check(AREA, name, False, f"no {role} {channel} that the bot can see: check the id (a channel's id is at "
                     "the bottom of its About tab), or invite the bot if the channel is private"), False
    except ConnectorError as e:
        needed = _needed_scope(e)
        if needed:
            return Check(AREA, name, False, f"cannot tell whether the bot is in the {role}: Slack refused "
                         f"conversations.info (missing scope {needed}); add {READ_SCOPES} to the app's bot scopes "
                         "and reinstall it, or check by hand that the bot is a member"), False
        return failed(AREA, name, e, url=connector.settings.api_url, setting="SLACK_API_URL",
                      refused=f"Slack would not describe the {role}"), False
    info = info if isinstance(info, dict) else {}
    label, private = f"#{info['name']}" if info.get("name") else channel, info.get("is_private") is True
    if info.get("is_archived") is True:
        return Check(AREA, name, False, f"the {role} {label} is archived: Slack refuses posts there; unarchive it or "
                     "configure another channel"), private
    if info.get("is_member") is not True:
        return Check(AREA, name, False, f"the bot is not a member of the {role} {label}: invite it there "
                     "(/invite @your-app in the channel)"), private
    return Check(AREA, name, True, f"{label}, the {role}: the bot is a member"), private


def _needed_scope(error: ConnectorError) -> str | None:
    """The scope Slack said a call lacked (``{"error": "missing_scope", "needed": "channels:read"}``), if that
    is why it refused."""
    cause = error.__cause__
    data = getattr(getattr(cause, "response", None), "data", None) if isinstance(cause, SlackApiError) else None
    if isinstance(data, dict) and data.get("error") == "missing_scope":
        return str(data.get("needed") or "?")[:100]
    return None


def _workspace(configured: str | None, answer: Any) -> Check:
    """Whether ``SLACK_TEAM_ID`` names the workspace (or org) the bot token is installed in, or what to set it to.

    NOTE(slack): an app distributed to other workspaces signs their events with the same secret and posts them to
    the same Request URL; ``SLACK_TEAM_ID`` keeps them out (:mod:`connectors.slack.workspace`).
    https://docs.slack.dev/reference/methods/auth.test
    """
    team, org = answer.get("team_id"), answer.get("enterprise_id")
    name = f"{answer.get('team') or team} ({team})"
    if configured is None:
        return Check(AREA, "workspace", True, f"events of any workspace that has the app are taken; set SLACK_TEAM_ID={team} "
                     f"to take only {name}'s (needed once the app is installed in other workspaces)")
    if configured in (team, org):
        return Check(AREA, "workspace", True, f"only events delivered to {name} are taken (SLACK_TEAM_ID)")
    return Check(AREA, "workspace", False, f"SLACK_TEAM_ID is {configured}, but the bot token is installed in {name}: every "
                 f"event would be ignored as another workspace's; set SLACK_TEAM_ID={team}")


def _intake(slack: Any) -> Check:
    """How events reach the hub: the Request URL, signed with SLACK_SIGNING_SECRET, or Socket Mode."""
    if slack.app_token is not None:
        return Check(AREA, "intake", True, "Socket Mode (SLACK_APP_TOKEN): no public Request URL needed")
    return Check(AREA, "intake", True, "Events API and interactivity at /slack/events, signed with SLACK_SIGNING_SECRET")
