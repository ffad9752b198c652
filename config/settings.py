"""Frozen settings, read once at boot (DESIGN.md section 4).

Sources, in rising precedence: the YAML file named by ``HUB_CONFIG``, then the environment. Tests pass a dict
to :func:`load_settings` and never touch ``os.environ``. A connector is enabled exactly when its credentials
are present; a half-configured one stops the boot with a :class:`ConfigError` that names the missing key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from config.edge import DEFAULT_MAX_BODY_BYTES, DEFAULT_RATE_LIMIT, EdgeSettings, edge_settings
from config.secret import Secret
from core.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///var/hub.db"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_SENSITIVE_TOPICS = ("refund", "account_access", "legal", "security_incident")


@dataclass(frozen=True)
class SlackSettings:
    bot_token: Secret
    signing_secret: Secret
    api_url: str
    channels: tuple[str, ...]  # ("*",) = every channel the bot is a member of
    triage_channel: str | None
    ticket_emoji: str = "ticket"  # SLACK_TICKET_EMOJI: reacting with it turns a thread into a ticket of record
    app_token: Secret | None = None  # SLACK_APP_TOKEN (xapp-...): Socket Mode instead of the public Request URL

    def answers_in(self, channel: str) -> bool:
        """Return whether the hub answers requests in ``channel``."""
        return "*" in self.channels or channel in self.channels


@dataclass(frozen=True)
class ZendeskSettings:
    url: str
    email: str
    api_token: Secret
    webhook_secret: Secret | None
    poll: bool = False  # the polling fallback, for installs that cannot receive webhooks


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


@dataclass(frozen=True)
class LLMSettings:
    url: str
    model: str
    api_key: Secret | None
    timeout_seconds: float


@dataclass(frozen=True)
class ChannelPolicy:
    """Per-channel overrides (a Slack channel id, or a source name such as ``zendesk``)."""

    threshold: float | None = None
    target_precision: float | None = None
    escalation_target: str | None = None
    respond_to_bots: bool = False
    dry_run: bool | None = None


@dataclass(frozen=True)
class Settings:
    database_url: str
    admin_token: Secret | None
    queue: str
    broker_url: str | None
    escalation_target: str | None
    slack: SlackSettings | None
    zendesk: ZendeskSettings | None
    jira: JiraSettings | None
    llm: LLMSettings | None
    target_precision: float
    dry_run: bool
    sensitive_topics: tuple[str, ...]
    embedding_model: str
    embedding_precision: str  # "auto" | "float32" | "bfloat16"
    dense: str  # "auto" | "on" | "off"
    job_workers: int
    inbox_max_attempts: int
    outbox_max_attempts: int
    sweep_interval_seconds: float
    retry_horizon_seconds: float
    answer_deadline_seconds: float
    lease_seconds: float
    outbox_workers: int
    job_process: bool
    poll_interval_seconds: float
    kb_sync_interval_seconds: float
    agent_ticket_cost: float
    automated_answer_cost: float
    channel_policies: Mapping[str, ChannelPolicy] = field(default_factory=dict)
    currency: str = "USD"  # ISO 4217 code shown beside every cost figure
    edge: EdgeSettings = field(default_factory=EdgeSettings)

    def policy(self, channel: str | None) -> ChannelPolicy:
        """Return the policy for ``channel``, or the defaults when it has none."""
        return self.channel_policies.get(channel or "", ChannelPolicy())

    def enabled_connectors(self) -> list[str]:
        """Return the names of the connectors whose credentials are configured."""
        return [name for name in ("slack", "zendesk", "jira") if getattr(self, name) is not None]


class _SettingsSchema(Schema):
    """Validates and casts the flat key/value configuration (env names as keys)."""

    class Meta:
        unknown = EXCLUDE

    HUB_DATABASE_URL = fields.String(load_default=DEFAULT_DATABASE_URL)
    HUB_ADMIN_TOKEN = fields.String(load_default=None)
    HUB_QUEUE = fields.String(load_default="inline", validate=validate.OneOf(["inline", "celery"]))
    HUB_BROKER_URL = fields.String(load_default=None)
    HUB_ESCALATION_TARGET = fields.String(load_default=None, validate=validate.OneOf(["zendesk", "jira", "slack"]))
    HUB_TARGET_PRECISION = fields.Float(load_default=0.95, validate=validate.Range(0.5, 1.0))
    HUB_DRY_RUN = fields.Boolean(load_default=False)
    HUB_SENSITIVE_TOPICS = fields.String(load_default=",".join(DEFAULT_SENSITIVE_TOPICS))
    HUB_EMBEDDING_MODEL = fields.String(load_default=DEFAULT_EMBEDDING_MODEL)
    HUB_EMBEDDING_PRECISION = fields.String(
        load_default="auto", validate=validate.OneOf(["auto", "float32", "bfloat16"])
    )
    HUB_DENSE = fields.String(load_default="auto", validate=validate.OneOf(["auto", "on", "off"]))
    HUB_JOB_WORKERS = fields.Integer(load_default=None, validate=validate.Range(1, 64))  # 1 on SQLite, else 2
    HUB_INBOX_MAX_ATTEMPTS = fields.Integer(load_default=5, validate=validate.Range(1, 100))
    HUB_OUTBOX_MAX_ATTEMPTS = fields.Integer(load_default=8, validate=validate.Range(1, 100))
    HUB_SWEEP_INTERVAL_SECONDS = fields.Float(load_default=5.0, validate=validate.Range(0.1, 3600))
    HUB_RETRY_HORIZON_SECONDS = fields.Float(load_default=86400.0, validate=validate.Range(1, 30 * 86400))
    HUB_ANSWER_DEADLINE_SECONDS = fields.Float(load_default=900.0, validate=validate.Range(1, 7 * 86400))
    HUB_LEASE_SECONDS = fields.Float(load_default=60.0, validate=validate.Range(0.5, 3600))
    HUB_OUTBOX_WORKERS = fields.Integer(load_default=2, validate=validate.Range(1, 64))
    HUB_JOB_PROCESS = fields.Boolean(load_default=True)
    HUB_POLL_INTERVAL_SECONDS = fields.Float(load_default=60.0, validate=validate.Range(5, 86400))
    HUB_KB_SYNC_INTERVAL_SECONDS = fields.Float(load_default=900.0, validate=validate.Range(60, 7 * 86400))
    HUB_AGENT_TICKET_COST = fields.Float(load_default=15.0, validate=validate.Range(0))
    HUB_AUTOMATED_ANSWER_COST = fields.Float(load_default=0.10, validate=validate.Range(0))
    HUB_CURRENCY = fields.String(
        load_default="USD", validate=validate.Regexp(r"^[A-Za-z]{3}$", error="must be a 3-letter ISO 4217 code, e.g. USD")
    )
    HUB_CHANNEL_POLICIES = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)
    SLACK_BOT_TOKEN = fields.String(load_default=None)
    SLACK_SIGNING_SECRET = fields.String(load_default=None)
    SLACK_API_URL = fields.Url(load_default="https://slack.com/api/", require_tld=False)
    SLACK_CHANNELS = fields.String(load_default="*")
    SLACK_TRIAGE_CHANNEL = fields.String(load_default=None)
    SLACK_TICKET_EMOJI = fields.String(
        load_default="ticket", validate=validate.Regexp(r"^:?[a-z0-9_+'-]{1,100}:?$", error="must be an emoji name, e.g. ticket")
    )
    SLACK_APP_TOKEN = fields.String(load_default=None, validate=validate.Regexp(r"^xapp-", error="must be an app-level token (xapp-...)"))
    ZENDESK_URL = fields.Url(load_default=None, require_tld=False)
    ZENDESK_EMAIL = fields.String(load_default=None)
    ZENDESK_API_TOKEN = fields.String(load_default=None)
    ZENDESK_WEBHOOK_SECRET = fields.String(load_default=None)
    ZENDESK_POLL = fields.Boolean(load_default=False)
    JIRA_URL = fields.Url(load_default=None, require_tld=False)
    JIRA_EMAIL = fields.String(load_default=None)
    JIRA_API_TOKEN = fields.String(load_default=None)
    JIRA_WEBHOOK_SECRET = fields.String(load_default=None)
    JIRA_PROJECT_KEY = fields.String(load_default=None)
    JIRA_POLL = fields.Boolean(load_default=False)
    JIRA_ALLOW_UNSIGNED_WEBHOOKS = fields.Boolean(load_default=False)
    JIRA_WEBHOOK_MAX_AGE_SECONDS = fields.Float(load_default=1800.0, validate=validate.Range(60, 7 * 86400))
    JIRA_REOPEN_TRANSITION = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{1,10}$", error="must be a transition id, e.g. 31"))
    JIRA_ISSUE_TYPE = fields.String(load_default="Task", validate=validate.Length(1, 255))
    JIRA_SERVICE_DESK_ID = fields.String(load_default=None, validate=validate.Regexp(r"^\d+$", error="must be a number"))
    JIRA_REQUEST_TYPE_ID = fields.Integer(load_default=None, validate=validate.Range(1))
    HUB_LLM_URL = fields.Url(load_default=None, require_tld=False)
    HUB_LLM_MODEL = fields.String(load_default=None)
    HUB_LLM_API_KEY = fields.String(load_default=None)
    HUB_LLM_TIMEOUT_SECONDS = fields.Float(load_default=10.0, validate=validate.Range(0.1, 300))
    HUB_MAX_BODY_BYTES = fields.Integer(load_default=DEFAULT_MAX_BODY_BYTES, validate=validate.Range(1024, 1024**3))
    HUB_RATE_LIMIT = fields.String(load_default=DEFAULT_RATE_LIMIT)
    HUB_RATE_LIMIT_STORAGE = fields.String(load_default=None)
    HUB_METRICS_TOKEN = fields.String(load_default=None)
    HUB_TRUSTED_PROXIES = fields.Integer(load_default=0, validate=validate.Range(0, 10))


class _ChannelPolicySchema(Schema):
    threshold = fields.Float(load_default=None, validate=validate.Range(0.0, 1.0))
    target_precision = fields.Float(load_default=None, validate=validate.Range(0.5, 1.0))
    escalation_target = fields.String(load_default=None, validate=validate.OneOf(["zendesk", "jira", "slack"]))
    respond_to_bots = fields.Boolean(load_default=False)
    dry_run = fields.Boolean(load_default=None)


SETTING_KEYS = tuple(_SettingsSchema().fields)


def _group(values: Mapping[str, Any], prefix: str, required: tuple[str, ...]) -> bool:
    """Return whether a connector is configured; raise when only part of its required keys are set."""
    present = [key for key in required if values.get(key)]
    if not present:
        return False
    missing = [key for key in required if not values.get(key)]
    if missing:
        raise ConfigError(
            f"{prefix} is half-configured: {', '.join(present)} set but {', '.join(missing)} missing"
        )
    return True


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def read_sources(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge the YAML file named by ``HUB_CONFIG`` (if any) with the environment; env wins.

    Raises:
        ConfigError: the YAML file cannot be read or is not a mapping.
    """
    env = dict(os.environ if environ is None else environ)
    merged: dict[str, Any] = {}
    path = env.get("HUB_CONFIG")
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"HUB_CONFIG: cannot read {path}: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"HUB_CONFIG: {path} must hold a mapping of setting names to values")
        merged.update({str(k): v for k, v in loaded.items()})
    merged.update({k: v for k, v in env.items() if k in SETTING_KEYS})
    return merged


def load_settings(values: Mapping[str, Any] | None = None) -> Settings:
    """Validate configuration into frozen settings.

    Args:
        values: setting names (DESIGN.md section 4) to values. ``None`` reads :func:`read_sources`.

    Returns:
        The settings.

    Raises:
        ConfigError: a value is invalid or a connector is half-configured; the message names the key.
    """
    raw = read_sources() if values is None else dict(values)
    raw = {k: v for k, v in raw.items() if v is not None and v != ""}
    try:
        v = _SettingsSchema().load(raw)
    except ValidationError as e:
        messages = e.messages if isinstance(e.messages, dict) else {"configuration": e.messages}
        detail = "; ".join(f"{key}: {' '.join(map(str, msgs))}" for key, msgs in sorted(messages.items()))
        raise ConfigError(f"invalid configuration: {detail}") from e

    slack = None
    if _group(v, "Slack", ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")):
        slack = SlackSettings(
            bot_token=Secret(v["SLACK_BOT_TOKEN"]),
            signing_secret=Secret(v["SLACK_SIGNING_SECRET"]),
            api_url=v["SLACK_API_URL"].rstrip("/") + "/",
            channels=_split(v["SLACK_CHANNELS"]) or ("*",),
            triage_channel=v["SLACK_TRIAGE_CHANNEL"],
            ticket_emoji=v["SLACK_TICKET_EMOJI"].strip(":"),
            app_token=_secret(v["SLACK_APP_TOKEN"]),
        )
    elif v["SLACK_APP_TOKEN"]:
        raise ConfigError("SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET are missing")
    zendesk = None
    if _group(v, "Zendesk", ("ZENDESK_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN")):
        zendesk = ZendeskSettings(
            url=v["ZENDESK_URL"].rstrip("/"),
            email=v["ZENDESK_EMAIL"],
            api_token=Secret(v["ZENDESK_API_TOKEN"]),
            webhook_secret=_secret(v["ZENDESK_WEBHOOK_SECRET"]),
            poll=v["ZENDESK_POLL"],
        )
    jira = None
    if _group(v, "Jira", ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN")):
        jira = JiraSettings(
            url=v["JIRA_URL"].rstrip("/"),
            email=v["JIRA_EMAIL"],
            api_token=Secret(v["JIRA_API_TOKEN"]),
            webhook_secret=_secret(v["JIRA_WEBHOOK_SECRET"]),
            project_key=v["JIRA_PROJECT_KEY"],
            poll=v["JIRA_POLL"],
            allow_unsigned_webhooks=v["JIRA_ALLOW_UNSIGNED_WEBHOOKS"],
            webhook_max_age_seconds=v["JIRA_WEBHOOK_MAX_AGE_SECONDS"],
            reopen_transition=v["JIRA_REOPEN_TRANSITION"],
            issue_type=v["JIRA_ISSUE_TYPE"],
            service_desk_id=v["JIRA_SERVICE_DESK_ID"],
            request_type_id=v["JIRA_REQUEST_TYPE_ID"],
        )
        if (jira.service_desk_id is None) != (jira.request_type_id is None):
            missing = "JIRA_REQUEST_TYPE_ID" if jira.request_type_id is None else "JIRA_SERVICE_DESK_ID"
            raise ConfigError(f"JSM requests need JIRA_SERVICE_DESK_ID and JIRA_REQUEST_TYPE_ID together: {missing} is missing")
    llm = None
    if _group(v, "The LLM writer", ("HUB_LLM_URL", "HUB_LLM_MODEL")):
        llm = LLMSettings(
            url=v["HUB_LLM_URL"].rstrip("/"),
            model=v["HUB_LLM_MODEL"],
            api_key=_secret(v["HUB_LLM_API_KEY"]),
            timeout_seconds=v["HUB_LLM_TIMEOUT_SECONDS"],
        )

    target = v["HUB_ESCALATION_TARGET"]
    if target == "zendesk" and zendesk is None:
        raise ConfigError("HUB_ESCALATION_TARGET is zendesk but ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN are missing")
    if target == "jira" and jira is None:
        raise ConfigError("HUB_ESCALATION_TARGET is jira but JIRA_URL, JIRA_EMAIL, JIRA_API_TOKEN are missing")
    if target == "jira" and jira is not None and not jira.project_key and jira.service_desk_id is None:
        raise ConfigError("HUB_ESCALATION_TARGET is jira but JIRA_PROJECT_KEY (or JIRA_SERVICE_DESK_ID and "
                          "JIRA_REQUEST_TYPE_ID) is missing")
    if target == "slack" and (slack is None or not slack.triage_channel):
        raise ConfigError("HUB_ESCALATION_TARGET is slack but SLACK_TRIAGE_CHANNEL is missing (where the drafts go)")
    if v["HUB_QUEUE"] == "celery" and not v["HUB_BROKER_URL"]:
        raise ConfigError("HUB_QUEUE is celery but HUB_BROKER_URL is missing")

    edge = edge_settings(v)
    policies: dict[str, ChannelPolicy] = {}
    for channel, policy in v["HUB_CHANNEL_POLICIES"].items():
        try:
            policies[channel] = ChannelPolicy(**_ChannelPolicySchema().load(policy))
        except ValidationError as e:
            raise ConfigError(f"invalid configuration: HUB_CHANNEL_POLICIES.{channel}: {e.messages}") from e

    return Settings(
        database_url=v["HUB_DATABASE_URL"],
        admin_token=_secret(v["HUB_ADMIN_TOKEN"]),
        queue=v["HUB_QUEUE"],
        broker_url=v["HUB_BROKER_URL"],
        escalation_target=target,
        slack=slack,
        zendesk=zendesk,
        jira=jira,
        llm=llm,
        target_precision=v["HUB_TARGET_PRECISION"],
        dry_run=v["HUB_DRY_RUN"],
        sensitive_topics=_split(v["HUB_SENSITIVE_TOPICS"]),
        embedding_model=v["HUB_EMBEDDING_MODEL"],
        embedding_precision=v["HUB_EMBEDDING_PRECISION"],
        dense=v["HUB_DENSE"],
        # SQLite has one write lock, which acknowledgements wait for: one inbox thread gave the best ack tail
        # (bench/ingest.py); PostgreSQL has no such lock.
        job_workers=v["HUB_JOB_WORKERS"] or (1 if v["HUB_DATABASE_URL"].startswith("sqlite") else 2),
        inbox_max_attempts=v["HUB_INBOX_MAX_ATTEMPTS"],
        outbox_max_attempts=v["HUB_OUTBOX_MAX_ATTEMPTS"],
        sweep_interval_seconds=v["HUB_SWEEP_INTERVAL_SECONDS"],
        retry_horizon_seconds=v["HUB_RETRY_HORIZON_SECONDS"],
        answer_deadline_seconds=v["HUB_ANSWER_DEADLINE_SECONDS"],
        lease_seconds=v["HUB_LEASE_SECONDS"],
        outbox_workers=v["HUB_OUTBOX_WORKERS"],
        job_process=v["HUB_JOB_PROCESS"],
        poll_interval_seconds=v["HUB_POLL_INTERVAL_SECONDS"],
        kb_sync_interval_seconds=v["HUB_KB_SYNC_INTERVAL_SECONDS"],
        agent_ticket_cost=v["HUB_AGENT_TICKET_COST"],
        automated_answer_cost=v["HUB_AUTOMATED_ANSWER_COST"],
        channel_policies=policies,
        currency=v["HUB_CURRENCY"].upper(),
        edge=edge,
    )
