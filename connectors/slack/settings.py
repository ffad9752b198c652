"""Slack's settings: the ``SLACK_*`` keys, validated, and the frozen :class:`SlackSettings` they become.

:data:`SPEC` is Slack's :class:`config.base.VendorSettingsSpec`, named in ``config.settings.VENDOR_SETTINGS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from config.base import VendorSettingsSpec, configured, secret, split, trimmed, web_address
from config.secret import Secret
from core.errors import ConfigError


@dataclass(frozen=True)
class SlackSettings:
    bot_token: Secret
    signing_secret: Secret
    api_url: str
    channels: tuple[str, ...]  # ("*",) = every channel the bot is a member of
    triage_channel: str | None
    ticket_emoji: str = "ticket"  # SLACK_TICKET_EMOJI: reacting with it turns a thread into a ticket of record
    app_token: Secret | None = None  # SLACK_APP_TOKEN (xapp-...): Socket Mode instead of the public Request URL
    team_id: str | None = None  # SLACK_TEAM_ID: take only events delivered to this workspace's (or org's) installation

    def answers_in(self, channel: str) -> bool:
        """Return whether the hub answers requests in ``channel``."""
        return "*" in self.channels or channel in self.channels


# NOTE(slack): conversation ids are upper-case letters and digits (C... public, G... private, D... direct);
# the hub sees only ids in events, so a #name or a display name never matches.
# https://api.slack.com/types/conversation
CHANNEL_ID = re.compile(r"[A-Z0-9]{2,30}")
WHERE_IDS_ARE = "a channel's id (e.g. C0123ABCD) is at the bottom of its About tab, or in its link; #names do not work"


def _channel_ids(value: str) -> None:
    """Refuse a channel list naming anything but ids (or ``*``)."""
    wrong = [part for part in split(value) if part != "*" and not CHANNEL_ID.fullmatch(part)]
    if wrong:
        raise ValidationError(f"not channel ids: {', '.join(wrong)} ({WHERE_IDS_ARE})")


def _channel_id(value: str) -> None:
    if not CHANNEL_ID.fullmatch(value.strip()):
        raise ValidationError(f"not a channel id: {value} ({WHERE_IDS_ARE})")


# NOTE(slack): the hub posts as its bot user, with the Bot User OAuth Token (xoxb-..., xoxe.xoxb-... when tokens
# rotate); a user token (xoxp-) posts as a person, an app-level token (xapp-) only opens Socket Mode.
# https://api.slack.com/authentication/token-types
BOT_TOKEN = re.compile(r"(xoxe\.)?xoxb-")
WHERE_THE_BOT_TOKEN_IS = "the Bot User OAuth Token (xoxb-...), on the app's OAuth & Permissions page"


# NOTE(slack): a workspace's id starts with T, an Enterprise Grid org's with E (auth.test's team_id, enterprise_id).
# https://docs.slack.dev/reference/methods/auth.test
TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,30}")


def _team_id(value: str) -> None:
    if not TEAM_ID.fullmatch(value):
        raise ValidationError(f"not a workspace id: {value[:40]} (a workspace's id, e.g. T0123ABCD: `hub check` shows it)")


def _bot_token(value: str) -> None:
    """Refuse a value that is not a bot token (never echoing it: it is a secret)."""
    trimmed(value)
    if value.startswith("xapp-"):
        raise ValidationError(f"an app-level token (xapp-...) goes in SLACK_APP_TOKEN; here use {WHERE_THE_BOT_TOKEN_IS}")
    if not BOT_TOKEN.match(value):
        raise ValidationError(f"not a bot token: use {WHERE_THE_BOT_TOKEN_IS}")


def _app_token(value: str) -> None:
    """Refuse a value that is not an app-level token."""
    trimmed(value)
    if not value.startswith("xapp-"):
        raise ValidationError("must be an app-level token (xapp-...)")


class SlackSchema(Schema):
    """The ``SLACK_*`` keys, their types and defaults."""

    class Meta:
        unknown = EXCLUDE

    SLACK_BOT_TOKEN = fields.String(load_default=None, validate=_bot_token)
    SLACK_SIGNING_SECRET = fields.String(load_default=None, validate=trimmed)
    SLACK_API_URL = fields.String(load_default="https://slack.com/api/", validate=web_address("https://slack.com/api/"))
    SLACK_CHANNELS = fields.String(load_default="*", validate=_channel_ids)
    SLACK_TRIAGE_CHANNEL = fields.String(load_default=None, validate=_channel_id)
    SLACK_TICKET_EMOJI = fields.String(
        load_default="ticket", validate=validate.Regexp(r"^:?[a-z0-9_+'-]{1,100}:?$", error="must be an emoji name, e.g. ticket")
    )
    SLACK_APP_TOKEN = fields.String(load_default=None, validate=_app_token)
    SLACK_TEAM_ID = fields.String(load_default=None, validate=_team_id)


class _SlackSpec:
    name = "slack"
    required = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    schema = SlackSchema

    def build(self, values: Mapping[str, Any]) -> SlackSettings | None:
        """Slack's settings, or ``None`` without its bot token and signing secret.

        Raises:
            ConfigError: one of the two is missing, or ``SLACK_APP_TOKEN`` is set without them.
        """
        if not configured(values, "Slack", self.required):
            if values["SLACK_APP_TOKEN"]:
                raise ConfigError(f"SLACK_APP_TOKEN is set but {', '.join(self.required)} are missing")
            return None
        return SlackSettings(
            bot_token=Secret(values["SLACK_BOT_TOKEN"]),
            signing_secret=Secret(values["SLACK_SIGNING_SECRET"]),
            api_url=values["SLACK_API_URL"].rstrip("/") + "/",
            channels=split(values["SLACK_CHANNELS"]) or ("*",),
            triage_channel=values["SLACK_TRIAGE_CHANNEL"],
            ticket_emoji=values["SLACK_TICKET_EMOJI"].strip(":"),
            app_token=secret(values["SLACK_APP_TOKEN"]),
            team_id=values["SLACK_TEAM_ID"],
        )

    def escalation_problem(self, settings: SlackSettings) -> str | None:
        """Escalating to Slack posts the drafts to ``SLACK_TRIAGE_CHANNEL``, which must be set."""
        return None if settings.triage_channel else "SLACK_TRIAGE_CHANNEL is missing (where the drafts go)"


SPEC: VendorSettingsSpec[SlackSettings] = _SlackSpec()
