"""Zendesk's settings: the ``ZENDESK_*`` keys, validated, and the frozen :class:`ZendeskSettings` they become.

:data:`SPEC` is Zendesk's :class:`config.base.VendorSettingsSpec`, named in ``config.settings.VENDOR_SETTINGS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from config.base import Flag, VendorSettingsSpec, configured, secret, site_address, trimmed, web_address
from config.secret import Secret


@dataclass(frozen=True)
class ZendeskSettings:
    url: str
    email: str
    api_token: Secret
    webhook_secret: Secret | None
    poll: bool = False  # the polling fallback, for installs that cannot receive webhooks
    hc_locale: str | None = None  # the one Help Center locale the KB sync keeps (lower case); None: every locale


# NOTE(zendesk): a Help Center locale is a language code, alone or with a region: ``de``, ``en-us``, ``pt-br``,
# ``es-419``. https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/#json-format
HC_LOCALE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,4})?")


def hc_locale(value: str) -> None:
    """Refuse a ``ZENDESK_HC_LOCALE`` that is not a locale code (a language's name, a path, a list)."""
    if not HC_LOCALE.fullmatch(value.strip().lower()):
        raise ValidationError(f"{value[:40]!r} is not a Help Center locale: write its code, such as en-us, de or pt-br "
                              "(as in your Help Center's addresses: /hc/en-us/...)")


class ZendeskSchema(Schema):
    """The ``ZENDESK_*`` keys, their types and defaults."""

    class Meta:
        unknown = EXCLUDE

    ZENDESK_URL = fields.String(load_default=None, validate=web_address("https://mycompany.zendesk.com", site_address(
        "Zendesk", ("api", "agent", "hc", "access", "admin", "auth"))))
    ZENDESK_EMAIL = fields.String(load_default=None, validate=trimmed)
    ZENDESK_API_TOKEN = fields.String(load_default=None, validate=trimmed)
    ZENDESK_WEBHOOK_SECRET = fields.String(load_default=None, validate=trimmed)
    ZENDESK_POLL = Flag(load_default=False)
    ZENDESK_HC_LOCALE = fields.String(load_default=None, validate=hc_locale)


class _ZendeskSpec:
    name = "zendesk"
    required = ("ZENDESK_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN")
    schema = ZendeskSchema

    def build(self, values: Mapping[str, Any]) -> ZendeskSettings | None:
        """Zendesk's settings, or ``None`` without its URL, email and API token.

        Raises:
            ConfigError: some of the three are set and some are not.
        """
        if not configured(values, "Zendesk", self.required):
            return None
        return ZendeskSettings(
            url=values["ZENDESK_URL"].rstrip("/"),
            email=values["ZENDESK_EMAIL"],
            api_token=Secret(values["ZENDESK_API_TOKEN"]),
            webhook_secret=secret(values["ZENDESK_WEBHOOK_SECRET"]),
            poll=values["ZENDESK_POLL"],
            hc_locale=values["ZENDESK_HC_LOCALE"].strip().lower() if values["ZENDESK_HC_LOCALE"] else None,
        )

    def escalation_problem(self, settings: ZendeskSettings) -> str | None:
        """A configured Zendesk can always take escalations (they become tickets)."""
        return None


SPEC: VendorSettingsSpec[ZendeskSettings] = _ZendeskSpec()
