"""With debug logging on, the vendor SDKs' own DEBUG lines stay off unless the admin names them: zenpy logs each
request's JSON and each response (comment bodies, requesters' names and addresses), jira-python a failed
response's headers and body, slack_sdk each response body. A Zendesk call faked with `responses`, made by the
services the hub builds, leaves neither the token nor the ticket's people and words in the captured log."""

from __future__ import annotations

import base64
import logging
from typing import Any, Iterator

import pytest
import responses

from config import load_settings
from connectors.actions import common_performers
from core.models import Source, TicketRef
from surfaces.log_levels import VENDOR_LOGGERS
from surfaces.services import Services, build_services
from tests.conftest import settings_dict
from tests.test_zendesk_connector import API, ZENDESK, mock_ticket
from tests.test_zendesk_mapping import load

TOKEN = ZENDESK["ZENDESK_API_TOKEN"] + "-Zx81q"  # long enough that finding it means it was logged
CREDENTIAL = base64.b64encode(f"{ZENDESK['ZENDESK_EMAIL']}/token:{TOKEN}".encode()).decode()
PERSONAL = ["customer@example.com", "having a problem setting up", "Dear Ana, your card ending 4242"]


@pytest.fixture(autouse=True)
def restored_levels() -> Iterator[None]:
    root = logging.getLogger()
    before = root.level, {name: logging.getLogger(name).level for name in VENDOR_LOGGERS}
    yield
    root.setLevel(before[0])
    for name, level in before[1].items():
        logging.getLogger(name).setLevel(level)


def talk_to_zendesk(sqlite_url: str, **values: Any) -> Services:
    """Build the hub's services as configured, read a ticket and answer it (the API faked by `responses`)."""
    services = build_services(load_settings(settings_dict(sqlite_url, **{**ZENDESK, "ZENDESK_API_TOKEN": TOKEN}, **values)))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        mock_ticket(api)
        api.put(f"{API}/tickets/1.json", json=load("ticket_update_response.json"))
        services.connectors["zendesk"].fetch(TicketRef(Source.ZENDESK, "1"))
        common_performers("zendesk", services.connectors["zendesk"])["post_reply"]({
            "ref": "zendesk:1", "idempotency_key": "answer:zendesk:1", "text": PERSONAL[2], "kind": "answer",
            "citations": [], "attempt": 1})
        assert api.calls[0].request.headers["Authorization"] == f"Basic {CREDENTIAL}"
    services.close()
    return services


@pytest.mark.parametrize("values", [{}, {"HUB_LOG_LEVEL": "debug"}])
def test_at_debug_a_vendor_call_logs_no_token_and_nobodys_data(sqlite_url: str, caplog: pytest.LogCaptureFixture,
                                                                values: dict[str, str]) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger at DEBUG, as a logging configuration (gunicorn's) sets it
    talk_to_zendesk(sqlite_url, **values)
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG  # the hub's own DEBUG lines still show
    logged = caplog.text
    assert TOKEN not in logged and CREDENTIAL not in logged
    assert [text for text in PERSONAL if text in logged] == []  # zenpy logged them all at DEBUG


def test_hub_log_level_debug_sets_the_hubs_level_and_keeps_the_sdks_at_info(sqlite_url: str) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    talk_to_zendesk(sqlite_url, HUB_LOG_LEVEL="DEBUG")  # the setting was unknown: silently nothing
    assert logging.getLogger().level == logging.DEBUG
    assert {logging.getLogger(name).getEffectiveLevel() for name in ("zenpy.lib.api", "urllib3", "jira")} == {logging.INFO}


def test_an_sdk_named_in_hub_log_level_logs_at_debug(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    talk_to_zendesk(sqlite_url, HUB_LOG_LEVEL="DEBUG,zenpy=DEBUG")  # the admin asked: README says what it logs
    assert PERSONAL[2] in caplog.text and TOKEN not in caplog.text
    assert logging.getLogger("urllib3").getEffectiveLevel() == logging.INFO
