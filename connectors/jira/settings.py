"""Jira's settings: the ``JIRA_*`` keys, validated, and the frozen :class:`JiraSettings` they become.

:data:`SPEC` is Jira's :class:`config.base.VendorSettingsSpec`, named in ``config.settings.VENDOR_SETTINGS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from marshmallow import EXCLUDE, Schema, fields, validate

from config.base import Flag, VendorSettingsSpec, configured, secret, site_address, trimmed, web_address
from config.secret import Secret
from core.errors import ConfigError


@dataclass(frozen=True)
class JiraSettings:
    url: str
    email: str
    api_token: Secret
    webhook_secret: Secret | None
    project_key: str | None
    poll: bool = False
    allow_unsigned_webhooks: bool = False  # the explicit opt-out for a Jira that cannot sign (the boot warns)
    webhook_max_age_seconds: float = 1800.0  # older deliveries (by their "timestamp") are refused
    reopen_transition: str | None = None  # JIRA_REOPEN_TRANSITION: the workflow transition id that reopens an issue
    issue_type: str = "Task"  # JIRA_ISSUE_TYPE: the type of the issues the hub opens in JIRA_PROJECT_KEY
    service_desk_id: str | None = None  # JIRA_SERVICE_DESK_ID + JIRA_REQUEST_TYPE_ID: open JSM requests instead
    request_type_id: int | None = None


class JiraSchema(Schema):
    """The ``JIRA_*`` keys, their types and defaults."""

    class Meta:
        unknown = EXCLUDE

    JIRA_URL = fields.String(load_default=None, validate=web_address("https://mycompany.atlassian.net", site_address(
        "Jira", ("rest", "browse", "secure", "servicedesk", "plugins"), no_path=".atlassian.net")))
    JIRA_EMAIL = fields.String(load_default=None, validate=trimmed)
    JIRA_API_TOKEN = fields.String(load_default=None, validate=trimmed)
    JIRA_WEBHOOK_SECRET = fields.String(load_default=None, validate=trimmed)
    JIRA_PROJECT_KEY = fields.String(load_default=None)
    JIRA_POLL = Flag(load_default=False)
    JIRA_ALLOW_UNSIGNED_WEBHOOKS = Flag(load_default=False)
    JIRA_WEBHOOK_MAX_AGE_SECONDS = fields.Float(load_default=1800.0, validate=validate.Range(60, 7 * 86400))
    JIRA_REOPEN_TRANSITION = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{1,10}$", error="must be a transition id, e.g. 31"))
    JIRA_ISSUE_TYPE = fields.String(load_default="Task", validate=validate.Length(1, 255))
    JIRA_SERVICE_DESK_ID = fields.String(load_default=None, validate=validate.Regexp(r"^\d+$", error="must be a number"))
    JIRA_REQUEST_TYPE_ID = fields.Integer(load_default=None, validate=validate.Range(1))


class _JiraSpec:
    name = "jira"
    required = ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN")
    schema = JiraSchema

    def build(self, values: Mapping[str, Any]) -> JiraSettings | None:
        """Jira's settings, or ``None`` without its URL, email and API token.

        Raises:
            ConfigError: some of the three are set and some are not, or only one of ``JIRA_SERVICE_DESK_ID``
                and ``JIRA_REQUEST_TYPE_ID`` is (JSM requests need both).
        """
        if not configured(values, "Jira", self.required):
            return None
        jira = JiraSettings(
            url=values["JIRA_URL"].rstrip("/"),
            email=values["JIRA_EMAIL"],
            api_token=Secret(values["JIRA_API_TOKEN"]),
            webhook_secret=secret(values["JIRA_WEBHOOK_SECRET"]),
            project_key=values["JIRA_PROJECT_KEY"],
            poll=values["JIRA_POLL"],
            allow_unsigned_webhooks=values["JIRA_ALLOW_UNSIGNED_WEBHOOKS"],
            webhook_max_age_seconds=values["JIRA_WEBHOOK_MAX_AGE_SECONDS"],
            reopen_transition=values["JIRA_REOPEN_TRANSITION"],
            issue_type=values["JIRA_ISSUE_TYPE"],
            service_desk_id=values["JIRA_SERVICE_DESK_ID"],
            request_type_id=values["JIRA_REQUEST_TYPE_ID"],
        )
        if (jira.service_desk_id is None) != (jira.request_type_id is None):
            missing = "JIRA_REQUEST_TYPE_ID" if jira.request_type_id is None else "JIRA_SERVICE_DESK_ID"
            raise ConfigError(f"JSM requests need JIRA_SERVICE_DESK_ID and JIRA_REQUEST_TYPE_ID together: {missing} is missing")
        return jira

    def escalation_problem(self, settings: JiraSettings) -> str | None:
        """Escalations become issues in ``JIRA_PROJECT_KEY``, or JSM requests: one of the two must be set."""
        if settings.project_key or settings.service_desk_id is not None:
            return None
        return "JIRA_PROJECT_KEY (or JIRA_SERVICE_DESK_ID and JIRA_REQUEST_TYPE_ID) is missing"


SPEC: VendorSettingsSpec[JiraSettings] = _JiraSpec()
