"""The HTTP side of the Jira connector: a pycontribs ``JIRA`` client built without a network call, and
the one place where Jira failures become ``core.errors``."""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

import requests
from jira import JIRA, JIRAError

from connectors.transport import UNDELIVERED
from core.errors import ConnectorError, Fatal, NotFound, Retriable
from core.telemetry import count

log = logging.getLogger(__name__)

T = TypeVar("T")
TIMEOUT_SECONDS = 20


def make_jira(base_url: str, email: str, api_token: str) -> JIRA:
    """Build the client for ``base_url`` (any URL, ``http://127.0.0.1:PORT`` included).

    NOTE(jira): the constructor would call ``serverInfo`` (``get_server_info``) and PyPI (``check_update``);
    both are off so that building the hub makes no call. ``max_retries=0`` because its ResilientSession
    sleeps through 429/503 inside the caller; the hub's outbox waits instead.
    https://jira.readthedocs.io/api.html#jira.client.JIRA
    """
    return JIRA(
        server=base_url,
        basic_auth=(email, api_token),
        get_server_info=False,
        max_retries=0,
        timeout=TIMEOUT_SECONDS,
        options={"check_update": False, "rest_api_version": "2"},
    )


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    try:
        return float(headers["Retry-After"]) if headers.get("Retry-After") else None
    except (TypeError, ValueError):
        return None


def translate(what: str, error: Exception) -> ConnectorError:
    """The hub's error for a failed Jira call.

    Returns:
        ``Retriable`` for 429 (with ``retry_after``), 5xx, timeouts, connection errors and answers cut short
        (:data:`connectors.transport.UNDELIVERED`); ``NotFound`` for
        404; ``Fatal`` for 401/403 and other 4xx or unexpected responses.
    """
    if isinstance(error, ConnectorError):
        return error
    if isinstance(error, UNDELIVERED):
        return Retriable(f"jira {what}: unreachable ({type(error).__name__})")
    if isinstance(error, JIRAError):
        status = error.status_code or 0
        if status == 429 or status >= 500:
            return Retriable(f"jira {what}: {status}", retry_after=_retry_after(error.response), rate_limited=status == 429)
        if status == 404:
            return NotFound(f"jira {what}: not found (404)")
        return Fatal(f"jira {what}: refused ({status})")
    return Fatal(f"jira {what}: unexpected response ({type(error).__name__})")


def json_object(response: Any) -> dict[str, Any]:
    """The JSON object of a successful response (the jira session raises ``JIRAError`` on a failed one).

    Raises:
        ValueError: the body is not a JSON object (:func:`call` makes it ``Fatal``).
    """
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("Jira answered with something other than a JSON object")
    return data


def status_of(error: BaseException) -> int | None:
    """The HTTP status of the Jira answer behind ``error`` (a hub error raised ``from`` a ``JIRAError``)."""
    cause = error.__cause__ if not isinstance(error, JIRAError) else error
    return cause.status_code if isinstance(cause, JIRAError) else None


def call(what: str, func: Callable[[], T]) -> T:
    """Run one Jira call, translating its failure (``raise ... from``) and logging the outcome key.

    Raises:
        NotFound, Retriable, Fatal: the call failed.
    """
    try:
        result = func()
    except (JIRAError, requests.RequestException, ValueError, KeyError, TypeError) as e:
        mapped = translate(what, e)
        count("vendor_calls", connector="jira", call=what, outcome=type(mapped).__name__)
        log.warning("jira.http.error", extra={"call": what, "error": type(mapped).__name__})
        raise mapped from e
    count("vendor_calls", connector="jira", call=what, outcome="success")
    return result
