"""``hub check`` for Jira: the credentials work (``GET /myself``), ``JIRA_PROJECT_KEY`` names a project the user
sees, the user holds the project permissions the hub's writes need there (``GET /mypermissions``), and issues
have a way in (signed webhooks, or polling)."""

from __future__ import annotations

from typing import Any

from connectors.checks import Check, failed
from connectors.jira.client import call
from connectors.jira.connector import JiraConnector
from core.errors import ConnectorError

AREA = "jira"
CREDENTIALS_FIX = ("check JIRA_EMAIL and JIRA_API_TOKEN (an API token of that account, from "
                   "id.atlassian.com > Security > API tokens)")
# NOTE(jira): project permission keys, as ``GET /rest/api/2/mypermissions?projectKey=&permissions=`` takes and
# answers them (``permissions.<KEY>.havePermission``); the hub labels an issue after each answer or draft
# (``hub_answered``, ``hub_escalated``), an edit of the issue.
# https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-permissions/#api-rest-api-2-mypermissions-get
ALWAYS = {
    "BROWSE_PROJECTS": "reading issues and their comments",
    "ADD_COMMENTS": "posting answers and the agents' drafts",
    "EDIT_ISSUES": "labelling the issues it answered or escalated",
}
CREATE = ("CREATE_ISSUES", "opening an issue for an escalated Slack thread")
TRANSITION = ("TRANSITION_ISSUES", "reopening an issue (JIRA_REOPEN_TRANSITION)")


def needed_permissions(jira: Any, settings: Any) -> dict[str, str]:
    """The project permissions the hub needs, each with the feature that needs it.

    Args:
        jira: Jira's settings.
        settings: the hub's settings (``escalation_target`` and the channel policies' own).
    """
    needed = dict(ALWAYS)
    targets = {settings.escalation_target, *(p.escalation_target for p in settings.channel_policies.values())}
    if "jira" in targets:
        needed[CREATE[0]] = CREATE[1]
    if jira.reopen_transition:
        needed[TRANSITION[0]] = TRANSITION[1]
    return needed


def checks(connector: JiraConnector, settings: Any) -> list[Check]:
    """Check what the hub needs of Jira.

    Args:
        connector: the configured Jira connector (its client and error mapping make the calls).
        settings: the hub's settings (where escalations go).

    Returns:
        ``credentials``, then (when they work) ``project KEY`` and ``permissions``, and ``intake``.
    """
    jira = connector.settings
    intake = _intake(jira)
    try:
        me = connector.myself()
    except ConnectorError as e:
        return [failed(AREA, "credentials", e, url=jira.url, setting="JIRA_URL", refused=CREDENTIALS_FIX), intake]
    who = me.get("emailAddress") or me.get("displayName") or jira.email
    found = [Check(AREA, "credentials", True, f"signed in at {jira.url} as {who}")]
    key = jira.project_key
    if key:
        try:
            project = call("project", lambda: connector.jira.project(key))
            found.append(Check(AREA, f"project {key}", True, str(getattr(project, "name", "") or key)))
        except ConnectorError as e:
            found.append(failed(AREA, f"project {key}", e, url=jira.url, setting="JIRA_URL", refused=(
                f"{who} sees no project {key}: set JIRA_PROJECT_KEY to the project's key (HELP in HELP-12), and give "
                "the user Browse projects there")))
            return [*found, intake]
    found.append(_permissions(connector, needed_permissions(jira, settings), key))
    return [*found, intake]


def _permissions(connector: JiraConnector, needed: dict[str, str], key: str | None) -> Check:
    """One ``GET /mypermissions`` for ``needed`` in project ``key`` (without one: granted in some project)."""
    jira = connector.settings
    where = f"in {key}" if key else "in any project (set JIRA_PROJECT_KEY to check the project the hub works in)"
    try:
        answer = call("mypermissions", lambda: connector.jira.my_permissions(projectKey=key, permissions=",".join(needed)))
    except ConnectorError as e:
        return failed(AREA, "permissions", e, url=jira.url, setting="JIRA_URL", refused="Jira would not say which "
                      "permissions the user holds")
    held = answer.get("permissions") if isinstance(answer, dict) else None
    held = held if isinstance(held, dict) else {}
    missing = [name for name in needed if not (isinstance(held.get(name), dict) and held[name].get("havePermission") is True)]
    if not missing:
        return Check(AREA, "permissions", True, f"{', '.join(needed)} granted {where}")
    lacking = "; ".join(f"{name} (for {needed[name]})" for name in missing)
    return Check(AREA, "permissions", False, f"not granted {where}: {lacking}; grant them to the user (or a role or "
                 "group it is in) in the project's permission scheme (Project settings > Permissions)")


def _intake(jira: Any) -> Check:
    """How issues reach the hub: a webhook needs JIRA_WEBHOOK_SECRET (or the explicit unsigned opt-out)."""
    poll = ", and polling (JIRA_POLL)" if jira.poll else ""
    if jira.webhook_secret is not None:
        return Check(AREA, "intake", True, f"webhooks at /webhooks/jira, signed with JIRA_WEBHOOK_SECRET{poll}")
    if jira.allow_unsigned_webhooks:
        return Check(AREA, "intake", True, "webhooks at /webhooks/jira, taken unsigned (JIRA_ALLOW_UNSIGNED_WEBHOOKS: "
                     f"anyone who can reach the hub can post events){poll}")
    if jira.poll:
        return Check(AREA, "intake", True, "polling (JIRA_POLL); webhooks are refused without JIRA_WEBHOOK_SECRET")
    return Check(AREA, "intake", False, "nothing from Jira can reach the hub: webhooks are refused without "
                 "JIRA_WEBHOOK_SECRET (the admin webhook's secret, docs/connectors/jira.md), and JIRA_POLL is off; "
                 "set one of them")
