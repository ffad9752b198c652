"""``hub check`` for Zendesk: the credentials work, the hub's user is an agent who may write public comments,
and tickets have a way in (webhooks with their signing secret, or polling)."""

from __future__ import annotations

from typing import Any

from connectors.checks import Check, failed
from connectors.zendesk.connector import ZendeskConnector
from core.errors import ConnectorError

AREA = "zendesk"
# NOTE(zendesk): a user's ``role`` is ``end-user``, ``agent`` or ``admin``; only agents and admins work tickets
# (an end user sees only their own requests). https://developer.zendesk.com/api-reference/ticketing/users/users/
AGENT_ROLES = ("agent", "admin")
CREDENTIALS_FIX = ("check ZENDESK_EMAIL (the hub's agent's sign-in address) and ZENDESK_API_TOKEN (Admin Center > "
                   "Apps and integrations > Zendesk API, with token access enabled)")


def checks(connector: ZendeskConnector, settings: Any) -> list[Check]:
    """Check what the hub needs of Zendesk, with one ``GET /users/me``.

    Args:
        connector: the configured Zendesk connector (its client and error mapping make the call).
        settings: the hub's settings (unused: Zendesk's own are the connector's).

    Returns:
        ``credentials``, then (when they work) ``agent`` and ``comments``, and ``intake``.
    """
    zendesk = connector.settings
    found = [_intake(zendesk)]
    try:
        me = connector.me()
    except ConnectorError as e:
        return [failed(AREA, "credentials", e, url=zendesk.url, setting="ZENDESK_URL", refused=CREDENTIALS_FIX), *found]
    role = str(me.get("role") or "unknown")
    signed_in = Check(AREA, "credentials", True, f"signed in at {zendesk.url} as {me.get('email') or zendesk.email}")
    if role not in AGENT_ROLES:
        return [signed_in, Check(AREA, "agent", False, f"{zendesk.email} is a Zendesk {role}, not an agent: the hub reads "
                                 "tickets and comments on them as an agent; give this user the agent (or admin) role "
                                 "in Admin Center > People, or set ZENDESK_EMAIL to an agent's address"), *found]
    custom = " (its custom role's own limits are not checked here)" if me.get("custom_role_id") else ""
    agent = Check(AREA, "agent", True, f"{role}{custom}")
    if me.get("only_private_comments") is True:
        # NOTE(zendesk): ``only_private_comments``: "true if the user can only create private comments".
        # https://developer.zendesk.com/api-reference/ticketing/users/users/
        comments = Check(AREA, "comments", False, "this agent may write internal notes only, and the hub's answers are "
                         "public comments: clear 'can only make private comments' on the user in Zendesk (Admin "
                         "Center > People)")
    else:
        comments = Check(AREA, "comments", True, "may write public answers and internal notes")
    return [signed_in, agent, comments, *found]


def _intake(zendesk: Any) -> Check:
    """How tickets reach the hub: a signed webhook needs ZENDESK_WEBHOOK_SECRET; polling needs nothing more."""
    if zendesk.webhook_secret is not None:
        poll = ", and polling (ZENDESK_POLL)" if zendesk.poll else ""
        return Check(AREA, "intake", True, f"webhooks at /webhooks/zendesk, signed with ZENDESK_WEBHOOK_SECRET{poll}")
    if zendesk.poll:
        return Check(AREA, "intake", True, "polling (ZENDESK_POLL); webhooks are refused without ZENDESK_WEBHOOK_SECRET")
    return Check(AREA, "intake", False, "nothing from Zendesk can reach the hub: webhooks are refused without "
                 "ZENDESK_WEBHOOK_SECRET (the webhook's signing secret, docs/connectors/zendesk.md), and ZENDESK_POLL "
                 "is off; set one of them")
