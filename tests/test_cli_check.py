"""``hub check``: an admin's first hour, before any ticket fails. Vendors are faked at the transport (`responses`
for Zendesk and Jira, the Slack Web API stub for slack_sdk); the command runs as the console script does, on a
real database. Each test asserts the lines printed and the exit code, and the calls made to the vendors."""

from __future__ import annotations

import json
import socket
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from click.testing import CliRunner, Result

import migrations
from app import cli
from config import load_settings
from tests.conftest import sample_kb_database
from tests.slack_stub import BOT_TOKEN, SCOPES, SIGNING_SECRET, SlackStub, fixture

ZENDESK, JIRA = "http://127.0.0.1:8771", "http://127.0.0.1:8772"
ME = f"{ZENDESK}/api/v2/users/me.json"
JIRA_API = f"{JIRA}/rest/api/2"
SECRETS = ("zendesk-token-5e1f", "jira-token-77ab", BOT_TOKEN, SIGNING_SECRET, "zd-hook-secret-91", "jira-hook-secret-3c")
WRITES = ("BROWSE_PROJECTS", "ADD_COMMENTS", "EDIT_ISSUES")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float]:
    """The sample KB in a migrated SQLite database, with the calibration a lexical server fits at its start;
    and that server's threshold at precision 0.8 (lexical retrieval backs none at 0.95 on the sample KB)."""
    from interceptor.retrieval.scorer import build_scorer

    url, db = sample_kb_database(tmp_path_factory, "check")
    scorer = build_scorer(load_settings({"HUB_DATABASE_URL": url, "HUB_DENSE": "off"}), db)
    db.dispose()
    return url, scorer.threshold_for(0.8)


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    stub = SlackStub().start()
    stub.seed_channel("CTRIAGE01", "triage")
    stub.seed_channel("CSUPPORT1", "support")
    yield stub
    stub.stop()


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def env(database_url: str, slack_url: str, **extra: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "HUB_CONFIG": None, "HUB_DATABASE_URL": database_url, "HUB_DENSE": "off", "HUB_TARGET_PRECISION": "0.8",
        "HUB_ESCALATION_TARGET": "jira",
        "ZENDESK_URL": ZENDESK, "ZENDESK_EMAIL": "hub@example.com", "ZENDESK_API_TOKEN": SECRETS[0],
        "ZENDESK_WEBHOOK_SECRET": SECRETS[4],
        "JIRA_URL": JIRA, "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": SECRETS[1], "JIRA_PROJECT_KEY": "HELP",
        "JIRA_WEBHOOK_SECRET": SECRETS[5],
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack_url,
        "SLACK_TRIAGE_CHANNEL": "CTRIAGE01", "SLACK_CHANNELS": "CSUPPORT1",
    }
    values.update(extra)
    return values


def vendors_ok(api: responses.RequestsMock, *, me: dict[str, Any] | None = None,
               held: dict[str, bool] | None = None) -> None:
    """Zendesk and Jira as a well set-up install answers them (``me``: fields of the user; ``held``: the
    permissions Jira reports, every one asked for granted unless named)."""
    user = {**json.loads(open("tests/fixtures/zendesk/users_me.json").read())["user"], "only_private_comments": False}
    api.get(ME, json={"user": {**user, **(me or {})}})
    api.get(f"{JIRA_API}/myself", json=json.loads(open("tests/fixtures/jira/myself.json").read()))
    api.get(f"{JIRA_API}/project/HELP", json={"id": "10000", "key": "HELP", "name": "Help desk"})

    def permissions(request: Any) -> tuple[int, dict[str, str], str]:
        asked = parse_qs(urlsplit(request.url).query)["permissions"][0].split(",")
        answer = {key: {"id": str(i), "key": key, "type": "PROJECT", "havePermission": (held or {}).get(key, True)}
                  for i, key in enumerate(asked)}
        return 200, {}, json.dumps({"permissions": answer})

    api.add_callback(responses.GET, f"{JIRA_API}/mypermissions", callback=permissions)


def permissions_asked(api: responses.RequestsMock) -> dict[str, list[str]]:
    """The query of the one ``GET /mypermissions`` made."""
    urls = [str(c.request.url) for c in api.calls if "mypermissions" in str(c.request.url)]
    assert len(urls) == 1
    return parse_qs(urlsplit(urls[0]).query)


def run(values: dict[str, str | None], *args: str) -> Result:
    result = CliRunner().invoke(cli, ["check", *args], env=values)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert not any(secret in result.output for secret in SECRETS)  # never a secret, not even a token's start
    return result


def line(result: Result, start: str) -> str:
    """The one output line starting with ``start`` (``FAIL  zendesk credentials``)."""
    found = [text for text in result.output.splitlines() if text.startswith(start)]
    assert len(found) == 1, result.output
    return found[0]


def test_all_ok(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    url, threshold = calibrated
    vendors_ok(api)
    result = run(env(url, slack.url))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(text.startswith("ok    ") for text in lines[:-1]) and lines[-1] == f"all {len(lines) - 1} checks passed"
    assert "database schema: " in line(result, "ok    database schema") and "0007 (the newest)" in result.output
    assert "36 articles" in line(result, "ok    knowledge base articles")
    # the calibration a server serves, and its threshold, as the hub knows them: nothing fitted again
    calibration = line(result, "ok    knowledge base calibration")
    assert "coldstart:" in calibration and f"threshold {threshold:.3f} for precision 0.8" in calibration and threshold < 1
    assert "signed in" in line(result, "ok    zendesk credentials") and "agent" in line(result, "ok    zendesk agent")
    assert line(result, "ok    zendesk comments") and line(result, "ok    zendesk intake")
    assert "Help desk" in line(result, "ok    jira project HELP")
    asked = permissions_asked(api)
    assert asked["projectKey"] == ["HELP"]
    assert set(asked["permissions"][0].split(",")) == {*WRITES, "CREATE_ISSUES"}  # Jira is the escalation target
    assert line(result, "ok    slack credentials") and line(result, "ok    slack scopes")
    assert "#triage" in line(result, "ok    slack channel CTRIAGE01") and line(result, "ok    slack channel CSUPPORT1")
    assert [c.args["channel"] for c in slack.calls_to("conversations.info")] == ["CTRIAGE01", "CSUPPORT1"]
    as_json = run(env(url, slack.url), "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.output)["ok"] is True, as_json.output
    assert {c["check"] for c in json.loads(as_json.output)["checks"]} >= {"credentials", "scopes", "permissions"}


def test_a_calibration_that_answers_nothing(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    vendors_ok(api)
    result = run(env(calibrated[0], slack.url, HUB_TARGET_PRECISION="0.95"))
    calibration = line(result, "FAIL  knowledge base calibration: coldstart:")
    assert "no threshold backs precision 0.95" in calibration and "every request goes to a person" in calibration
    assert result.exit_code == 1 and result.output.count("FAIL") == 1


def test_bad_credentials(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    api.get(ME, status=401, json={"error": "Couldn't authenticate you"})
    api.get(f"{JIRA_API}/myself", status=401, body="")
    slack.fail("auth.test", status=200, error="invalid_auth")
    result = run(env(calibrated[0], slack.url))
    assert result.exit_code == 1
    assert "check ZENDESK_EMAIL" in line(result, "FAIL  zendesk credentials: http://127.0.0.1:8771 refused")
    assert "check JIRA_EMAIL and JIRA_API_TOKEN" in line(result, "FAIL  jira credentials:")
    assert "invalid_auth" in line(result, "FAIL  slack credentials:") and "SLACK_BOT_TOKEN" in result.output
    # nothing more is asked on credentials that do not work: one FAIL line each, not one per later check
    assert "zendesk agent" not in result.output and "jira permissions" not in result.output
    assert not slack.calls_to("conversations.info")
    assert result.output.splitlines()[-1].startswith("3 of ")


@pytest.mark.parametrize("me, says", [
    ({"id": None, "role": "end-user", "name": "Anonymous user"}, "FAIL  zendesk credentials"),  # 200, anonymous
    ({"role": "end-user"}, "FAIL  zendesk agent"),
    ({"only_private_comments": True}, "FAIL  zendesk comments"),
])
def test_a_zendesk_user_that_cannot_answer(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock,
                                           me: dict[str, Any], says: str) -> None:
    vendors_ok(api, me=me)
    result = run(env(calibrated[0], slack.url))
    assert result.exit_code == 1
    assert line(result, says) and result.output.count("FAIL") == 1


def test_missing_scope(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    vendors_ok(api)
    slack.scopes = tuple(s for s in SCOPES if s not in ("reactions:read", "users:read.email"))
    result = run(env(calibrated[0], slack.url))
    assert result.exit_code == 1
    scopes = line(result, "FAIL  slack scopes: missing")
    assert "users:read.email (for the requester's email" in scopes and "reactions:read (for emoji intake" in scopes
    assert "reinstall" in scopes and "chat:write" not in scopes
    slack.scopes = None  # a proxy that drops the header: not a pass
    assert "could not be checked" in line(run(env(calibrated[0], slack.url)), "FAIL  slack scopes")


def test_bot_not_in_channel(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    vendors_ok(api)
    slack.seed_channel("CSUPPORT1", "support", is_member=False)
    slack.seed_channel("GPRIVATE1", "vip", is_private=True)
    slack.scopes = tuple(s for s in SCOPES if s != "groups:history")
    result = run(env(calibrated[0], slack.url, SLACK_CHANNELS="CSUPPORT1,GPRIVATE1,CGONE0001"))
    assert result.exit_code == 1
    assert "not a member of the answered channel (SLACK_CHANNELS) #support: invite it" in line(result, "FAIL  slack channel CSUPPORT1")
    assert "check the id" in line(result, "FAIL  slack channel CGONE0001")
    assert line(result, "ok    slack channel GPRIVATE1") and line(result, "ok    slack channel CTRIAGE01")
    # a private channel is answered in: reading its threads needs groups:history
    assert "groups:history (for reading a request's thread in private channels)" in line(result, "FAIL  slack scopes")


def test_jira_missing_permission(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    vendors_ok(api, held={"ADD_COMMENTS": False})
    result = run(env(calibrated[0], slack.url, HUB_ESCALATION_TARGET=None, JIRA_REOPEN_TRANSITION="31"))
    assert result.exit_code == 1
    permissions = line(result, "FAIL  jira permissions: not granted in HELP: ADD_COMMENTS (for posting answers")
    assert "permission scheme" in permissions and result.output.count("FAIL") == 1
    asked = permissions_asked(api)
    assert set(asked["permissions"][0].split(",")) == {*WRITES, "TRANSITION_ISSUES"}  # no escalations to Jira here


def test_jira_project_that_is_not_there(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    vendors_ok(api)
    api.replace(responses.GET, f"{JIRA_API}/project/HELP", status=404, json={"errorMessages": ["No project could be found"]})
    result = run(env(calibrated[0], slack.url))
    assert "set JIRA_PROJECT_KEY to the project's key" in line(result, "FAIL  jira project HELP")
    assert "jira permissions" not in result.output and result.exit_code == 1


def test_vendor_down(calibrated: tuple[str, float], slack: SlackStub) -> None:
    slack_down, zendesk_down, jira_down = (f"http://127.0.0.1:{_closed_port()}" for _ in range(3))
    result = run(env(calibrated[0], f"{slack_down}/api/", ZENDESK_URL=zendesk_down, JIRA_URL=jira_down,
                     ZENDESK_WEBHOOK_SECRET=None, ZENDESK_POLL="true"))
    assert result.exit_code == 1
    assert f"cannot reach {zendesk_down} (ConnectionError): check ZENDESK_URL" in line(result, "FAIL  zendesk credentials")
    assert f"cannot reach {jira_down} (ConnectionError): check JIRA_URL" in line(result, "FAIL  jira credentials")
    assert f"cannot reach {slack_down}/api/ (URLError): check SLACK_API_URL" in line(result, "FAIL  slack credentials")
    assert "polling" in line(result, "ok    zendesk intake")  # what needs no call is still checked
    assert line(result, "ok    knowledge base articles")


def test_database_not_migrated(tmp_path: Any, slack: SlackStub, api: responses.RequestsMock) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrations.upgrade(url, "0006")
    vendors_ok(api)
    result = run(env(url, slack.url))
    assert result.exit_code == 1
    assert line(result, "FAIL  database schema: the database is at 0006, not at 0007: run `hub db upgrade`")
    assert "knowledge base" not in result.output  # not read from a schema it does not know
    assert line(result, "ok    zendesk credentials") and line(result, "ok    slack credentials")


def test_webhooks_without_their_secret(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    vendors_ok(api)
    result = run(env(calibrated[0], slack.url, ZENDESK_WEBHOOK_SECRET=None, JIRA_WEBHOOK_SECRET=None))
    assert "set ZENDESK_WEBHOOK_SECRET" not in result.output  # says what it is for, and both ways out
    assert "ZENDESK_WEBHOOK_SECRET" in line(result, "FAIL  zendesk intake") and "ZENDESK_POLL" in result.output
    assert "JIRA_WEBHOOK_SECRET" in line(result, "FAIL  jira intake") and result.exit_code == 1


def test_the_workspace_events_are_taken_from(calibrated: tuple[str, float], slack: SlackStub, api: responses.RequestsMock) -> None:
    vendors_ok(api)
    team = fixture("api_auth_test_bot")["team_id"]  # the workspace auth.test names for the bot token
    unset = line(run(env(calibrated[0], slack.url)), "ok    slack workspace")
    assert f"set SLACK_TEAM_ID={team}" in unset and "any workspace" in unset
    assert f"({team}) are taken" in line(run(env(calibrated[0], slack.url, SLACK_TEAM_ID=team)), "ok    slack workspace")
    wrong = run(env(calibrated[0], slack.url, SLACK_TEAM_ID="T0ELSEWHERE"))
    assert wrong.exit_code == 1
    assert f"every event would be ignored as another workspace's; set SLACK_TEAM_ID={team}" in line(wrong, "FAIL  slack workspace")
