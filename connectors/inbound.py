"""The webhook request path every vendor shares: verify, parse, store, acknowledge. No vendor or
knowledge-base work happens here; that is the job runner's."""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from connectors.base import Connector
from core import inbox
from core.db import Database
from core.errors import InboundError, PayloadError
from core.jobs import JobQueue
from core.telemetry import count

log = logging.getLogger(__name__)


def json_body(body: bytes, source: str) -> Any:
    """Decode a webhook's JSON body (an empty body is ``None``).

    Raises:
        PayloadError: the body is not JSON (400).
    """
    try:
        return json.loads(body or b"null")
    except ValueError as e:
        raise PayloadError(f"{source} webhook body is not JSON") from e


def receive(connector: Connector, headers: Mapping[str, str], body: bytes, db: Database, jobs: JobQueue) -> dict[str, Any]:
    """Verify and store one webhook delivery.

    Args:
        connector: the vendor's connector.
        headers: the request headers.
        body: the raw request body.
        db: where the inbox lives.
        jobs: where the stored event is handed for processing.

    Returns:
        The JSON body to answer 200 with: ``{"status": "accepted" | "duplicate" | "ignored"}``.

    Raises:
        SignatureError: the request is not from the vendor (401); nothing is stored.
        PayloadError: the body is malformed (400); nothing is stored.
    """
    source = connector.source.value
    try:
        connector.verify(headers, body)
        event = connector.parse_event(headers, body)
    except InboundError as e:
        count("webhooks", source=source, outcome=type(e).__name__)
        log.warning(f"{source}.webhook.rejected", extra={"status": e.status, "error": type(e).__name__})
        raise
    if event is None:
        count("webhooks", source=source, outcome="ignored")
        return {"status": "ignored"}
    accepted = inbox.accept(db, jobs, event, body)
    status = "duplicate" if accepted.duplicate else "accepted"
    count("webhooks", source=source, outcome=status)
    return {"status": status, "id": accepted.row_id}
