"""The vendors' doors: ``POST /webhooks/<name>`` (Zendesk, Jira) and ``POST /slack/events`` (Slack's Events
API and interactivity). Each verifies, parses and stores the delivery in the inbox, then answers 200; the
job runner does the rest (:func:`connectors.inbound.receive`)."""

from __future__ import annotations

import logging
from typing import Any, Mapping, cast

from flask import Blueprint, Response, jsonify, request

from config.settings import vendor_specs
from connectors.inbound import receive
from surfaces.services import Services

log = logging.getLogger(__name__)


SLACK_EVENTS = "/slack/events"


def inbound_path(name: str) -> str:
    """Return the path where vendor ``name`` delivers its events to this hub."""
    return SLACK_EVENTS if name == "slack" else f"/webhooks/{name}"


def make_webhooks_blueprint(services: Services) -> Blueprint:
    """Return the blueprint of the vendors' inbound routes for ``services``' enabled connectors."""
    bp = Blueprint("webhooks", __name__)

    @bp.post("/webhooks/<name>")
    def webhook(name: str) -> tuple[Response, int]:
        """Store one delivery for connector ``name``: 200 with ``{"status": ...}``, 401 unsigned, 400
        malformed, 404 when the connector is not configured."""
        if name == "slack":
            return jsonify(error=f"Slack posts to {SLACK_EVENTS} (Events API and interactivity)"), 404
        connector = services.connectors.get(name)
        if connector is None:
            return jsonify(error=not_configured(name)), 404
        headers = cast(Mapping[str, str], request.headers)  # werkzeug's: case-insensitive look-ups
        return jsonify(receive(connector, headers, request.get_data(), services.db, services.jobs)), 200

    if "slack" in services.connectors:
        _add_slack_events(bp, services)
    else:  # a Request URL pasted into Slack before the hub has Slack's settings: say which, not "no route"
        bp.add_url_rule(SLACK_EVENTS, "slack_events", lambda: (jsonify(error=not_configured("slack")), 404),
                        methods=["POST"])
    return bp


def not_configured(name: str) -> str:
    """Why a vendor's inbound route takes nothing here: the settings that turn the vendor on and its set-up page
    (``docs/connectors/<name>.md``), or, for a name that is no vendor's, the routes there are."""
    specs = vendor_specs()
    spec = next((spec for spec in specs if spec.name == name), None)
    if spec is None:
        routes = ", ".join(inbound_path(spec.name) for spec in specs)
        return f"no vendor is named {name[:40]!r}: the vendors post to {routes}"
    return (f"{name} is not configured on this hub: set {', '.join(spec.required)} and restart it "
            f"(docs/connectors/{name}.md)")


def _add_slack_events(bp: Blueprint, services: Services) -> None:
    """Route ``POST /slack/events`` through the same inbound path as the others (:mod:`connectors.slack.events`:
    verify on the raw bytes, answer the handshakes, parse, store)."""
    from connectors.slack.events import is_form

    connector = services.connectors["slack"]

    @bp.post(SLACK_EVENTS)
    def slack_events() -> Any:
        """One Request URL for the Events API and interactivity: 401 unsigned, 400 malformed, else 200."""
        headers, body = cast(Mapping[str, str], request.headers), request.get_data()
        outcome = receive(connector, headers, body, services.db, services.jobs)
        retry = headers.get("X-Slack-Retry-Num")
        if retry:
            log.info("slack.events.retry", extra={"retry_num": retry, "status": outcome.get("status")})
        if is_form(headers, body):
            return "", 200  # NOTE(slack): interactivity and ssl_check want an empty 200.
        return jsonify(outcome), 200
