"""The webhook request path every vendor shares: verify, parse, store, acknowledge. No vendor or
knowledge-base work happens here; that is the job runner's.

Order matters (issue 11): the signature is checked on the raw bytes before anything decodes them; then the
body is decoded strictly (:func:`json_body`: bounded nesting, no lone surrogates, no ``NaN``) and checked
against the vendor's declared schema (:func:`validate`), so a mapper never meets a wrong type.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any, Mapping, Protocol, runtime_checkable

from marshmallow import Schema

from connectors.base import Connector
from core import inbox, notices
from core.db import Database
from core.errors import InboundError, PayloadError
from core.jobs import JobQueue
from core.notices import VendorNotice
from core.telemetry import count
from core.write_lock import INBOUND_BUSY_SECONDS

log = logging.getLogger(__name__)

MAX_DEPTH = 64
MAX_DELIVERY_HEADER = 128
# A JSON string (closed, or running to the end of the body), or a bracket. Every quote starts a match that
# always succeeds, so the scan is linear whatever the bytes.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


@runtime_checkable
class Handshake(Protocol):
    """Optional inbound capability: answer a vendor's handshake itself (Slack's ``url_verification`` and
    ``ssl_check``). Runs after :meth:`Connector.verify`, before :meth:`Connector.parse_event`."""

    def handshake(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
        """Return the JSON body to answer 200 with, or ``None`` when the request is not a handshake.

        Raises:
            PayloadError: the body is malformed.
        """
        ...


@runtime_checkable
class Notifies(Protocol):
    """Optional inbound capability: a delivery that carries no request but news an admin must see (Slack's
    ``app_rate_limited``: events it dropped), stored by :func:`note` (:mod:`core.notices`). Asked only of a verified
    delivery that :meth:`Connector.parse_event` ignored."""

    def notice(self, headers: Mapping[str, str], body: bytes) -> VendorNotice | None:
        """Return the notice the delivery is, or ``None``.

        Raises:
            PayloadError: the body is malformed.
        """
        ...


def note(connector: Connector, headers: Mapping[str, str], body: bytes, db: Database) -> bool:
    """Store the vendor notice an ignored delivery is, if it is one (:class:`Notifies`), before it is acknowledged.

    Returns:
        Whether the delivery was a notice (stored now or before).

    Raises:
        sqlalchemy.exc.DBAPIError: the database cannot store it (unacknowledged, the vendor delivers it again).
    """
    found = connector.notice(headers, body) if isinstance(connector, Notifies) else None
    if found is not None:
        notices.record(db, found, lock_wait=INBOUND_BUSY_SECONDS)
    return found is not None


def delivery_header(headers: Mapping[str, str], name: str) -> str | None:
    """A vendor's id for one delivery (Zendesk's invocation id, Atlassian's webhook identifier), kept with the
    event to trace it in the vendor's delivery log; never the event's dedupe key, which is what the body
    identifies (the headers are not signed). Longer than 128 characters or not printable ASCII: a hash."""
    value = headers.get(name)
    if not value:
        return None
    if len(value) <= MAX_DELIVERY_HEADER and value.isascii() and value.isprintable():
        return str(value)
    return "header:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_depth(body: bytes, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a body nested deeper than ``max_depth`` (arrays and objects), before any parser recurses.

    Raises:
        PayloadError: the body is nested too deeply.
    """
    depth = 0
    for match in _TOKENS.finditer(body):
        first = match.group()[0]
        if first in _OPENERS:
            depth += 1
            if depth > max_depth:
                raise PayloadError(f"{source} body is nested deeper than {max_depth} levels")
        elif first != 0x22:  # a closing bracket (a string starts with '"')
            depth -= 1


def _check_strings(data: Any, source: str) -> None:
    """Refuse lone UTF-16 surrogates (``"\\ud800"``) and NUL characters in any key or string: neither can be
    stored (PostgreSQL text holds no NUL) or sent on."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as e:
                raise PayloadError(f"{source} body holds a lone surrogate (\\u{ord(item[e.start]):04x})") from e
            if "\x00" in item:
                raise PayloadError(f"{source} body holds a NUL character (\\u0000)")


def json_body(body: bytes | str, source: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode a JSON body strictly.

    Args:
        body: the raw body (or an already extracted JSON text, such as Slack's ``payload=`` field).
        source: the vendor, for the messages.
        max_depth: the deepest nesting allowed.

    Returns:
        The decoded value (any JSON type: the schema decides what shape is acceptable).

    Raises:
        PayloadError: the body is empty, not UTF-8 JSON, nested too deeply, or holds ``NaN``/``Infinity``
            or a lone surrogate (400).
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if not raw.strip():
        raise PayloadError(f"{source} body is empty")
    check_depth(raw, source, max_depth)
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise PayloadError(f"{source} body is not JSON") from e
    _check_strings(data, source)
    return data


def _first_error(messages: Any, path: tuple[str, ...] = ()) -> tuple[str, str]:
    if isinstance(messages, dict) and messages:
        key = sorted(messages, key=str)[0]
        inner = path if key == "_schema" else path + (str(key),)
        return _first_error(messages[key], inner)
    if isinstance(messages, list) and messages:
        return ".".join(path) or "(body)", str(messages[0])
    return ".".join(path) or "(body)", str(messages)


def validate(schema: Schema, data: Any, source: str, *, path: str = "") -> dict[str, Any]:
    """Check decoded ``data`` against a vendor's declared schema.

    Args:
        schema: the declared shape.
        data: the decoded value.
        source: the vendor, for the messages.
        path: where ``data`` sits in the body (``"event"``), prefixed to the field path in messages.

    Returns:
        ``data``, now known to be an object of the declared shape.

    Raises:
        PayloadError: a field has the wrong type or is missing; the message names its path
            (``event.ts: Not a valid string.``).
    """
    if not isinstance(data, dict):
        raise PayloadError(f"{source} payload: {path or '(body)'}: must be a JSON object")
    errors = schema.validate(data)
    if errors:
        where, message = _first_error(errors, tuple(path.split(".")) if path else ())
        raise PayloadError(f"{source} payload: {where}: {message}")
    return data


def receive(connector: Connector, headers: Mapping[str, str], body: bytes, db: Database, jobs: JobQueue) -> dict[str, Any]:
    """Verify and store one webhook delivery.

    Args:
        connector: the vendor's connector.
        headers: the request headers.
        body: the raw request body.
        db: where the inbox lives.
        jobs: where the stored event is handed for processing.

    Returns:
        The JSON body to answer 200 with: ``{"status": "accepted" | "duplicate" | "ignored"}`` (a vendor notice,
        :class:`Notifies`, is stored and ``ignored``), or a handshake's own answer (:class:`Handshake`).

    Raises:
        SignatureError: the request is not from the vendor (401); nothing is stored.
        PayloadError: the body is malformed (400); nothing is stored.
    """
    source = connector.source.value
    try:
        connector.verify(headers, body)
        if b"\x00" in body:  # never in JSON or a form; PostgreSQL could not store the raw body
            raise PayloadError(f"{source} body holds a NUL byte")
        reply = connector.handshake(headers, body) if isinstance(connector, Handshake) else None
        event = None if reply is not None else connector.parse_event(headers, body)
    except InboundError as e:
        count("webhooks", source=source, outcome=type(e).__name__)
        log.warning(f"{source}.webhook.rejected", extra={"status": e.status, "error": type(e).__name__, "detail": str(e)})
        raise
    if reply is not None:
        count("webhooks", source=source, outcome="handshake")
        return reply
    if event is None:
        note(connector, headers, body, db)
        count("webhooks", source=source, outcome="ignored")
        return {"status": "ignored"}
    accepted = inbox.accept(db, jobs, event, body, lock_wait=INBOUND_BUSY_SECONDS)
    status = "duplicate" if accepted.duplicate else "accepted"
    count("webhooks", source=source, outcome=status)
    return {"status": status, "id": accepted.row_id}
