"""``POST /slack/events`` (routed by ``surfaces.http``): slack-bolt verifies the request, our global middleware
stores it, then acks.

One Request URL serves the Events API and interactivity. Signature verification runs first, in bolt's
``before_authorize`` slot, with slack_sdk's ``SignatureVerifier`` (5-minute replay window): a missing, wrong or
stale signature is a 401 before anything is stored. Bolt's own ``RequestVerification`` is off because it turns a
malformed timestamp header into a 500 (``int("")`` raises), which Slack would retry. Bolt's built-in middleware
then answers ``ssl_check`` and ``url_verification``. Our last middleware runs :func:`connectors.inbound.receive`
(parse, store once per delivery id in the inbox) and answers 200 itself (``process_before_response``), so the
row is committed before the ack, no listener runs, and nothing happens after the response.

Design (issue 4): bolt is built with a custom ``authorize`` that makes no API call (so neither construction
nor any request calls ``auth.test``), and with ``IgnoringSelfEvents`` off, because that middleware only
works from an ``auth.test`` result. Self-message suppression is done in :mod:`connectors.slack.mapping`
from the envelope (``authorizations``, ``api_app_id``) and the identity the job runner caches on first need.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from connectors.inbound import receive
from connectors.slack.connector import SlackConnector
from core.db import Database
from core.errors import InboundError, PayloadError, SignatureError
from core.jobs import JobQueue
from core.telemetry import count

log = logging.getLogger(__name__)


class VerifySignature(Middleware):
    """Refuse requests whose Slack signature is missing, wrong or stale (401), before bolt does anything else."""

    def __init__(self, connector: SlackConnector) -> None:
        self._connector = connector

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> Optional[BoltResponse]:
        headers = {k: v[0] for k, v in req.headers.items() if v}
        try:
            self._connector.verify(headers, req.raw_body.encode("utf-8"))
        except SignatureError as e:
            count("webhooks", source="slack", outcome="SignatureError")
            log.warning("slack.webhook.invalid-signature", extra={"error": str(e)})
            return BoltResponse(status=e.status, body={"error": "invalid request"})
        return next()


class StoreInInbox(Middleware):
    """Store every verified request in the inbox and answer 200 (duplicates included, counted)."""

    def __init__(self, connector: SlackConnector, db: Database, jobs: JobQueue) -> None:
        self._connector, self._db, self._jobs = connector, db, jobs

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> Optional[BoltResponse]:
        headers = {k: v[0] for k, v in req.headers.items() if v}
        retry = headers.get("x-slack-retry-num")
        try:
            outcome = receive(self._connector, headers, req.raw_body.encode("utf-8"), self._db, self._jobs)
        except InboundError as e:
            return BoltResponse(status=e.status, body={"error": str(e)})
        if retry:
            log.info("slack.events.retry", extra={"retry_num": retry, "status": outcome["status"]})
        if req.content_type == "application/x-www-form-urlencoded":
            return BoltResponse(status=200, body="")  # NOTE(slack): interactivity wants an empty 200 ack.
        return BoltResponse(status=200, body=outcome)


def build_bolt_app(connector: SlackConnector, db: Database, jobs: JobQueue) -> App:
    """Build the bolt ``App`` that serves ``/slack/events`` (no Slack API call is made here or per request)."""
    settings = connector.settings

    def authorize(enterprise_id: Optional[str], team_id: Optional[str]) -> AuthorizeResult:
        identity = connector.known_identity()
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=settings.bot_token.reveal(),
            bot_id=identity.bot_id if identity else None,
            bot_user_id=identity.user_id if identity else None,
        )

    app = App(
        signing_secret=settings.signing_secret.reveal(),
        authorize=authorize,
        client=WebClient(base_url=settings.api_url),
        process_before_response=True,
        request_verification_enabled=False,
        before_authorize=VerifySignature(connector),
        ignoring_self_events_enabled=False,
        logger=logging.getLogger("connectors.slack.bolt"),
    )
    app.use(StoreInInbox(connector, db, jobs))
    return app
