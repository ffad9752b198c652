"""Jira webhook bodies -> :class:`TicketEvent`, and the webhook signature. Pure.

Handled: ``jira:issue_created`` (a new request) and ``comment_created`` (a public comment from the
requester's side). Everything else, internal comments and the hub's own comments are ignored (``None``).
https://developer.atlassian.com/cloud/jira/platform/webhooks/
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any, Mapping

from connectors.jira.mapping import CREATED_LABEL, Self, is_internal, message, parse_time, user_id
from core.errors import PayloadError, SignatureError
from core.models import EventKind, Source, TicketEvent, TicketRef, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
ISSUE_CREATED = "jira:issue_created"
COMMENT_CREATED = "comment_created"
_ISSUE_IN_SELF = re.compile(r"/issue/([^/]+)/comment/")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira sends: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str | None, headers: Mapping[str, str], body: bytes) -> None:
    """Check ``X-Hub-Signature`` when a secret is configured (admin webhooks with a secret sign every
    request; without a secret nothing is checked).

    Raises:
        SignatureError: a secret is configured and the header is missing or wrong.
    """
    if not secret:
        return
    given = headers.get(SIGNATURE_HEADER) or ""
    if not hmac.compare_digest(sign(secret, body), given.strip()):
        log.warning("jira.webhook.invalid-signature")
        raise SignatureError("invalid or missing Jira X-Hub-Signature")


def delivery_id(headers: Mapping[str, str], body: Mapping[str, Any], key: str) -> str:
    """The inbox dedupe key: ``X-Atlassian-Webhook-Identifier`` (the same across retries), else a hash of
    the event name, issue key, timestamp and comment id."""
    header = headers.get(IDENTIFIER_HEADER)
    if header:
        return str(header)
    comment = (body.get("comment") or {}).get("id", "")
    text = f"{body.get('webhookEvent')}|{key}|{body.get('timestamp')}|{comment}"
    return "hash:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def parse(headers: Mapping[str, str], body: Any, me: Self) -> TicketEvent | None:
    """Translate a verified Jira webhook body into an event.

    Args:
        headers: the request headers.
        body: the decoded JSON body.
        me: the hub's own Jira identity, as far as known.

    Returns:
        The event, or ``None`` for what the hub must ignore.

    Raises:
        PayloadError: the body is not a Jira webhook or names no issue.
    """
    if not isinstance(body, dict) or not body.get("webhookEvent"):
        raise PayloadError("not a Jira webhook body (no webhookEvent)")
    kind = body["webhookEvent"]
    if kind not in (ISSUE_CREATED, COMMENT_CREATED):
        return None
    issue = body.get("issue") or {}
    fields = issue.get("fields") or {}
    comment = body.get("comment") or {}
    key = issue.get("key") or _issue_from_comment(comment)
    if not key:
        raise PayloadError("Jira webhook names no issue")
    ref = TicketRef(Source.JIRA, str(key))
    delivery = delivery_id(headers, body, ref.external_id)
    received = parse_time(body.get("timestamp")) or utcnow()
    opened_by_hub = CREATED_LABEL in (fields.get("labels") or ())
    if kind == ISSUE_CREATED:
        if opened_by_hub:
            return None
        if me.owns(fields.get("reporter")) or me.owns(fields.get("creator")) or me.owns(body.get("user")):
            return None
        return TicketEvent(Source.JIRA, delivery, EventKind.CREATED, ref, received_at=received)
    if not comment or is_internal(comment) or me.owns(comment.get("author")):
        return None
    reporter = fields.get("reporter")
    # An agent's comment is passed on marked as an agent's (the agents' first response on an escalated
    # issue); the pipeline never treats it as the requester's word.
    msg = message(comment, user_id(reporter) if reporter else None, me)
    if opened_by_hub and not msg.author.is_agent:
        return None  # an issue the hub opened for an escalated chat: only its agents' replies are measured
    if not msg.text:
        return None
    return TicketEvent(Source.JIRA, delivery, EventKind.COMMENTED, ref, message=msg, received_at=received)


def _issue_from_comment(comment: Mapping[str, Any]) -> str | None:
    # NOTE(jira): Server/DC sends comment_created without "issue" since 7.1; the comment's self link holds
    # the issue id, which the REST API accepts wherever a key is (platform-apis.md 3.2).
    found = _ISSUE_IN_SELF.search(str(comment.get("self") or ""))
    return found.group(1) if found else None
