"""Frozen settings, read once at boot (DESIGN.md section 4).

Sources, in rising precedence: the YAML file named by ``HUB_CONFIG``, then the environment. Tests pass a dict
to :func:`load_settings` and never touch ``os.environ``. A connector is enabled exactly when its credentials
are present; a half-configured one stops the boot with a :class:`ConfigError` that names the missing key.

This module reads the hub-wide keys. Each vendor's keys, defaults and cross-checks live in its own package
(``connectors/<vendor>/settings.py``, a :class:`config.base.VendorSettingsSpec`), named in
:data:`VENDOR_SETTINGS`: adding a vendor adds its module and one line there, and nothing else here.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from config.base import Choice, Flag, VendorSettingsSpec, configured, one_of, secret, trimmed, web_address
from config.edge import DEFAULT_MAX_BODY_BYTES, DEFAULT_RATE_LIMIT, EdgeSettings, edge_settings
from config.file import misspelt_in_environment, read_config_file
from config.logs import LogLevels
from config.policies import ChannelPolicy, Fraction, JSONObject, channel_policies
from config.secret import Secret
from config.topics import DEFAULT_SENSITIVE_TOPICS, SensitiveTopics
from config.unused import refuse_unused
from core.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///var/hub.db"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BROKER_QUEUE_PREFIX = "hub"  # broker queues hub.inbox and hub.outbox, as before the setting
TORCH_THREADS = "how many batches of texts are embedded at once, e.g. 2, or 0 (the default) for one per core"
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")  # the brokers the hub is tested on (kombu's names)

# The registry: the module of each vendor's settings, each exposing ``SPEC``, in the order the connectors are
# listed. Named, not imported: config sits below connectors (README, "Imports flow one way"), so the vendors
# implement config.base's protocol and are looked up by name when the settings are read.
VENDOR_SETTINGS: tuple[str, ...] = (
    "connectors.slack.settings",
    "connectors.zendesk.settings",
    "connectors.jira.settings",
)


@dataclass(frozen=True)
class LLMSettings:
    url: str
    model: str
    api_key: Secret | None
    timeout_seconds: float


@dataclass(frozen=True)
class Settings:
    database_url: str
    admin_token: Secret | None
    queue: str
    broker_url: str | None
    broker_queue_prefix: str  # the broker queues are <prefix>.inbox and <prefix>.outbox
    escalation_target: str | None
    vendors: Mapping[str, Any]  # a vendor's name to its settings (its settings.py), for the configured ones only
    llm: LLMSettings | None
    target_precision: float
    dry_run: bool
    sensitive_topics: tuple[str, ...]
    embedding_model: str
    embedding_precision: str  # "auto" | "float32" | "bfloat16"
    dense: str  # "auto" | "on" | "off"
    torch_threads: int  # texts batches embedded at once; 0: one per core
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
    log_levels: tuple[tuple[str, str], ...] = ()  # HUB_LOG_LEVEL: (logger, LEVEL), "" the processes' own

    # Shorthands for the vendors' settings (typed where they are defined: config does not import connectors).
    @property
    def slack(self) -> Any:
        """``connectors.slack.settings.SlackSettings``, or ``None`` when Slack is not configured."""
        return self.vendors.get("slack")

    @property
    def zendesk(self) -> Any:
        """``connectors.zendesk.settings.ZendeskSettings``, or ``None`` when Zendesk is not configured."""
        return self.vendors.get("zendesk")

    @property
    def jira(self) -> Any:
        """``connectors.jira.settings.JiraSettings``, or ``None`` when Jira is not configured."""
        return self.vendors.get("jira")

    def policy(self, channel: str | None) -> ChannelPolicy:
        """Return the policy for ``channel``, or the defaults when it has none."""
        return self.channel_policies.get(channel or "", ChannelPolicy())

    def enabled_connectors(self) -> list[str]:
        """Return the names of the connectors whose credentials are configured, in the registry's order."""
        return list(self.vendors)


# Validated as set: an empty guard list, or an empty queue prefix (another deployment's queues), is refused.
KEEP_EMPTY = frozenset({"HUB_SENSITIVE_TOPICS", "HUB_BROKER_QUEUE_PREFIX"})

def _database_url(value: str) -> None:
    """Refuse what SQLAlchemy cannot read as a URL, a database the hub does not run on, a driver it does not
    install, and a SQLite URL whose path would be read as a host (``sqlite://var/hub.db`` is ``hub.db`` here)."""
    example = "e.g. sqlite:///var/hub.db or postgresql+psycopg://user@host/db"
    try:
        url = make_url(value)
        backend = url.get_backend_name()
    except ArgumentError as e:
        raise ValidationError(f"not a database URL ({e}): {example}") from e
    if backend == "postgres":  # Heroku's and libpq's spelling, which SQLAlchemy does not read
        raise ValidationError("postgres:// is written postgresql+psycopg:// here, e.g. postgresql+psycopg://user@host/db")
    if backend not in ("sqlite", "postgresql"):
        raise ValidationError(f"the hub runs on SQLite or PostgreSQL, not {backend}: {example}")
    driver, installed = url.get_driver_name(), {"sqlite": "pysqlite", "postgresql": "psycopg"}[backend]
    if driver != installed:  # the hub installs psycopg (3) and uses Python's sqlite3: another driver is not there
        raise ValidationError(f"the hub talks to {'SQLite' if backend == 'sqlite' else 'PostgreSQL'} through "
                              f"{installed}, not {driver}: {example}")
    if backend == "sqlite" and url.host:
        raise ValidationError(f"sqlite://{url.host}/… reads {url.host!r} as a host, not a folder: a file's path follows "
                              "three slashes (sqlite:///var/hub.db, from where the hub runs) or four (sqlite:////srv/hub/hub.db)")


def _bearer_token(value: str) -> None:
    """Refuse a token no ``Authorization: Bearer`` header can carry as it is: the server strips the header's
    spaces (a token of spaces alone, or with spaces at its ends, would never match) and reads its bytes as
    Latin-1 (a character past ASCII arrives as other characters). The token itself is never quoted."""
    if not value.strip():
        raise ValidationError("is only spaces, which no Authorization header can carry: set a token (e.g. the output "
                              "of `openssl rand -hex 32`), or leave it unset")
    if value != value.strip():
        raise ValidationError("has spaces at its start or end, which an Authorization header drops: remove them")
    if not (value.isascii() and value.isprintable()):
        raise ValidationError("holds a character that is not printable ASCII, which an Authorization header does not "
                              "carry as it is: use letters, digits and punctuation")


def _queue_prefix(value: str) -> None:
    """Refuse a prefix that would not make a broker queue name of its own on Redis and RabbitMQ alike."""
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,100}", value):
        raise ValidationError(f"{value[:40]!r} is not 1 to 100 letters, digits, '.', '-', '_' or ':' (e.g. hub-staging)")
    if value == "amq" or value.startswith("amq."):  # NOTE(rabbitmq): amq.* queue names are reserved, declaring one fails
        raise ValidationError(f"{value[:40]!r}: RabbitMQ reserves queue names that start with amq. (e.g. hub-staging)")


class _SettingsSchema(Schema):
    """The hub-wide keys (env names as keys), their types and defaults; each vendor declares its own."""

    class Meta:
        unknown = EXCLUDE

    HUB_DATABASE_URL = fields.String(load_default=DEFAULT_DATABASE_URL, validate=_database_url)
    HUB_ADMIN_TOKEN = fields.String(load_default=None, validate=_bearer_token)
    HUB_QUEUE = Choice(["inline", "celery"], load_default="inline")
    HUB_BROKER_URL = fields.String(load_default=None)
    HUB_BROKER_QUEUE_PREFIX = fields.String(load_default=DEFAULT_BROKER_QUEUE_PREFIX, validate=_queue_prefix)
    HUB_ESCALATION_TARGET = fields.String(load_default=None)  # a vendor's name: checked against the registry
    HUB_TARGET_PRECISION = Fraction(0.5, load_default=0.95)
    HUB_DRY_RUN = Flag(load_default=False)
    HUB_SENSITIVE_TOPICS = SensitiveTopics(load_default=DEFAULT_SENSITIVE_TOPICS)  # config/topics.py
    HUB_EMBEDDING_MODEL = fields.String(load_default=DEFAULT_EMBEDDING_MODEL)
    HUB_EMBEDDING_PRECISION = Choice(["auto", "float32", "bfloat16"], load_default="auto")
    HUB_DENSE = Choice(["auto", "on", "off"], load_default="auto")
    HUB_TORCH_THREADS = fields.Integer(
        load_default=0, validate=validate.Range(0, 1024, error=f"{{input}} is not from 0 to 1024: {TORCH_THREADS}"),
        error_messages={"invalid": f"{{input!r}} is not a whole number: {TORCH_THREADS}"})
    HUB_LOG_LEVEL = LogLevels(load_default=())  # config/logs.py
    HUB_JOB_WORKERS = fields.Integer(load_default=None, validate=validate.Range(1, 64))  # 1 on SQLite, else 2
    HUB_INBOX_MAX_ATTEMPTS = fields.Integer(load_default=5, validate=validate.Range(1, 100))
    HUB_OUTBOX_MAX_ATTEMPTS = fields.Integer(load_default=8, validate=validate.Range(1, 100))
    HUB_SWEEP_INTERVAL_SECONDS = fields.Float(load_default=5.0, validate=validate.Range(0.1, 3600))
    HUB_RETRY_HORIZON_SECONDS = fields.Float(load_default=86400.0, validate=validate.Range(1, 30 * 86400))
    HUB_ANSWER_DEADLINE_SECONDS = fields.Float(load_default=900.0, validate=validate.Range(1, 7 * 86400))
    HUB_LEASE_SECONDS = fields.Float(load_default=60.0, validate=validate.Range(0.5, 3600))
    HUB_OUTBOX_WORKERS = fields.Integer(load_default=2, validate=validate.Range(1, 64))
    HUB_JOB_PROCESS = Flag(load_default=True)
    HUB_POLL_INTERVAL_SECONDS = fields.Float(load_default=60.0, validate=validate.Range(5, 86400))
    HUB_KB_SYNC_INTERVAL_SECONDS = fields.Float(load_default=900.0, validate=validate.Range(60, 7 * 86400))
    HUB_AGENT_TICKET_COST = fields.Float(load_default=15.0, validate=validate.Range(0))
    HUB_AUTOMATED_ANSWER_COST = fields.Float(load_default=0.10, validate=validate.Range(0))
    HUB_CURRENCY = fields.String(
        load_default="USD", validate=validate.Regexp(r"^[A-Za-z]{3}$", error="must be a 3-letter ISO 4217 code, e.g. USD")
    )
    HUB_CHANNEL_POLICIES = JSONObject(keys=fields.String(), values=fields.Dict(), load_default=dict)
    HUB_LLM_URL = fields.String(load_default=None, validate=web_address("https://api.openai.com/v1"))
    HUB_LLM_MODEL = fields.String(load_default=None)
    HUB_LLM_API_KEY = fields.String(load_default=None, validate=trimmed)
    HUB_LLM_TIMEOUT_SECONDS = fields.Float(load_default=10.0, validate=validate.Range(0.1, 300))
    HUB_MAX_BODY_BYTES = fields.Integer(load_default=DEFAULT_MAX_BODY_BYTES, validate=validate.Range(1024, 1024**3))
    HUB_RATE_LIMIT = fields.String(load_default=DEFAULT_RATE_LIMIT)
    HUB_RATE_LIMIT_STORAGE = fields.String(load_default=None)
    HUB_METRICS_TOKEN = fields.String(load_default=None, validate=_bearer_token)
    HUB_TRUSTED_PROXIES = fields.Integer(load_default=0, validate=validate.Range(0, 10))


def vendor_specs(modules: Sequence[str] = VENDOR_SETTINGS) -> tuple[VendorSettingsSpec[Any], ...]:
    """Return the ``SPEC`` of each module in ``modules`` (by default the registry, :data:`VENDOR_SETTINGS`)."""
    return tuple(importlib.import_module(module).SPEC for module in modules)


def _schemas(vendors: Sequence[VendorSettingsSpec[Any]]) -> list[tuple[str, Schema]]:
    """The hub's schema and each vendor's, by owner.

    Raises:
        ConfigError: two vendors share a name, or two owners declare the same key (a vendor module's mistake).
    """
    schemas: list[tuple[str, Schema]] = [("the hub", _SettingsSchema())]
    names = [spec.name for spec in vendors]
    if len(set(names)) != len(names):
        raise ConfigError(f"vendor settings: a name is registered twice in {', '.join(names)}")
    owners: dict[str, str] = {key: "the hub" for key in schemas[0][1].fields}
    for spec in vendors:
        schema = spec.schema()
        for key in schema.fields:
            if key in owners:
                raise ConfigError(f"vendor settings: {key} is declared by both {owners[key]} and {spec.name}")
            owners[key] = spec.name
        schemas.append((spec.name, schema))
    return schemas


def setting_keys(vendors: Sequence[VendorSettingsSpec[Any]] | None = None) -> tuple[str, ...]:
    """Every key read: the hub's and each vendor's (``None``: the registry's)."""
    return tuple(key for _, schema in _schemas(vendor_specs() if vendors is None else vendors) for key in schema.fields)


def read_sources(
    environ: Mapping[str, str] | None = None, vendors: Sequence[VendorSettingsSpec[Any]] | None = None
) -> dict[str, Any]:
    """Merge the YAML file named by ``HUB_CONFIG`` (if any) with the environment; env wins.

    Args:
        environ: the environment (``None``: ``os.environ``); only the keys of :func:`setting_keys` are taken.
        vendors: the vendors whose keys are taken (``None``: the registry's).

    Raises:
        ConfigError: the YAML file cannot be read, is not a mapping, or holds a key that is not a setting
            (:func:`config.file.read_config_file`); a ``HUB_`` name in the environment is a typo of a setting
            (:func:`config.file.misspelt_in_environment`).
    """
    env = dict(os.environ if environ is None else environ)
    keys = set(setting_keys(vendors))
    misspelt_in_environment(env, keys)
    merged: dict[str, Any] = read_config_file(env["HUB_CONFIG"], keys) if env.get("HUB_CONFIG") else {}
    merged.update({k: v for k, v in env.items() if k in keys})
    return merged


def _validate(raw: Mapping[str, Any], vendors: Sequence[VendorSettingsSpec[Any]]) -> dict[str, dict[str, Any]]:
    """Load ``raw`` with the hub's schema and each vendor's: owner ("the hub" or a vendor's name) to values.

    Raises:
        ConfigError: any value is invalid; the message names every invalid key.
    """
    loaded: dict[str, dict[str, Any]] = {}
    errors: dict[str, Any] = {}
    for owner, schema in _schemas(vendors):
        try:
            loaded[owner] = schema.load(raw)
        except ValidationError as e:
            errors.update(e.messages if isinstance(e.messages, dict) else {f"{owner} configuration": e.messages})
    target = raw.get("HUB_ESCALATION_TARGET")
    if isinstance(target, str):  # another type is the hub schema's error
        try:
            spelt = one_of(target, [spec.name for spec in vendors])
            if "the hub" in loaded:
                loaded["the hub"]["HUB_ESCALATION_TARGET"] = spelt
        except ValidationError as e:
            errors["HUB_ESCALATION_TARGET"] = e.messages
    if errors:
        detail = "; ".join(f"{key}: {' '.join(map(str, msgs))}" for key, msgs in sorted(errors.items()))
        raise ConfigError(f"invalid configuration: {detail}")
    return loaded


def load_settings(
    values: Mapping[str, Any] | None = None, vendors: Sequence[VendorSettingsSpec[Any]] | None = None
) -> Settings:
    """Validate configuration into frozen settings.

    Args:
        values: setting names (DESIGN.md section 4) to values. ``None`` reads :func:`read_sources`.
        vendors: the vendors whose settings are read, in order (``None``: the registry, :func:`vendor_specs`).
            A vendor outside the registry is read by passing it here with the others.

    Returns:
        The settings.

    Raises:
        ConfigError: a value is invalid or a connector is half-configured; the message names the key.
    """
    vendors = vendor_specs() if vendors is None else tuple(vendors)
    raw = read_sources(vendors=vendors) if values is None else dict(values)
    # An empty value is an unset one, except where that would quietly mean something else (config/topics.py).
    raw = {k: v for k, v in raw.items() if v is not None and (v != "" or k in KEEP_EMPTY)}
    loaded = _validate(raw, vendors)
    v = loaded["the hub"]

    built = {spec.name: spec.build(loaded[spec.name]) for spec in vendors}
    configured_vendors = {name: settings for name, settings in built.items() if settings is not None}
    llm = None
    if configured(v, "The LLM writer", ("HUB_LLM_URL", "HUB_LLM_MODEL")):
        llm = LLMSettings(
            url=v["HUB_LLM_URL"].rstrip("/"),
            model=v["HUB_LLM_MODEL"],
            api_key=secret(v["HUB_LLM_API_KEY"]),
            timeout_seconds=v["HUB_LLM_TIMEOUT_SECONDS"],
        )

    target = v["HUB_ESCALATION_TARGET"]
    if target is not None:
        spec = next(spec for spec in vendors if spec.name == target)
        if configured_vendors.get(target) is None:
            problem: str | None = f"{', '.join(spec.required)} are missing"
        else:
            problem = spec.escalation_problem(configured_vendors[target])
        if problem:
            raise ConfigError(f"HUB_ESCALATION_TARGET is {target} but {problem}")
    if v["HUB_QUEUE"] == "celery" and not v["HUB_BROKER_URL"]:
        raise ConfigError("HUB_QUEUE is celery but HUB_BROKER_URL is missing")
    scheme = (v["HUB_BROKER_URL"] or "redis://").partition("://")  # the URL's secret is never quoted
    if v["HUB_QUEUE"] == "celery" and (scheme[0] not in BROKER_SCHEMES or not scheme[1]):
        raise ConfigError(f"invalid configuration: HUB_BROKER_URL: the broker is Redis or RabbitMQ, not "
                          f"{scheme[0] + '://' if scheme[1] else 'a URL without a scheme'}: e.g. redis://127.0.0.1:6379/0 "
                          "or amqp://guest@127.0.0.1//")

    edge = edge_settings(v)
    policies = channel_policies(v["HUB_CHANNEL_POLICIES"], [spec.name for spec in vendors])
    refuse_unused(raw, v, vendors, configured_vendors)  # config/unused.py

    return Settings(
        database_url=v["HUB_DATABASE_URL"],
        admin_token=secret(v["HUB_ADMIN_TOKEN"]),
        queue=v["HUB_QUEUE"],
        broker_url=v["HUB_BROKER_URL"],
        broker_queue_prefix=v["HUB_BROKER_QUEUE_PREFIX"],
        escalation_target=target,
        vendors=configured_vendors,
        llm=llm,
        target_precision=v["HUB_TARGET_PRECISION"],
        dry_run=v["HUB_DRY_RUN"],
        sensitive_topics=v["HUB_SENSITIVE_TOPICS"],
        embedding_model=v["HUB_EMBEDDING_MODEL"],
        embedding_precision=v["HUB_EMBEDDING_PRECISION"],
        dense=v["HUB_DENSE"],
        torch_threads=v["HUB_TORCH_THREADS"],
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
        log_levels=v["HUB_LOG_LEVEL"],
    )
