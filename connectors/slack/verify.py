"""Slack request signatures: slack_sdk's ``v0`` HMAC over the raw body, within its 5-minute replay window.
https://docs.slack.dev/authentication/verifying-requests-from-slack"""

from __future__ import annotations

from typing import Mapping

from slack_sdk.signature import SignatureVerifier

from core.errors import PayloadError, SignatureError

MAX_TIMESTAMP_DIGITS = 20  # Unix seconds, with room to spare (today's have 10)


def verify(verifier: SignatureVerifier, headers: Mapping[str, str], body: bytes) -> None:
    """Check a Slack request's signature with ``verifier`` (the signing secret's).

    Args:
        verifier: slack_sdk's verifier for the app's signing secret.
        headers: the request headers.
        body: the raw request body.

    Raises:
        SignatureError: the signature or timestamp is missing, wrong or too old.
        PayloadError: the body is not UTF-8 (its signature cannot be checked).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp, signature = lower.get("x-slack-request-timestamp"), lower.get("x-slack-signature")
    if not timestamp or not signature:
        raise SignatureError("missing Slack signature headers")
    if not (timestamp.isascii() and signature.isascii()):  # hmac.compare_digest raises on non-ASCII text
        raise SignatureError("invalid Slack signature")
    # slack_sdk reads the timestamp with int(): past 4300 digits Python refuses to (a ValueError, a 500), and no
    # Unix time in seconds has more than MAX_TIMESTAMP_DIGITS.
    if not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise SignatureError("malformed Slack request timestamp")
    try:  # slack_sdk signs the body's text: one that is not UTF-8 cannot be checked (Slack sends UTF-8)
        valid = verifier.is_valid(body, timestamp, signature)
    except UnicodeDecodeError as e:
        raise PayloadError("Slack body is not UTF-8 text") from e
    if not valid:
        raise SignatureError("invalid or stale Slack signature")
