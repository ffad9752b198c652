"""A setting's value as an admin writes it: a product's name with its capital, a yes-or-no setting in words
the hub does not take, a token an Authorization header cannot carry. Read the way it was meant, or refused
at boot in one line that names the setting and says what it takes."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from config import load_settings
from config.settings import read_sources
from core.errors import ConfigError

ZENDESK = {"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_EMAIL": "hub@acme.test", "ZENDESK_API_TOKEN": "t"}
JIRA = {"JIRA_URL": "https://acme.atlassian.net", "JIRA_EMAIL": "hub@acme.test", "JIRA_API_TOKEN": "t", "JIRA_PROJECT_KEY": "HELP"}


def refusal(values: dict[str, str]) -> str:
    """What the boot says when it refuses ``values`` (as the environment holds them)."""
    with pytest.raises(ConfigError) as refused:
        load_settings(read_sources(values))
    return str(refused.value)


@pytest.mark.parametrize("values, read", [
    ({**ZENDESK, "HUB_ESCALATION_TARGET": "Zendesk"}, {"escalation_target": "zendesk"}),  # refused for its capital
    ({**JIRA, "HUB_ESCALATION_TARGET": " JIRA "}, {"escalation_target": "jira"}),
    ({"HUB_QUEUE": "Celery", "HUB_BROKER_URL": "redis://127.0.0.1:6379/0"}, {"queue": "celery"}),
    ({"HUB_DENSE": "Off"}, {"dense": "off"}),
    ({"HUB_EMBEDDING_PRECISION": "BFloat16"}, {"embedding_precision": "bfloat16"}),
    ({"HUB_DRY_RUN": " Yes"}, {"dry_run": True}),
    ({"HUB_JOB_PROCESS": "oFF"}, {"job_process": False}),
])
def test_a_setting_that_takes_a_name_reads_it_whatever_its_case(values: dict[str, str], read: dict[str, Any]) -> None:
    settings = load_settings(read_sources(values))
    assert {name: getattr(settings, name) for name in read} == read


@pytest.mark.parametrize("value, read", [(None, None), ("EN-US", "en-us"), (" pt-BR ", "pt-br"), ("es-419", "es-419")])
def test_the_help_center_locale_is_read_whatever_its_case(value: str | None, read: str | None) -> None:
    settings = load_settings(read_sources({**ZENDESK, **({"ZENDESK_HC_LOCALE": value} if value else {})}))
    assert settings.zendesk is not None and settings.zendesk.hc_locale == read


def test_a_channel_policys_target_and_flags_are_read_whatever_their_case() -> None:
    policy = '{"C0123ABCD": {"escalation_target": "Jira", "dry_run": "TRUE", "respond_to_bots": "No"}}'
    settings = load_settings(read_sources({**JIRA, "HUB_CHANNEL_POLICIES": policy}))
    chosen = settings.policy("C0123ABCD")
    assert (chosen.escalation_target, chosen.dry_run, chosen.respond_to_bots) == ("jira", True, False)


@pytest.mark.parametrize("values, message", [
    ({"HUB_DRY_RUN": "maybe"},  # "HUB_DRY_RUN: Not a valid boolean."
     "HUB_DRY_RUN: 'maybe' is not true or false: use true or false (or yes/no, on/off, 1/0)"),
    ({**ZENDESK, "ZENDESK_POLL": "hourly"},
     "ZENDESK_POLL: 'hourly' is not true or false: use true or false (or yes/no, on/off, 1/0)"),
    ({**ZENDESK, "ZENDESK_HC_LOCALE": "English"},  # a language's name, not its code: no article would ever match
     "ZENDESK_HC_LOCALE: 'English' is not a Help Center locale: write its code, such as en-us, de or pt-br (as in your "
     "Help Center's addresses: /hc/en-us/...)"),
    ({**ZENDESK, "ZENDESK_HC_LOCALE": "/hc/en_us"},
     "ZENDESK_HC_LOCALE: '/hc/en_us' is not a Help Center locale: write its code, such as en-us, de or pt-br (as in "
     "your Help Center's addresses: /hc/en-us/...)"),
    ({"HUB_CHANNEL_POLICIES": '{"C1": {"dry_run": "perhaps"}}'},
     "HUB_CHANNEL_POLICIES.C1: dry_run: 'perhaps' is not true or false: use true or false (or yes/no, on/off, 1/0)"),
    ({"HUB_ESCALATION_TARGET": "zendsk"}, "HUB_ESCALATION_TARGET: Must be one of: slack, zendesk, jira."),
    ({"HUB_QUEUE": "Celry"}, "HUB_QUEUE: Must be one of: inline, celery."),
    ({"HUB_DENSE": "yes"}, "HUB_DENSE: Must be one of: auto, on, off."),
    ({"HUB_CHANNEL_POLICIES": '{"C1": {"escalation_target": "Freshdesk"}}'},
     "HUB_CHANNEL_POLICIES.C1: escalation_target: Must be one of: slack, zendesk, jira."),
])
def test_a_value_that_is_none_of_those_a_setting_takes_is_refused_listing_them(values: dict[str, str], message: str) -> None:
    assert refusal(values) == f"invalid configuration: {message}"


@pytest.mark.parametrize("key", ["HUB_ADMIN_TOKEN", "HUB_METRICS_TOKEN"])
@pytest.mark.parametrize("token, problem", [
    ("   ", "is only spaces, which no Authorization header can carry: set a token (e.g. the output of "
           "`openssl rand -hex 32`), or leave it unset"),
    ("\t", "is only spaces, which no Authorization header can carry: set a token (e.g. the output of "
           "`openssl rand -hex 32`), or leave it unset"),
    ("s3cret-token ", "has spaces at its start or end, which an Authorization header drops: remove them"),
    ("clé-secrète", "holds a character that is not printable ASCII, which an Authorization header does not carry "
                    "as it is: use letters, digits and punctuation"),
])
def test_a_token_no_bearer_header_can_carry_stops_the_boot_naming_it(key: str, token: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:  # accepted, and no request could ever send it
        load_settings(read_sources({key: token}))
    assert str(refused.value) == f"invalid configuration: {key}: {problem}"
    assert token.strip() not in str(refused.value) or not token.strip()  # a secret is never quoted


def test_a_token_with_a_space_inside_is_sent_as_it_is(sqlite_url: str) -> None:
    app = create_app({"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off", "HUB_ADMIN_TOKEN": "two words"})
    client: FlaskClient = app.test_client()
    assert client.get("/api/v1/stats", headers={"Authorization": "Bearer two words"}).status_code == 200
    assert client.get("/api/v1/stats", headers={"Authorization": "Bearer two"}).status_code == 401


def test_a_policy_keyed_by_a_sources_name_in_another_case_applies_to_it() -> None:
    from core.models import Source, TicketRef
    from interceptor.engine import Interceptor
    from tests.test_engine import FakeScorer

    settings = load_settings(read_sources({**ZENDESK, "HUB_CHANNEL_POLICIES": '{"Zendesk": {"dry_run": true}}'}))
    engine = Interceptor(settings, FakeScorer(0.99))
    decided = engine.decide("how do I reset my password", channel=TicketRef(Source.ZENDESK, "12").channel)
    assert decided.dry_run and decided.reasons[0] == "dry_run"  # the policy never applied: the answer was posted


@pytest.mark.parametrize("values, message", [
    ({**ZENDESK, "ZENDESK_URL": "https://acme.zendesk.com/api/v2"},  # every call went to /api/v2/api/v2/...: 404
     "ZENDESK_URL: the address of a page or of the API (/api/v2), not of your Zendesk: the hub adds the API's path "
     "itself; set https://acme.zendesk.com"),
    ({**ZENDESK, "ZENDESK_URL": "https://acme.zendesk.com/agent/tickets/12"},
     "ZENDESK_URL: the address of a page or of the API (/agent/tickets/12), not of your Zendesk: the hub adds the "
     "API's path itself; set https://acme.zendesk.com"),
    ({**JIRA, "JIRA_URL": "https://acme.atlassian.net/jira/servicedesk/projects/HELP/queues"},
     "JIRA_URL: the address of a page or of the API (/jira/servicedesk/projects/HELP/queues), not of your Jira: the "
     "hub adds the API's path itself; set https://acme.atlassian.net"),
    ({**JIRA, "JIRA_URL": "https://jira.acme.test/jira/browse/HELP-1"},  # a server under /jira keeps it
     "JIRA_URL: the address of a page or of the API (/jira/browse/HELP-1), not of your Jira: the hub adds the API's "
     "path itself; set https://jira.acme.test/jira"),
    ({"HUB_TARGET_PRECISION": "95%"}, "HUB_TARGET_PRECISION: '95%' is not a number: it is a fraction, e.g. 0.95 (not 95%)"),
])
def test_an_address_copied_from_a_page_or_a_percentage_stops_the_boot_saying_what_to_set(values: dict[str, str],
                                                                                         message: str) -> None:
    assert refusal(values) == f"invalid configuration: {message}"


def test_a_vendors_own_address_or_a_stand_in_is_taken_as_it_is() -> None:
    for values, url in [({**ZENDESK, "ZENDESK_URL": "https://acme.zendesk.com/"}, "https://acme.zendesk.com"),
                        ({**ZENDESK, "ZENDESK_URL": "https://proxy.acme.test/zendesk"}, "https://proxy.acme.test/zendesk"),
                        ({**JIRA, "JIRA_URL": "https://jira.acme.test/jira"}, "https://jira.acme.test/jira"),
                        ({**JIRA, "JIRA_URL": "http://127.0.0.1:8765"}, "http://127.0.0.1:8765")]:
        settings = load_settings(values)
        assert (settings.zendesk or settings.jira).url == url


@pytest.mark.parametrize("values, message", [
    ({"HUB_TARGET_PRECISION": "95"},  # "Must be greater than or equal to 0.5 and less than or equal to 1.0."
     "HUB_TARGET_PRECISION: 95.0 is not from 0.5 to 1: it is a fraction, e.g. 0.95 (not 95)"),
    ({"HUB_CHANNEL_POLICIES": '{"C1": {"dryrun": true}}'},  # "{'dryrun': ['Unknown field.']}"
     "HUB_CHANNEL_POLICIES.C1: 'dryrun' is not a policy field (did you mean dry_run?): the fields are threshold, "
     "target_precision, escalation_target, respond_to_bots, dry_run"),
    ({"HUB_CHANNEL_POLICIES": '{"C1": {"target_precision": 90}}'},
     "HUB_CHANNEL_POLICIES.C1: target_precision: 90.0 is not from 0.5 to 1: it is a fraction, e.g. 0.95 (not 95)"),
])
def test_a_precision_written_as_a_percentage_or_a_policy_field_misspelt_is_named_in_words(values: dict[str, str],
                                                                                         message: str) -> None:
    assert refusal(values) == f"invalid configuration: {message}"


@pytest.mark.parametrize("name, meant", [("HUB_TARGET_PRECISON", "HUB_TARGET_PRECISION"), ("HUB_DRYRUN", "HUB_DRY_RUN"),
                                         ("hub_dry_run", "HUB_DRY_RUN"), ("HUB_METRIC_TOKEN", "HUB_METRICS_TOKEN")])
def test_a_hub_name_in_the_environment_one_typo_from_a_setting_stops_the_boot(name: str, meant: str) -> None:
    with pytest.raises(ConfigError) as refused:  # the setting stayed at its default without a word
        read_sources({name: "0.8", "HUB_DATABASE_URL": "sqlite:///var/hub.db"})
    assert str(refused.value) == f"the environment: {name} is not a setting (did you mean {meant}?): rename it, or unset it"
    others = {"HUB_TEST_POSTGRES_URL": "x", "HUB_FUZZ_EXAMPLES": "9", "HUB_PORT": "8001", "SLACK_CLIENT_SECRET": "x",
              "ZENDESK_TOKEN": "x", "HUBBLE": "x"}  # the suite's own, environment-only ones, other tools'
    assert read_sources(others) == {}


@pytest.mark.parametrize("values, message", [
    ({"HUB_TORCH_THREADS": "two"},  # read deep in retrieval: the warm-up's error blamed HUB_EMBEDDING_MODEL
     "HUB_TORCH_THREADS: 'two' is not a whole number: how many batches of texts are embedded at once, e.g. 2, or 0 "
     "(the default) for one per core"),
    ({"HUB_TORCH_THREADS": "-1"},  # was one batch at a time, without a word
     "HUB_TORCH_THREADS: -1 is not from 0 to 1024: how many batches of texts are embedded at once, e.g. 2, or 0 "
     "(the default) for one per core"),
    ({**ZENDESK, "ZENDESK_URL": "mycompany.zendesk.com"},  # "ZENDESK_URL: Not a valid URL."
     "ZENDESK_URL: 'mycompany.zendesk.com' has no scheme: write https://mycompany.zendesk.com"),
    ({**ZENDESK, "ZENDESK_URL": "mycompany.zendesk.com/agent/tickets/12"},
     "ZENDESK_URL: 'mycompany.zendesk.com/agent/tickets/12' has no scheme, and is the address of a page or of the API "
     "(/agent/tickets/12), not of your Zendesk: the hub adds the API's path itself; set https://mycompany.zendesk.com"),
    ({**ZENDESK, "ZENDESK_URL": "htps://mycompany.zendesk.com"}, "ZENDESK_URL: 'htps' is not http or https: write "
                                                                 "https://mycompany.zendesk.com"),
    ({**JIRA, "JIRA_URL": "acme.atlassian.net"}, "JIRA_URL: 'acme.atlassian.net' has no scheme: write https://acme.atlassian.net"),
    ({**JIRA, "JIRA_URL": "https://acme atlassian.net"}, "JIRA_URL: is not a web address: write one such as "
                                                          "https://mycompany.atlassian.net"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "slack.com/api/"},
     "SLACK_API_URL: 'slack.com/api/' has no scheme: write https://slack.com/api/"),
    ({"HUB_LLM_URL": "localhost:11434/v1", "HUB_LLM_MODEL": "m"},
     "HUB_LLM_URL: 'localhost:11434/v1' has no scheme: write http://localhost:11434/v1"),
    ({"HUB_LLM_URL": "me:pw@llm.acme.test/v1", "HUB_LLM_MODEL": "m"},  # a password is never quoted
     "HUB_LLM_URL: is not a web address: write one such as https://api.openai.com/v1"),
    ({**ZENDESK, "ZENDESK_API_TOKEN": "t0k3n\n"},  # accepted: every Zendesk call was a 401, from the first ticket on
     "ZENDESK_API_TOKEN: has spaces or a line break at its start or end (copied with the line?): remove them"),
    ({**JIRA, "JIRA_EMAIL": "   "}, "JIRA_EMAIL: is only spaces: set it, or leave it unset"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": " 8f14e45fceea167a"},  # every event's signature was wrong
     "SLACK_SIGNING_SECRET: has spaces or a line break at its start or end (copied with the line?): remove them"),
    ({"HUB_LOG_LEVEL": "verbose"}, "HUB_LOG_LEVEL: 'verbose' is not a level: DEBUG, INFO, WARNING, ERROR (e.g. DEBUG, "
                                   "or DEBUG,zenpy=DEBUG to also see what that SDK sends and receives)"),
    # A setting that does nothing without another: named with it, and the two ways out.
    ({"HUB_BROKER_URL": "redis://127.0.0.1:6379/0"},  # served inline without a word: "scaled out" was never on
     "HUB_BROKER_URL is set but HUB_QUEUE is inline (the default), so jobs run inside hub serve and the broker is never "
     "used: set HUB_QUEUE=celery for the scaled-out mode (README, Scaling out), or unset HUB_BROKER_URL"),
    ({"SLACK_TRIAGE_CHANNEL": "C0TRIAGE1"},
     "SLACK_TRIAGE_CHANNEL is set but Slack is off (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set), so it does nothing: "
     "set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, or unset it"),
    ({"ZENDESK_WEBHOOK_SECRET": "s", "ZENDESK_POLL": "true"},
     "ZENDESK_WEBHOOK_SECRET, ZENDESK_POLL are set but Zendesk is off (ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN not "
     "set), so they do nothing: set ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN, or unset them"),
    ({**ZENDESK, "JIRA_PROJECT_KEY": "HELP"},
     "JIRA_PROJECT_KEY is set but Jira is off (JIRA_URL, JIRA_EMAIL, JIRA_API_TOKEN not set), so it does nothing: set "
     "JIRA_URL, JIRA_EMAIL, JIRA_API_TOKEN, or unset it"),
    ({"ZENDESK_HC_LOCALE": "en-us"},
     "ZENDESK_HC_LOCALE is set but Zendesk is off (ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN not set), so it does "
     "nothing: set ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN, or unset it"),
    ({"HUB_LLM_API_KEY": "k"},
     "HUB_LLM_API_KEY is set but the LLM writer is off (HUB_LLM_URL, HUB_LLM_MODEL not set), so it does nothing: set "
     "HUB_LLM_URL, HUB_LLM_MODEL, or unset it"),
    ({"HUB_RATE_LIMIT": "off", "HUB_RATE_LIMIT_STORAGE": "memory://"},
     "HUB_RATE_LIMIT_STORAGE is set but HUB_RATE_LIMIT is off, so nothing is counted: set a HUB_RATE_LIMIT (e.g. "
     "60/minute), or unset HUB_RATE_LIMIT_STORAGE"),
])
def test_a_value_an_admin_writes_wrong_or_that_does_nothing_stops_the_boot_saying_what_to_write(values: dict[str, str],
                                                                                                 message: str) -> None:
    assert refusal(values) == f"invalid configuration: {message}"


@pytest.mark.parametrize("values, read", [
    ({"HUB_TORCH_THREADS": "2"}, {"torch_threads": 2}),
    ({}, {"torch_threads": 0, "log_levels": ()}),
    ({"HUB_LOG_LEVEL": "debug"}, {"log_levels": (("", "DEBUG"),)}),
    ({"HUB_LOG_LEVEL": "Info, zenpy=debug"}, {"log_levels": (("", "INFO"), ("zenpy", "DEBUG"))}),
    ({"HUB_QUEUE": "celery", "HUB_BROKER_URL": "redis://127.0.0.1:6379/0"}, {"broker_url": "redis://127.0.0.1:6379/0"}),
])
def test_the_settings_read_where_they_are_used(values: dict[str, str], read: dict[str, Any]) -> None:
    settings = load_settings(read_sources(values))
    assert {name: getattr(settings, name) for name in read} == read
