"""One contract suite, run over every registered connector."""

from __future__ import annotations

import importlib

import pytest

from config import load_settings
from connectors import REGISTRY
from connectors.actions import common_performers
from connectors.base import Connector, HelpDesk
from core.errors import SignatureError
from core.models import Source

CREDENTIALS = {
    "slack": {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "contract-secret"},
    "zendesk": {"ZENDESK_URL": "http://127.0.0.1:8765", "ZENDESK_EMAIL": "hub@example.com",
                "ZENDESK_API_TOKEN": "t", "ZENDESK_WEBHOOK_SECRET": "contract-secret"},
    "jira": {"JIRA_URL": "http://127.0.0.1:8766", "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": "t",
             "JIRA_WEBHOOK_SECRET": "contract-secret", "JIRA_PROJECT_KEY": "SUP"},
}
HELP_DESKS = {"zendesk", "jira"}


def test_every_registered_connector_is_covered() -> None:
    assert set(REGISTRY) == set(CREDENTIALS)


@pytest.fixture(params=sorted(REGISTRY))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_without_credentials_the_connector_is_off(name: str) -> None:
    assert importlib.import_module(REGISTRY[name]).build(load_settings({})) is None


def test_with_credentials_it_is_a_connector_of_its_source(name: str) -> None:
    connector = importlib.import_module(REGISTRY[name]).build(load_settings(CREDENTIALS[name]))
    assert isinstance(connector, Connector)
    assert connector.source is Source(name)
    assert isinstance(connector, HelpDesk) is (name in HELP_DESKS)


def test_an_unsigned_request_is_refused(name: str) -> None:
    connector = importlib.import_module(REGISTRY[name]).build(load_settings(CREDENTIALS[name]))
    with pytest.raises(SignatureError):
        connector.verify({}, b'{"type": "event_callback"}')


def test_a_wrongly_signed_request_is_refused(name: str) -> None:
    connector = importlib.import_module(REGISTRY[name]).build(load_settings(CREDENTIALS[name]))
    forged = {
        "X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "1700000000",
        "X-Zendesk-Webhook-Signature": "AAAA", "X-Zendesk-Webhook-Signature-Timestamp": "2025-01-01T00:00:00Z",
        "X-Hub-Signature": "sha256=" + "0" * 64,
    }
    with pytest.raises(SignatureError):
        connector.verify(forged, b"{}")


def test_it_performs_the_shared_outbox_actions(name: str) -> None:
    module = importlib.import_module(REGISTRY[name])
    connector = module.build(load_settings(CREDENTIALS[name]))
    actions = set(common_performers(name, connector)) | set(getattr(module, "extra_performers", lambda c: {})(connector))
    assert {"post_reply", "add_internal_note"} <= actions
    assert ("create_ticket" in actions) is (name in HELP_DESKS)
