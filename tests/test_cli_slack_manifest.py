"""``hub slack-manifest``: the manifest an admin pastes into api.slack.com/apps instead of setting the app up page
by page. It must hold the scopes ``hub check`` requires (tied to ``hub check`` itself, run against the Slack Web
API stub), the events the hub handles, and Request URLs the real app answers at."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import yaml
from click.testing import CliRunner, Result

from app import Hub, cli
from config import load_settings
from connectors.slack.scopes import EVENTS, FEATURES, PRIVATE, PRIVATE_READ, PUBLIC_READ
from surfaces.cli.check import vendor_checks
from tests.slack_events_world import client, hub, seen, stub  # noqa: F401 (fixtures)
from tests.slack_stub import SlackStub, fixture, sign, slack_settings

HUB = "https://hub.example.com"


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["slack-manifest", *args])
    assert "Traceback" not in result.output, result.output
    return result


def manifest(*args: str) -> dict[str, Any]:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_the_manifest_holds_the_scopes_events_and_request_urls() -> None:
    found = manifest("--url", HUB, "--name", "Acme help desk")
    assert found["display_information"]["name"] == "Acme help desk"
    assert found["features"]["bot_user"]["display_name"] == "acme-help-desk"  # a-z, 0-9, -, _ and . only
    scopes = found["oauth_config"]["scopes"]["bot"]
    assert set(scopes) == {*FEATURES, PRIVATE[0], PUBLIC_READ, PRIVATE_READ} and len(scopes) == len(set(scopes))
    settings = found["settings"]
    assert settings["event_subscriptions"] == {"request_url": f"{HUB}/slack/events",
                                               "bot_events": ["message.channels", "message.groups", "app_mention",
                                                              "reaction_added"]}
    assert all(EVENTS[event] in scopes for event in settings["event_subscriptions"]["bot_events"])  # Slack needs each
    assert settings["interactivity"] == {"is_enabled": True, "request_url": f"{HUB}/slack/events"}
    assert (settings["socket_mode_enabled"], settings["org_deploy_enabled"], settings["token_rotation_enabled"]) == \
        (False, False, False)


def test_the_request_urls_are_the_routes_the_hub_answers(client: Any, hub: Hub, stub: SlackStub) -> None:
    """Slack's check of the Request URL (``url_verification``) and a button press, posted where the manifest
    says, reach the real app: the challenge is echoed, the press is stored."""
    settings = manifest("--url", "https://example.com/helpdesk/")["settings"]  # a proxy's path is kept
    events, actions = settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]
    assert events == actions == "https://example.com/helpdesk/slack/events"
    challenge = fixture("url_verification")
    body = json.dumps(challenge).encode()
    # the proxy strips /helpdesk: the hub sees the rest of the path
    path = urlsplit(events).path.removeprefix("/helpdesk")
    answer = client.post(path, data=body, headers={"Content-Type": "application/json", **sign(body)})
    assert answer.status_code == 200 and answer.get_json() == {"challenge": challenge["challenge"]}
    form = urlencode({"payload": json.dumps(fixture("block_actions_feedback"))}).encode()
    path = urlsplit(actions).path.removeprefix("/helpdesk")
    pressed = client.post(path, data=form, headers={"Content-Type": "application/x-www-form-urlencoded", **sign(form)})
    assert pressed.status_code == 200


def test_the_request_url_given_whole_is_not_doubled() -> None:
    found = manifest("--url", f"{HUB}/slack/events")
    assert found["settings"]["event_subscriptions"]["request_url"] == f"{HUB}/slack/events"


def test_socket_mode_has_no_request_url_and_names_the_app_token() -> None:
    result = run("--socket-mode")
    assert result.exit_code == 0, result.output
    settings = json.loads(result.stdout)["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["event_subscriptions"] == {"bot_events": list(EVENTS)}
    assert settings["interactivity"] == {"is_enabled": True}
    assert "request_url" not in result.stdout
    assert "connections:write" in result.stderr and "SLACK_APP_TOKEN" in result.stderr


def test_yaml_is_the_same_manifest() -> None:
    result = run("--url", HUB, "--yaml")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout) == manifest("--url", HUB)


@pytest.mark.parametrize("url, message", [
    ("hub.example.com", "'hub.example.com' has no scheme: write https://hub.example.com"),
    ("http://hub.example.com", "http is for a loopback or private address only: Slack posts to https; write "
                               "https://hub.example.com"),
    ("ftp://hub.example.com", "'ftp' is not http or https: write https://hub.example.com"),
    ("https://hub.example.com/?token=x", "has a ?query or #fragment"),
    ("https://", "is not a web address"),
])
def test_an_address_slack_cannot_post_to_is_refused(url: str, message: str) -> None:
    result = run("--url", url)
    assert result.exit_code == 2
    assert f"Error: Invalid value for '--url': {message}" in result.stderr
    assert result.stdout == ""


def test_http_to_a_loopback_or_private_address_is_allowed_with_a_warning() -> None:
    for url in ("http://127.0.0.1:8000", "http://10.1.2.3", "http://localhost:8000"):
        result = run("--url", url)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["settings"]["event_subscriptions"]["request_url"] == f"{url}/slack/events"
        assert "warning: Slack posts only to a public https address" in result.stderr


@pytest.mark.parametrize("args, message", [
    ((), "give the hub's public address (--url https://hub.example.com), or --socket-mode"),
    (("--url", HUB, "--socket-mode"), "--socket-mode takes no --url"),
    (("--socket-mode", "--name", "x" * 36), "the app's name takes 1 to 35 characters"),
])
def test_what_the_command_needs(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


def test_hub_check_passes_with_the_manifests_scopes_and_fails_without_any_one(tmp_path: Any, stub: SlackStub) -> None:
    """The manifest's scopes are exactly what ``hub check`` requires: its Slack checks (the same function the
    command runs) pass on a token holding them, with a public and a private channel configured, and each one
    left out fails a check that names it."""
    scopes = manifest("--socket-mode")["oauth_config"]["scopes"]["bot"]
    stub.seed_channel("CTRIAGE01", "triage")
    stub.seed_channel("CSUPPORT1", "support")
    stub.seed_channel("GPRIVATE1", "vip", is_private=True)
    settings = load_settings(slack_settings(f"sqlite:///{tmp_path / 'hub.db'}", stub, SLACK_CHANNELS="CSUPPORT1,GPRIVATE1"))
    stub.scopes = tuple(scopes)
    found = vendor_checks(settings)
    assert [c.name for c in found] == ["credentials", "scopes", "channel CTRIAGE01", "channel CSUPPORT1",
                                       "channel GPRIVATE1", "workspace", "intake"]
    assert all(c.ok for c in found), [c.detail for c in found if not c.ok]
    for scope in scopes:
        stub.scopes = tuple(s for s in scopes if s != scope)
        failed = [c.detail for c in vendor_checks(settings) if not c.ok]
        assert failed and any(scope in detail for detail in failed), (scope, failed)
