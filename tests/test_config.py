"""Configuration: validated at boot, secrets masked, half-configured connectors named; each vendor's keys are
read by its own settings module (``connectors/<vendor>/settings.py``), and a vendor outside the registry is
read when passed to :func:`load_settings`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pytest
from marshmallow import EXCLUDE, Schema, fields

import connectors
from config import Secret, load_settings
from config.base import VendorSettingsSpec, configured
from config.settings import read_sources, vendor_specs
from connectors.jira.settings import SPEC as JIRA_SPEC
from connectors.slack.settings import SPEC as SLACK_SPEC
from connectors.zendesk.settings import SPEC as ZENDESK_SPEC
from core.errors import ConfigError

SLACK = {"SLACK_BOT_TOKEN": "xoxb-secret-token", "SLACK_SIGNING_SECRET": "signing-secret-value"}
ZENDESK = {"ZENDESK_URL": "http://127.0.0.1:8765", "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "zd-secret"}


def test_defaults_need_no_configuration() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite:///var/hub.db"
    assert settings.queue == "inline"
    assert settings.target_precision == 0.95
    assert settings.enabled_connectors() == []
    assert settings.slack is None and settings.zendesk is None and settings.jira is None


def test_a_connector_is_enabled_exactly_when_its_credentials_are_set() -> None:
    settings = load_settings({**SLACK, **ZENDESK, "SLACK_CHANNELS": "C1, C2"})
    assert settings.enabled_connectors() == ["slack", "zendesk"]
    assert settings.slack is not None and settings.slack.channels == ("C1", "C2")
    assert settings.slack.answers_in("C1") and not settings.slack.answers_in("C9")
    assert settings.zendesk is not None and settings.zendesk.url == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    "values, missing",
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ({"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_EMAIL": "a@b.c"}, "ZENDESK_API_TOKEN"),
        ({"JIRA_URL": "https://acme.atlassian.net", "JIRA_API_TOKEN": "t"}, "JIRA_EMAIL"),
        ({"HUB_LLM_URL": "http://127.0.0.1:9000/v1"}, "HUB_LLM_MODEL"),
        ({**SLACK, "HUB_ESCALATION_TARGET": "jira"}, "JIRA_URL"),
        ({"HUB_QUEUE": "celery"}, "HUB_BROKER_URL"),
    ],
)
def test_a_half_configured_connector_stops_the_boot_naming_the_missing_key(values: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        load_settings(values)


def test_jira_as_escalation_target_needs_a_project_key() -> None:
    jira = {"JIRA_URL": "https://acme.atlassian.net", "JIRA_EMAIL": "a@b.c", "JIRA_API_TOKEN": "t"}
    with pytest.raises(ConfigError, match="JIRA_PROJECT_KEY"):
        load_settings({**jira, "HUB_ESCALATION_TARGET": "jira"})
    assert load_settings({**jira, "HUB_ESCALATION_TARGET": "jira", "JIRA_PROJECT_KEY": "HELP"}).escalation_target == "jira"


@pytest.mark.parametrize(
    "values, key",
    [
        ({"HUB_QUEUE": "kafka"}, "HUB_QUEUE"),
        ({"HUB_TARGET_PRECISION": "high"}, "HUB_TARGET_PRECISION"),
        ({"HUB_JOB_WORKERS": "0"}, "HUB_JOB_WORKERS"),
        ({"HUB_EMBEDDING_PRECISION": "half"}, "HUB_EMBEDDING_PRECISION"),
        ({"ZENDESK_URL": "not a url", "ZENDESK_EMAIL": "a", "ZENDESK_API_TOKEN": "t"}, "ZENDESK_URL"),
        ({"HUB_CHANNEL_POLICIES": {"C1": {"threshold": 3}}}, "HUB_CHANNEL_POLICIES.C1"),
    ],
)
def test_invalid_values_are_refused_naming_the_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(values)


@pytest.mark.parametrize("values, message", [
    ({"SLACK_CHANNELS": "#support"}, "SLACK_CHANNELS: not channel ids: #support "),
    ({"SLACK_CHANNELS": "C0123ABCD, support"}, "SLACK_CHANNELS: not channel ids: support "),
    ({"SLACK_TRIAGE_CHANNEL": "#triage", "HUB_ESCALATION_TARGET": "slack"}, "SLACK_TRIAGE_CHANNEL: not a channel id: #triage "),
])
def test_slack_channels_named_by_name_stop_the_boot_saying_where_the_ids_are(values: dict[str, str], message: str) -> None:
    # the hub only ever sees ids in events: a #name would silently never match
    with pytest.raises(ConfigError, match=f"invalid configuration: {message}.*About tab.*#names do not work"):
        load_settings({**SLACK, **values})
    settings = load_settings({**SLACK, "SLACK_CHANNELS": "C0123ABCD, G0456EFGH", "SLACK_TRIAGE_CHANNEL": "C0TRIAGE1"})
    assert settings.slack is not None and settings.slack.channels == ("C0123ABCD", "G0456EFGH")


def test_secrets_are_masked_in_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings({**SLACK, **ZENDESK, "HUB_ADMIN_TOKEN": "admin-token-value"})
    text = repr(settings)
    for secret in ("xoxb-secret-token", "signing-secret-value", "zd-secret", "admin-token-value"):
        assert secret not in text
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %s", settings, settings.slack)
    assert "xoxb-secret-token" not in caplog.text
    assert settings.slack is not None and settings.slack.bot_token.reveal() == "xoxb-secret-token"


def test_yaml_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(
        "HUB_TARGET_PRECISION: 0.9\nSLACK_CHANNELS: C1\n"
        "HUB_CHANNEL_POLICIES:\n  C1: {threshold: 0.8, respond_to_bots: true}\n",
        encoding="utf-8",
    )
    merged = read_sources({"HUB_CONFIG": str(path), "SLACK_CHANNELS": "C2", "UNRELATED": "x"})
    settings = load_settings({**merged, **SLACK})
    assert settings.target_precision == 0.9
    assert settings.slack is not None and settings.slack.channels == ("C2",)
    assert settings.policy("C1").threshold == 0.8 and settings.policy("C1").respond_to_bots
    assert settings.policy("C9").threshold is None
    assert "UNRELATED" not in merged


@pytest.mark.parametrize("text, message", [
    ("hub_dry_run: true\n", "hub_dry_run is not a setting (did you mean HUB_DRY_RUN?)"),  # shadow mode silently off
    ("HUB_TARGET_PRECISON: 0.8\n", "HUB_TARGET_PRECISON is not a setting (did you mean HUB_TARGET_PRECISION?)"),
    ("HUB_PORT: 8001\n", "HUB_PORT is read from the environment only: set it there, not in this file"),
    ("GREETING: hello\n", "GREETING is not a setting"),
])
def test_a_yaml_key_that_is_not_a_setting_stops_the_boot_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("HUB_TARGET_PRECISION: 0.9\n" + text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        read_sources({"HUB_CONFIG": str(path)})
    assert str(refused.value) == f"HUB_CONFIG: {path}: {message}"


@pytest.mark.parametrize("token, message", [
    ("not-a-token-1234", "not a bot token: use the Bot User OAuth Token (xoxb-...), on the app's OAuth & Permissions page"),
    ("xoxp-1234-user", "not a bot token: use the Bot User OAuth Token (xoxb-...)"),  # a user token posts as a person
    ("xapp-1-A0-1234", "an app-level token (xapp-...) goes in SLACK_APP_TOKEN; here use the Bot User OAuth Token"),
])
def test_a_slack_bot_token_that_is_not_one_stops_the_boot_without_echoing_it(token: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:  # it booted, and every Slack call then failed with invalid_auth
        load_settings({**SLACK, "SLACK_BOT_TOKEN": token})
    assert f"invalid configuration: SLACK_BOT_TOKEN: {message}" in str(refused.value) and token not in str(refused.value)
    for fine in ("xoxb-1-abc", "xoxe.xoxb-1-abc"):  # a rotating bot token too
        assert load_settings({**SLACK, "SLACK_BOT_TOKEN": fine}).slack is not None


def test_channel_policies_are_read_from_the_environment_as_json() -> None:
    env = {"HUB_CHANNEL_POLICIES": '{"C0123ABCD": {"dry_run": true, "threshold": 0.5}}'}
    settings = load_settings(read_sources(env))
    assert settings.policy("C0123ABCD").dry_run is True and settings.policy("C0123ABCD").threshold == 0.5
    assert settings.policy("C9").dry_run is None


def test_a_channel_policy_keyed_by_a_slack_channels_name_is_refused() -> None:
    # {"#support": {"dry_run": true}} booted, never applied (events carry ids), and #support got live answers
    with pytest.raises(ConfigError) as refused:
        load_settings(read_sources({"HUB_CHANNEL_POLICIES": '{"#support": {"dry_run": true}}'}))
    assert str(refused.value) == ("invalid configuration: HUB_CHANNEL_POLICIES: '#support' is a channel's name: a Slack "
                                  "channel's policy is keyed by its id (e.g. C0123ABCD, at the bottom of its About tab)")
    named = load_settings({"HUB_CHANNEL_POLICIES": {"C0123ABCD": {"dry_run": True}, "pricing-form": {"threshold": 0.9}}})
    assert named.policy("C0123ABCD").dry_run and named.policy("pricing-form").threshold == 0.9  # a web form's own name


@pytest.mark.parametrize("value, message", [
    ("{C0123ABCD: shadow", "HUB_CHANNEL_POLICIES: not JSON .*a JSON object, e.g. "),
    ('["C0123ABCD"]', "HUB_CHANNEL_POLICIES: must be a JSON object, e.g. "),
    ('{"C1": {"threshold": 3}}', r"HUB_CHANNEL_POLICIES\.C1: "),
])
def test_channel_policies_from_the_environment_that_are_not_a_json_object_are_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(read_sources({"HUB_CHANNEL_POLICIES": value}))


@pytest.mark.parametrize("url, message", [
    ("nonsense", "HUB_DATABASE_URL: not a database URL"),
    ("hub.db", "HUB_DATABASE_URL: not a database URL"),
    ("mysql://hub@db/hub", "HUB_DATABASE_URL: the hub runs on SQLite or PostgreSQL, not mysql"),
    ("postgres://hub@db/hub", "HUB_DATABASE_URL: postgres:// is written postgresql\\+psycopg:// here"),  # "not postgres"
    ("postgresql+asyncpg://hub@db/hub", "through psycopg, not asyncpg"),  # a traceback when the engine was made
    ("sqlite://var/hub.db", "sqlite://var/… reads 'var' as a host"),  # the database was ./hub.db
])
def test_a_database_url_the_hub_cannot_use_stops_the_boot_naming_the_key(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"HUB_DATABASE_URL": url})
    assert load_settings({"HUB_DATABASE_URL": "postgresql+psycopg://hub@db/hub"}).database_url == "postgresql+psycopg://hub@db/hub"


def test_an_unreadable_yaml_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HUB_CONFIG"):
        read_sources({"HUB_CONFIG": str(tmp_path / "missing.yaml")})
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        read_sources({"HUB_CONFIG": str(bad)})


@pytest.mark.parametrize("values,workers", [
    ({"HUB_DATABASE_URL": "sqlite:///var/hub.db"}, 1),  # one write lock: one inbox thread keeps acks fast
    ({"HUB_DATABASE_URL": "postgresql+psycopg://hub@db/hub"}, 2),
    ({"HUB_DATABASE_URL": "sqlite:///var/hub.db", "HUB_JOB_WORKERS": "3"}, 3),  # an explicit setting wins
])
def test_inbox_threads_default_by_database(values: dict[str, str], workers: int) -> None:
    assert load_settings(values).job_workers == workers


JIRA = {"JIRA_URL": "https://acme.atlassian.net", "JIRA_EMAIL": "a@b.c", "JIRA_API_TOKEN": "t"}


def test_the_registry_reads_the_settings_of_every_registered_connector() -> None:
    assert [spec.name for spec in vendor_specs()] == list(connectors.REGISTRY)


@pytest.mark.parametrize(
    "spec, values, key",
    [
        (SLACK_SPEC, {"SLACK_TICKET_EMOJI": "not an emoji!"}, "SLACK_TICKET_EMOJI"),
        (SLACK_SPEC, {"SLACK_TEAM_ID": "#support"}, "SLACK_TEAM_ID"),
        (ZENDESK_SPEC, {"ZENDESK_POLL": "sometimes"}, "ZENDESK_POLL"),
        (JIRA_SPEC, {"JIRA_REQUEST_TYPE_ID": "twenty-five"}, "JIRA_REQUEST_TYPE_ID"),
    ],
)
def test_a_vendors_keys_are_read_by_its_own_settings_module(
    spec: VendorSettingsSpec[Any], values: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError, match=f"invalid configuration: {key}: "):
        load_settings(values)
    with pytest.raises(ConfigError, match=f"invalid configuration: {key}: "):
        load_settings(values, vendors=[spec])  # its module alone refuses the value
    others = [other for other in vendor_specs() if other is not spec]
    assert load_settings(values, vendors=others).enabled_connectors() == []  # nothing else reads the key


@pytest.mark.parametrize(
    "values, message",
    [
        ({**JIRA, "JIRA_SERVICE_DESK_ID": "4"}, "JIRA_SERVICE_DESK_ID and JIRA_REQUEST_TYPE_ID together: JIRA_REQUEST_TYPE_ID is missing"),
        ({**JIRA, "JIRA_REQUEST_TYPE_ID": "25"}, "JIRA_SERVICE_DESK_ID and JIRA_REQUEST_TYPE_ID together: JIRA_SERVICE_DESK_ID is missing"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET are missing"),
        ({"HUB_ESCALATION_TARGET": "zendesk"}, "HUB_ESCALATION_TARGET is zendesk but ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN are missing"),
        ({**SLACK, "HUB_ESCALATION_TARGET": "slack"}, "HUB_ESCALATION_TARGET is slack but SLACK_TRIAGE_CHANNEL is missing"),
        ({"HUB_ESCALATION_TARGET": "slack"}, "HUB_ESCALATION_TARGET is slack but SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET are missing"),
        ({**JIRA, "HUB_ESCALATION_TARGET": "jira"}, "HUB_ESCALATION_TARGET is jira but JIRA_PROJECT_KEY"),
        ({"HUB_ESCALATION_TARGET": "freshdesk"}, "HUB_ESCALATION_TARGET: Must be one of: slack, zendesk, jira"),
        ({"HUB_CHANNEL_POLICIES": {"C1": {"escalation_target": "freshdesk"}}}, "HUB_CHANNEL_POLICIES.C1: .*slack, zendesk, jira"),
    ],
)
def test_the_vendors_cross_checks_stop_the_boot(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(values)


def test_each_vendor_is_built_from_its_own_keys() -> None:
    settings = load_settings({**SLACK, **ZENDESK, **JIRA, "SLACK_TRIAGE_CHANNEL": "C9", "SLACK_TICKET_EMOJI": ":sos:",
                              "ZENDESK_POLL": "true", "JIRA_SERVICE_DESK_ID": "4", "JIRA_REQUEST_TYPE_ID": "25",
                              "HUB_ESCALATION_TARGET": "jira", "HUB_CHANNEL_POLICIES": {"C1": {"escalation_target": "slack"}}})
    assert settings.enabled_connectors() == ["slack", "zendesk", "jira"]
    assert (settings.slack.triage_channel, settings.slack.ticket_emoji, settings.slack.api_url) == ("C9", "sos", "https://slack.com/api/")
    assert settings.zendesk.poll and settings.zendesk.webhook_secret is None
    assert (settings.jira.service_desk_id, settings.jira.request_type_id, settings.jira.issue_type) == ("4", 25, "Task")
    assert settings.escalation_target == "jira" and settings.policy("C1").escalation_target == "slack"


@dataclass(frozen=True)
class AcmeSettings:
    url: str
    token: Secret
    queue: str


class AcmeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    ACME_URL = fields.Url(load_default=None, require_tld=False)
    ACME_TOKEN = fields.String(load_default=None)
    ACME_QUEUE = fields.String(load_default="support")


class AcmeSpec:
    """A vendor the registry does not know, written as a vendor's settings module would be."""

    name = "acme"
    required = ("ACME_URL", "ACME_TOKEN")
    schema: type[Schema] = AcmeSchema

    def build(self, values: Mapping[str, Any]) -> AcmeSettings | None:
        if not configured(values, "Acme", self.required):
            return None
        return AcmeSettings(values["ACME_URL"], Secret(values["ACME_TOKEN"]), values["ACME_QUEUE"])

    def escalation_problem(self, settings: AcmeSettings) -> str | None:
        return None if settings.queue != "none" else "ACME_QUEUE is none"


ACME: VendorSettingsSpec[AcmeSettings] = AcmeSpec()
ACME_VALUES = {"ACME_URL": "http://127.0.0.1:9", "ACME_TOKEN": "acme-secret-token"}


def test_a_vendor_passed_to_load_settings_is_read_like_the_registered_ones() -> None:
    vendors = (*vendor_specs(), ACME)
    settings = load_settings({**SLACK, **ACME_VALUES, "HUB_ESCALATION_TARGET": "acme"}, vendors=vendors)
    assert settings.enabled_connectors() == ["slack", "acme"]
    assert settings.vendors["acme"] == AcmeSettings("http://127.0.0.1:9", Secret("acme-secret-token"), "support")
    assert settings.escalation_target == "acme" and "acme-secret-token" not in repr(settings)
    assert read_sources({"ACME_QUEUE": "billing", "SLACK_CHANNELS": "C1"}, vendors=vendors) == {"ACME_QUEUE": "billing", "SLACK_CHANNELS": "C1"}
    with pytest.raises(ConfigError, match="Acme is half-configured: ACME_TOKEN set but ACME_URL missing"):
        load_settings({"ACME_TOKEN": "t"}, vendors=vendors)
    with pytest.raises(ConfigError, match="invalid configuration: ACME_URL: "):
        load_settings({**ACME_VALUES, "ACME_URL": "not a url"}, vendors=vendors)
    with pytest.raises(ConfigError, match="HUB_ESCALATION_TARGET is acme but ACME_QUEUE is none"):
        load_settings({**ACME_VALUES, "ACME_QUEUE": "none", "HUB_ESCALATION_TARGET": "acme"}, vendors=vendors)


def test_a_vendor_not_passed_is_not_read() -> None:
    assert load_settings(ACME_VALUES).vendors == {}
    assert read_sources({"ACME_QUEUE": "billing"}) == {}
    with pytest.raises(ConfigError, match="HUB_ESCALATION_TARGET: Must be one of: slack, zendesk, jira"):
        load_settings({**ACME_VALUES, "HUB_ESCALATION_TARGET": "acme"})


class ClashingSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    SLACK_BOT_TOKEN = fields.String(load_default=None)


class ClashingSpec(AcmeSpec):
    schema = ClashingSchema


def test_a_key_declared_by_two_vendors_is_refused_naming_both() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is declared by both slack and acme"):
        load_settings({}, vendors=(*vendor_specs(), ClashingSpec()))
    with pytest.raises(ConfigError, match="registered twice"):
        load_settings({}, vendors=(*vendor_specs(), SLACK_SPEC))


def test_sensitive_topics_unset_are_the_default_and_none_is_none(tmp_path: Path) -> None:
    assert load_settings({}).sensitive_topics == ("refund", "account_access", "legal", "security_incident")
    assert load_settings(read_sources({"HUB_SENSITIVE_TOPICS": "none"})).sensitive_topics == ()
    assert load_settings({"HUB_SENSITIVE_TOPICS": " None "}).sensitive_topics == ()
    path = tmp_path / "hub.yaml"
    path.write_text("HUB_SENSITIVE_TOPICS: []\n", encoding="utf-8")  # an empty list in YAML says none too
    assert load_settings(read_sources({"HUB_CONFIG": str(path)})).sensitive_topics == ()
    path.write_text("HUB_SENSITIVE_TOPICS: [refund, pricing]\n", encoding="utf-8")
    assert load_settings(read_sources({"HUB_CONFIG": str(path)})).sensitive_topics == ("refund", "pricing")


@pytest.mark.parametrize("value", ["", " , "])
def test_an_empty_sensitive_topics_value_is_refused_saying_how_to_say_none(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(read_sources({"HUB_SENSITIVE_TOPICS": value}))
    assert ("HUB_SENSITIVE_TOPICS: empty: write 'none' for no sensitive topics, or leave it unset for the default "
            "(refund,account_access,legal,security_incident)") in str(refused.value)


def test_sensitive_topics_are_known_names_or_keywords_and_a_misspelt_topic_is_refused() -> None:
    topics = load_settings({"HUB_SENSITIVE_TOPICS": "Account-Access, pricing, legal, pricing"}).sensitive_topics
    assert topics == ("account_access", "pricing", "legal")  # the known name as the guard spells it; once each
    for value, meant in (("refunds", "refund"), ("acount_access", "account_access"), ("security_incidents", "security_incident")):
        with pytest.raises(ConfigError) as refused:
            load_settings({"HUB_SENSITIVE_TOPICS": f"legal,{value}"})
        message = str(refused.value)
        assert f"HUB_SENSITIVE_TOPICS: '{value}' is not a known topic; did you mean '{meant}'?" in message
        assert "the known topics are refund, account_access, legal, security_incident" in message
    for value in ("none,refund", "***"):
        with pytest.raises(ConfigError, match="HUB_SENSITIVE_TOPICS"):
            load_settings({"HUB_SENSITIVE_TOPICS": value})


def test_the_known_topics_are_the_guards() -> None:
    from config.topics import KNOWN_TOPICS
    from interceptor.guard import TOPIC_PATTERNS

    assert set(KNOWN_TOPICS) == set(TOPIC_PATTERNS)
