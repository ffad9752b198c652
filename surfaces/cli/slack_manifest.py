"""``hub slack-manifest``: the Slack app manifest for this hub (:func:`connectors.slack.manifest.manifest`), to
paste into api.slack.com/apps -> Create New App -> From an app manifest: the scopes ``hub check`` requires, the
events the hub handles, interactivity, and the hub's own ``/slack/events`` as the Request URL (or Socket Mode).
The manifest goes to stdout, what is left to do by hand to stderr, so ``> manifest.json`` keeps it clean."""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

import click
from marshmallow import ValidationError

from config.base import web_address
from connectors.slack.manifest import DEFAULT_NAME, NAME_MAX, manifest

EXAMPLE = "https://hub.example.com"


def _slack_can_post(value: str) -> None:
    """Refuse what Slack cannot post to as the hub's address: http to a public host (Slack sends only to an https
    Request URL; http is kept for a loopback or private address, a local test), a query or a fragment."""
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValidationError(f"has a ?query or #fragment: give the hub's address alone, e.g. {EXAMPLE}")
    if parts.scheme.lower() == "http" and not _local(parts.hostname or ""):
        raise ValidationError(f"http is for a loopback or private address only: Slack posts to https; write "
                              f"https://{parts.netloc}{parts.path}")


def _local(host: str) -> bool:
    """Whether ``host`` is a loopback or private address (``localhost``, ``127.0.0.1``, ``10.1.2.3``, ``[::1]``)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


class HubAddress(click.ParamType):
    """``--url``: the hub's address as Slack reaches it, checked as the settings' web addresses are
    (:func:`config.base.web_address`), plus :func:`_slack_can_post`. A refusal is a usage error on one line."""

    name = "url"
    check = staticmethod(web_address(EXAMPLE, _slack_can_post))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            self.check(str(value))
        except ValidationError as e:
            self.fail(str(e.messages[0]), param, ctx)
        return str(value)


def _name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    name = value.strip()
    if not name or len(name) > NAME_MAX:
        raise click.BadParameter(f"the app's name takes 1 to {NAME_MAX} characters (Slack's limit), not {len(name)}")
    return name


def request_url(address: str) -> str:
    """The hub's Slack route (``/slack/events``: events and interactivity) at ``address``, which may carry a
    path of a proxy in front (``https://example.com/helpdesk``) or be the Request URL already."""
    from surfaces.http.webhooks import SLACK_EVENTS

    base = address.rstrip("/")
    base = base[: -len(SLACK_EVENTS)] if base.endswith(SLACK_EVENTS) else base
    return base + SLACK_EVENTS


@click.command("slack-manifest")
@click.option("--url", "address", type=HubAddress(), help=f"the hub's public address, e.g. {EXAMPLE}: Slack posts "
              "events and button presses to its /slack/events")
@click.option("--name", default=DEFAULT_NAME, show_default=True, callback=_name,
              help=f"the app's name in Slack (at most {NAME_MAX} characters); its bot's name is made from it")
@click.option("--socket-mode", is_flag=True, help="events over Socket Mode (SLACK_APP_TOKEN), for a hub Slack cannot "
              "reach: no Request URL")
@click.option("--yaml", "as_yaml", is_flag=True, help="print YAML rather than JSON")
def slack_manifest(address: str | None, name: str, socket_mode: bool, as_yaml: bool) -> None:
    """Print the Slack app manifest for this hub: paste it into api.slack.com/apps > Create New App > From an
    app manifest. It holds the bot scopes hub check requires, the events the hub handles and interactivity,
    with the hub's /slack/events as the Request URL (--url), or Socket Mode (--socket-mode)."""
    if socket_mode and address is not None:
        raise click.UsageError("--socket-mode takes no --url: Slack asks for no Request URL in Socket Mode")
    if not socket_mode and address is None:
        raise click.UsageError(f"give the hub's public address (--url {EXAMPLE}), or --socket-mode for a hub "
                               "that Slack cannot reach")
    url = None if socket_mode else request_url(str(address))
    found = manifest(name, url)
    if as_yaml:
        import yaml

        click.echo(yaml.safe_dump(found, sort_keys=False, allow_unicode=True), nl=False)
    else:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    for line in _still_to_do(url):
        click.echo(line, err=True)


def _still_to_do(url: str | None) -> list[str]:
    """What the manifest cannot do, for stderr."""
    if url is None:
        return ["Socket Mode: the app also needs an app-level token with the scope connections:write (Basic "
                "Information > App-Level Tokens > Generate); set it as SLACK_APP_TOKEN (xapp-...), with SLACK_BOT_TOKEN "
                "(after installing the app) and SLACK_SIGNING_SECRET, and restart the hub."]
    found = [f"Then: install the app, set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, restart the hub, and verify the "
             f"Request URL {url} on the app's App Manifest page (Slack checks it only once the hub answers)."]
    if urlsplit(url).scheme == "http":
        found.append("warning: Slack posts only to a public https address: an http one suits a local test, not a "
                     "real workspace.")
    return found
