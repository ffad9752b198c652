"""Zendesk webhook signatures: base64(HMAC-SHA256(secret, timestamp + body)) with a replay window."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import datetime, timedelta
from typing import Mapping

from connectors.zendesk.mapping import parse_time
from core.errors import SignatureError
from core.models import utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
REPLAY_WINDOW = timedelta(minutes=5)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature Zendesk sends for ``body`` at ``timestamp``.

    NOTE(zendesk): the secret is used as its UTF-8 bytes (not base64-decoded), and the message is the
    timestamp header's text followed by the raw body.
    https://developer.zendesk.com/documentation/webhooks/verifying/
    """
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None) -> None:
    """Check a webhook request's signature and age.

    Args:
        secret: the webhook's signing secret.
        headers: the request headers (case-insensitive).
        body: the raw request body.
        now: the current time (tests).

    Raises:
        SignatureError: a header is missing, the signature does not match, or the timestamp is more than
            :data:`REPLAY_WINDOW` away from now.
    """
    signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        log.warning("zendesk.webhook.unsigned")
        raise SignatureError("missing Zendesk webhook signature headers")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode("utf-8", "replace")):
        log.warning("zendesk.webhook.invalid-signature")
        raise SignatureError("invalid Zendesk webhook signature")
    sent = parse_time(timestamp)
    if sent is None or abs((now or utcnow()) - sent) > REPLAY_WINDOW:
        log.warning("zendesk.webhook.stale-timestamp")
        raise SignatureError("Zendesk webhook timestamp outside the replay window")
