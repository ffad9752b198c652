"""The Slack app manifest for this hub (``hub slack-manifest``): what an admin pastes into api.slack.com/apps ->
Create New App -> From an app manifest, instead of setting scopes, events, interactivity and Request URLs
page by page (docs/connectors/slack.md, steps 1-6). The scopes and events are :mod:`connectors.slack.scopes`',
the ones ``hub check`` requires.

NOTE(slack): the fields, from Slack's App manifest reference: ``display_information.name`` (required, at most
35 characters), ``features.bot_user.display_name`` (required with a bot user: at most 80 characters of a-z,
0-9, ``-``, ``_`` and ``.``), ``oauth_config.scopes.bot``, ``settings.event_subscriptions.request_url`` and
``bot_events``, ``settings.interactivity.is_enabled`` and ``request_url`` (both "the full https URL"),
``settings.socket_mode_enabled``, ``org_deploy_enabled``, ``token_rotation_enabled``. A Request URL in a
manifest must then be verified by hand on the app's App Manifest page. Event subscriptions and interactivity
need a Request URL or Socket Mode ("Event Subscription requires either Request URL or Socket Mode Enabled").
https://docs.slack.dev/reference/app-manifest · the schema: https://json.schemastore.org/slack-app-manifest.json
· https://docs.slack.dev/reference/methods/apps.manifest.validate
"""

from __future__ import annotations

import re
from typing import Any

from connectors.slack.scopes import EVENTS, app_scopes

DEFAULT_NAME = "Help desk"
NAME_MAX = 35  # display_information.name
DESCRIPTION = "Answers questions from the knowledge base in their threads, and hands the rest to people."


def bot_name(name: str) -> str:
    """The bot user's display name for an app named ``name`` (``Help desk`` -> ``help-desk``): lower case,
    every run of other characters than a-z, 0-9, ``_`` and ``.`` one ``-``."""
    return re.sub(r"[^a-z0-9_.]+", "-", name.lower()).strip("-")[:80] or "help-desk"


def manifest(name: str, request_url: str | None) -> dict[str, Any]:
    """The manifest of a Slack app for this hub.

    Args:
        name: the app's name in Slack (at most :data:`NAME_MAX` characters).
        request_url: where Slack posts events and interactivity (the hub's ``/slack/events``, one URL for
            both); ``None`` for Socket Mode, where Slack asks for none.

    Returns:
        The manifest as plain data, to print as JSON or YAML.
    """
    events: dict[str, Any] = {"bot_events": list(EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}  # the "This solved it" / "I still need help" buttons
    if request_url is not None:
        events = {"request_url": request_url, **events}
        interactivity["request_url"] = request_url
    return {
        "display_information": {"name": name, "description": DESCRIPTION},
        "features": {"bot_user": {"display_name": bot_name(name), "always_online": False}},
        "oauth_config": {"scopes": {"bot": app_scopes()}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            # NOTE(slack): with token rotation the bot token expires every 12 hours and must be refreshed with
            # oauth.v2.access; the hub holds one long-lived SLACK_BOT_TOKEN and refreshes none.
            # https://docs.slack.dev/authentication/using-token-rotation
            "token_rotation_enabled": False,
        },
    }
