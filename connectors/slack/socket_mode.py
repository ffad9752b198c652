"""Slack Socket Mode (``SLACK_APP_TOKEN``): events and interactivity over a WebSocket the hub opens, for installs
that cannot expose a public Request URL.

slack_sdk's built-in ``SocketModeClient`` asks ``apps.connections.open`` (at ``SLACK_API_URL``, with the app-level
token) for a WebSocket URL, connects, reconnects, and answers Slack's pings. Each envelope it receives is turned
into the request Slack would have POSTed to ``/slack/events`` (the ``events_api`` payload as the JSON body, an
``interactive`` payload as the ``payload=`` form) and goes through the same parse as that route (strict JSON,
the declared shapes of :mod:`connectors.slack.schemas`, :mod:`connectors.slack.mapping`'s loop breaker) and the
same inbox, keyed by the same delivery ids, so a request that arrives both ways, or twice, is stored once.

Verification: Socket Mode carries no request signature; the proof is the connection itself, opened over TLS
with the app-level token (NOTE(slack): https://docs.slack.dev/apis/events-api/using-socket-mode). The envelope
is acknowledged only once its event is stored (or refused as malformed): when storing fails, no ack is sent
and Slack redelivers it (``retry_attempt``), as it does for an HTTP 5xx. Storing waits for SQLite's write lock
:data:`core.write_lock.INBOUND_BUSY_SECONDS` at most, as the Request URL does: NOTE(slack): an envelope not
acknowledged within 3 s is a failed delivery, retried (nearly at once, then after 1 and 5 minutes), so a later
ack gains nothing, while the 30 s default wait would hold one of slack_sdk's ten listener threads for each
envelope (https://docs.slack.dev/apis/events-api/#retries, https://docs.slack.dev/apis/events-api/using-socket-mode#acknowledge).
"""

from __future__ import annotations

import json
import logging
from typing import Mapping
from urllib.parse import urlencode

from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from connectors.inbound import note
from connectors.slack.connector import SlackConnector
from core import inbox
from core.db import Database
from core.errors import PayloadError
from core.jobs import JobQueue
from core.telemetry import count
from core.write_lock import INBOUND_BUSY_SECONDS

log = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json"}
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def as_http(request: SocketModeRequest) -> tuple[Mapping[str, str], bytes] | None:
    """The ``/slack/events`` request an envelope stands for.

    Returns:
        ``(headers, body)``, or ``None`` for envelope types the hub does not take (slash commands).
    """
    headers: dict[str, str]
    if request.type == "events_api":
        headers, body = dict(JSON_HEADERS), json.dumps(request.payload).encode("utf-8")
    elif request.type == "interactive":
        headers, body = dict(FORM_HEADERS), urlencode({"payload": json.dumps(request.payload)}).encode("utf-8")
    else:
        return None
    if request.retry_attempt:
        headers["X-Slack-Retry-Num"] = str(request.retry_attempt)
        headers["X-Slack-Retry-Reason"] = str(request.retry_reason or "")
    return headers, body


class SocketModeReceiver:
    """Receives Slack's envelopes over Socket Mode and stores them in the inbox.

    Args:
        connector: the Slack connector (parses the payloads; its settings hold ``SLACK_API_URL``).
        app_token: the app-level token (``xapp-...``, scope ``connections:write``).
        db: where the inbox lives.
        jobs: where stored events are handed for processing.
    """

    def __init__(self, connector: SlackConnector, app_token: str, db: Database, jobs: JobQueue) -> None:
        self._connector, self._db, self._jobs = connector, db, jobs
        self.client = SocketModeClient(
            app_token=app_token,
            web_client=WebClient(base_url=connector.settings.api_url),
            logger=logging.getLogger("connectors.slack.socket_mode.client"),
        )
        self.client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]

    def start(self) -> None:
        """Open the connection (``apps.connections.open``, then the WebSocket); reconnects on its own after.

        Raises:
            slack_sdk.errors.SlackApiError: Slack refused the app-level token.
        """
        self.client.connect()
        log.info("slack.socket_mode.connected")

    def close(self) -> None:
        """Close the connection; envelopes not acknowledged yet are redelivered by Slack to the next one."""
        self.client.close()

    def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        if self.handle(request):
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    def handle(self, request: SocketModeRequest) -> bool:
        """Store one envelope's event in the inbox.

        Returns:
            Whether to acknowledge the envelope: ``True`` once it is stored (or a duplicate), ignored, or
            malformed (a retry would not mend it); ``False`` when storing failed, so that Slack redelivers it.
        """
        http = as_http(request)
        if http is None:
            count("webhooks", source="slack", outcome="ignored")
            return True
        headers, body = http
        try:
            event = self._connector.parse_event(headers, body)
        except PayloadError as e:
            count("webhooks", source="slack", outcome="PayloadError")
            log.warning("slack.socket_mode.rejected", extra={"error": "PayloadError", "detail": str(e)})
            return True
        try:
            if event is None:
                note(self._connector, headers, body, self._db)
                count("webhooks", source="slack", outcome="ignored")
                return True
            accepted = inbox.accept(self._db, self._jobs, event, body, lock_wait=INBOUND_BUSY_SECONDS)
        except Exception:  # noqa: BLE001 - unacknowledged, Slack redelivers: the boundary of this receiver
            count("webhooks", source="slack", outcome="store-failed")
            log.exception("slack.socket_mode.store-failed", extra={"envelope_id": request.envelope_id})
            return False
        count("webhooks", source="slack", outcome="duplicate" if accepted.duplicate else "accepted")
        return True


def build_receiver(connector: SlackConnector, db: Database, jobs: JobQueue) -> SocketModeReceiver | None:
    """The Socket Mode receiver when ``SLACK_APP_TOKEN`` is set, else ``None`` (Slack posts to the Request URL)."""
    token = connector.settings.app_token
    return SocketModeReceiver(connector, token.reveal(), db, jobs) if token is not None else None

