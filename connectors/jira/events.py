"""Jira webhook bodies -> :class:`TicketEvent`, and the webhook signature. Pure.

Handled: ``jira:issue_created`` (a new request), ``comment_created`` (a public comment from the
requester's side, or an agent's), and ``jira:issue_updated`` changing the status of an issue the hub opened. Everything else, internal comments and the hub's own comments are ignored (``None``).
https://developer.atlassian.com/cloud/jira/platform/webhooks/
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Mapping

from connectors.fields import INBOX_KEY_CHARS
from connectors.inbound import delivery_header
from connectors.jira import schemas
from connectors.jira.mapping import (
    CREATED_LABEL, IF_AGENT, Self, awaits_reporter, is_internal, message, parse_time, user_id, visibility_of,
)
from core.errors import PayloadError, SignatureError
from core.models import EventKind, Source, TicketEvent, TicketRef, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
ISSUE_CREATED = "jira:issue_created"
ISSUE_UPDATED = "jira:issue_updated"
COMMENT_CREATED = "comment_created"
_ISSUE_IN_SELF = re.compile(r"/issue/([^/?#]+)/comment/")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira sends: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str | None, headers: Mapping[str, str], body: bytes, *, allow_unsigned: bool = False) -> None:
    """Check ``X-Hub-Signature`` (admin webhooks with a secret sign every request).

    Args:
        secret: ``JIRA_WEBHOOK_SECRET``.
        headers: the request headers.
        body: the raw request body.
        allow_unsigned: ``JIRA_ALLOW_UNSIGNED_WEBHOOKS``, the explicit opt-out for Jira installs that cannot
            sign: without a secret, deliveries are then taken unchecked (the boot warns).

    Raises:
        SignatureError: the header is missing or wrong, or no secret is set and unsigned webhooks are not
            allowed.
    """
    if not secret:
        if allow_unsigned:
            return
        log.warning("jira.webhook.no-secret")
        raise SignatureError(
            "JIRA_WEBHOOK_SECRET is not set: Jira webhooks are refused (set the secret, or "
            "JIRA_ALLOW_UNSIGNED_WEBHOOKS=true for a Jira that cannot sign)"
        )
    given = headers.get(SIGNATURE_HEADER) or ""
    if not hmac.compare_digest(sign(secret, body).encode(), given.strip().encode("utf-8", "replace")):
        log.warning("jira.webhook.invalid-signature")
        raise SignatureError("invalid or missing Jira X-Hub-Signature")


def comment_key(comment_id: str) -> str:
    """The inbox key of one comment, whichever way it is seen (``comment_created``, poll)."""
    return f"comment:{comment_id}"


def change_key(issue_id: str, change_id: str) -> str:
    """The inbox key of one change to an issue (``jira:issue_updated``): ``issue:<issue id>:change:<changelog
    id>``. Two ids of up to ``MAX_ID_CHARS`` each can outgrow the inbox's key column (a 500 on PostgreSQL):
    such a key is kept as its digest, which still names one change."""
    key = f"issue:{issue_id}:change:{change_id}"
    if len(key) <= INBOX_KEY_CHARS:
        return key
    return "change:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def created_key(issue_id: str) -> str:
    """The inbox key of a new issue, whichever way it is seen (``jira:issue_created``, poll): by its id, which
    every issue body carries."""
    return f"issue:{issue_id}:created"


def event_key(body: Mapping[str, Any]) -> str:
    """The inbox dedupe key: what identifies the event itself, so that every delivery of one event is stored
    once, by webhook or by poll (:mod:`connectors.jira.poll` keys its events alike), and two events are never
    merged.

    - ``comment_created``: :func:`comment_key` (a comment is created once);
    - ``jira:issue_created``: :func:`created_key` (an issue is created once);
    - ``jira:issue_updated``: :func:`change_key` (each change has its own changelog);
    - anything else, or a body without those ids: a hash of the whole decoded body (canonical JSON), whose
      ``timestamp`` (milliseconds) tells two events apart.

    NOTE(jira): ``X-Atlassian-Webhook-Identifier`` is the same across Jira's retries of one delivery, but
    nothing binds it to the body (the signature covers the body only), so a replay may carry a new one; and
    one event can reach the hub in bodies that differ: each registered webhook gets its own delivery (the
    body names the webhooks it matched, ``matchedWebhookIds``), and Data Center has been seen to fire one
    comment's event twice. https://developer.atlassian.com/cloud/jira/platform/webhooks/
    """
    kind = body.get("webhookEvent")
    issue_id = (body.get("issue") or {}).get("id")
    comment_id = (body.get("comment") or {}).get("id")
    changelog = body.get("changelog")
    change_id = changelog.get("id") if isinstance(changelog, Mapping) else None
    if kind == COMMENT_CREATED and _present(comment_id):
        return comment_key(str(comment_id))
    if kind == ISSUE_CREATED and _present(issue_id):
        return created_key(str(issue_id))
    if kind == ISSUE_UPDATED and _present(issue_id) and _present(change_id):
        return change_key(str(issue_id), str(change_id))
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "body:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _present(value: Any) -> bool:
    return value is not None and str(value) != ""


def check_age(body: Mapping[str, Any], max_age: timedelta, now: datetime | None = None) -> None:
    """Refuse a delivery whose ``timestamp`` is more than ``max_age`` away from now (a replay of an old one).

    Raises:
        SignatureError: the delivery is outside the window (401, like a stale Slack or Zendesk signature).
        PayloadError: the body has no readable timestamp.
    """
    sent = parse_time(body.get("timestamp"))
    if sent is None:
        raise PayloadError("jira payload: timestamp: missing or not a time")
    if abs((now or utcnow()) - sent) > max_age:
        log.warning("jira.webhook.stale-timestamp")
        raise SignatureError("Jira delivery timestamp outside the replay window")


def parse(headers: Mapping[str, str], body: Any, me: Self) -> TicketEvent | None:
    """Translate a verified Jira webhook body into an event.

    Args:
        headers: the request headers (``X-Atlassian-Webhook-Identifier`` is kept in ``data["delivery"]``).
        body: the decoded JSON body.
        me: the hub's own Jira identity, as far as known.

    Returns:
        The event, keyed by :func:`event_key`, or ``None`` for what the hub must ignore.

    Raises:
        PayloadError: the body is not a Jira webhook, a field has the wrong type (:mod:`connectors.jira.schemas`;
            an issue key that is not one included), or it names no issue.
    """
    event = _parse(schemas.checked(body), me)
    identifier = delivery_header(headers, IDENTIFIER_HEADER)
    if event is None or identifier is None:
        return event
    return replace(event, data={**event.data, "delivery": identifier})


def _parse(body: Mapping[str, Any], me: Self) -> TicketEvent | None:
    kind = body["webhookEvent"]
    if kind == ISSUE_UPDATED:
        return _status_change(body)
    if kind not in (ISSUE_CREATED, COMMENT_CREATED):
        return None
    issue = body.get("issue") or {}
    fields = issue.get("fields") or {}
    comment = body.get("comment") or {}
    key = issue.get("key") or _issue_from_comment(comment)
    if not key:
        raise PayloadError("jira payload: issue.key: the webhook names no issue")
    ref = TicketRef(Source.JIRA, str(key))
    delivery = event_key(body)
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
    # issue); the pipeline never treats it as the requester's word. NOTE(jira): no comment webhook names the
    # reporter (Cloud's partial issue leaves it out, Server/DC sends no issue; platform-apis.md 3.2): such a
    # comment is passed on as the requester's side's with what it would be as an agent's, and the job
    # judges it on the issue's reporter (JiraConnector.resolve) before the pipeline reads it.
    msg = message(comment, user_id(reporter) if reporter else None, me)
    if not _present(comment.get("id")):  # two comments without ids would be one message: this one is its delivery
        msg = replace(msg, external_id=delivery)
    data = {}
    if reporter is None and awaits_reporter(comment, msg.author):
        data[IF_AGENT] = visibility_of(comment, replace(msg.author, is_agent=True)).value
    if opened_by_hub and not msg.author.is_agent and not data:
        return None  # an issue the hub opened for an escalated chat: only its agents' replies are measured
    if not msg.text:
        return None
    return TicketEvent(Source.JIRA, delivery, EventKind.COMMENTED, ref, message=msg, received_at=received, data=data)


def _status_change(body: Mapping[str, Any]) -> TicketEvent | None:
    """An issue the hub opened for a Slack thread changed status: the pipeline reads it back and tells the
    thread when it is done (issue 12). Other updates are ignored.

    NOTE(jira): ``changelog.items[]`` names the changed ``field`` ("status").
    https://developer.atlassian.com/cloud/jira/platform/webhooks/#example-callback-for-an-issue-related-event
    """
    issue = body.get("issue") or {}
    fields = issue.get("fields") or {}
    changelog = body.get("changelog")
    items = changelog.get("items") if isinstance(changelog, Mapping) else None
    changed = isinstance(items, list) and any(isinstance(i, Mapping) and i.get("field") == "status" for i in items)
    if not changed or CREATED_LABEL not in (fields.get("labels") or ()) or not issue.get("key"):
        return None
    ref = TicketRef(Source.JIRA, str(issue["key"]))
    received = parse_time(body.get("timestamp")) or utcnow()
    return TicketEvent(Source.JIRA, event_key(body), EventKind.UPDATED, ref, received_at=received, data={"status_change": True})


def _issue_from_comment(comment: Mapping[str, Any]) -> str | None:
    # NOTE(jira): Server/DC sends comment_created without "issue" since 7.1; the comment's self link holds
    # the issue id, which the REST API accepts wherever a key is (platform-apis.md 3.2). The hub keeps issues
    # by key: the job asks the connector for it (JiraConnector.resolve) before looking the issue up.
    found = _ISSUE_IN_SELF.search(str(comment.get("self") or ""))
    if found is None:
        return None
    if not schemas.is_issue_key(found.group(1)):
        raise PayloadError("jira payload: comment.self: names no issue key or id")
    return found.group(1)
