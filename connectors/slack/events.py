"""Slack's inbound requests (``POST /slack/events``, routed by ``surfaces.http``): Slack enters through the same
path as Zendesk and Jira (issue 12 item 8).

:func:`connectors.inbound.receive` runs verify (slack_sdk's ``SignatureVerifier`` on the raw bytes, 5-minute
replay window) → handshake (``url_verification`` echoes its challenge, ``ssl_check`` gets an empty 200; both
are signed like every Slack request) → parse (strict JSON, the declared shapes of
:mod:`connectors.slack.schemas`, then :mod:`connectors.slack.mapping`) → store once per delivery id in the inbox,
then answers 200. One Request URL serves the Events API (JSON) and interactivity (a form with one
``payload`` field).

Bolt is not on this path any more: all it did here was parse the body before its middleware ran (so unsigned
garbage was a 500 before any signature check), answer the two handshakes, and dispatch to listeners the hub
never registered (every request is stored and handled by the job runner). The Web API side is slack_sdk's
``WebClient`` (:mod:`connectors.slack.connector`).
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qs

from connectors.inbound import json_body
from connectors.slack import schemas
from core.errors import PayloadError

FORM = "application/x-www-form-urlencoded"


def is_form(headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a request is an interactivity or ``ssl_check`` form post rather than Events API JSON."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return FORM in content_type or body.startswith((b"payload=", b"ssl_check="))


def read(headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
    """Decode a verified Slack request and check its declared shape.

    Returns:
        The payload, or ``None`` for an ``ssl_check`` ping or a slash command (nothing for the hub).

    Raises:
        PayloadError: not UTF-8, not JSON, not an object, or a field of the wrong type (the message names it).
    """
    if is_form(headers, body):
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=20)
        except (UnicodeDecodeError, ValueError) as e:
            raise PayloadError("slack form body is not a valid form") from e
        if "payload" not in form and ("ssl_check" in form or "command" in form):
            # NOTE(slack): a slash command posts a form of its own (command=/x&text=...) to its Request URL; the
            # hub registers none, so one pointed here is not for it: an empty 200, as Slack expects within 3 s,
            # rather than a 400 that Slack shows the user as "failed with the error http_client_error".
            # https://docs.slack.dev/interactivity/implementing-slash-commands
            return None
        payloads = form.get("payload") or []
        if len(payloads) != 1:
            raise PayloadError("slack payload: payload: a form post must carry one payload field")
        decoded = json_body(payloads[0], "slack")
    else:
        decoded = json_body(body, "slack")
    return schemas.checked(decoded)


def handshake(headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
    """Answer ``url_verification`` (``{"challenge": ...}``) and ``ssl_check`` (``{}``) on a verified request.

    NOTE(slack): https://docs.slack.dev/reference/events/url_verification

    Returns:
        The answer, or ``None`` when the request is not a handshake.

    Raises:
        PayloadError: the body is malformed.
    """
    if b"url_verification" not in body and not body.startswith(b"ssl_check="):
        return None  # the common case, without decoding the body twice
    payload = read(headers, body)
    if payload is None:
        return {}
    if payload["type"] == "url_verification":
        return {"challenge": payload["challenge"]}
    return None
