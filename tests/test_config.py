"""Configuration: validated at boot, secrets masked, half-configured connectors named."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from config.settings import read_sources
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
