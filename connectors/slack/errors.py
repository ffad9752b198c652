"""slack_sdk errors translated once into the hub's error tree (STYLE.md "Errors")."""

from __future__ import annotations

import http.client
import logging
import socket
from typing import Any, Callable, TypeVar
from urllib.error import URLError

from slack_sdk.errors import SlackApiError

from core.errors import ConnectorError, Fatal, NotFound, Refused, Retriable
from core.models import storable
from core.telemetry import count

log = logging.getLogger(__name__)

T = TypeVar("T")

# NOTE(slack): users.info answers ``user_not_visible`` for a user the bot may not see (a Slack Connect guest
# from another organisation): that person is unknown, as ``user_not_found``, not a broken install.
# https://docs.slack.dev/reference/methods/users.info#errors
NOT_FOUND = {"channel_not_found", "message_not_found", "thread_not_found", "user_not_found", "user_not_visible"}
# NOTE(slack): Web API error codes that mean "try again later" even on HTTP 200.
# https://docs.slack.dev/reference/methods/chat.postMessage#errors
PASSING = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# NOTE(slack): a conversation that will not take the app's messages: archived, or the app is not (or no longer)
# a member. https://docs.slack.dev/reference/methods/chat.postMessage#errors
REFUSED = {"is_archived", "not_in_channel"}
CODE_CHARS = 100


def _retry_after(headers: Any) -> float | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, (list, tuple)) else value)
            except (TypeError, ValueError):
                return None
    return None


def translate(method: str, error: SlackApiError) -> ConnectorError:
    """Map a failed Web API call to ``Retriable``, ``NotFound`` or ``Fatal``.

    Args:
        method: the Web API method, for the message.
        error: what slack_sdk raised.

    Returns:
        HTTP 429 -> ``Retriable(retry_after=Retry-After)``; 5xx and passing error codes -> ``Retriable``;
        ``channel_not_found``/``message_not_found``/``thread_not_found``/``user_not_found``/``user_not_visible``
        -> ``NotFound``;
        ``is_archived``/``not_in_channel`` -> ``Refused`` (a ``Fatal``); anything else (``invalid_auth``, ...) -> ``Fatal``.
    """
    response = error.response
    status = getattr(response, "status_code", 0) or 0
    data = getattr(response, "data", None)
    # NOTE(slack): an error code is a short snake_case name (https://docs.slack.dev/apis/web-api/#errors); a longer
    # one is cut, so that a log line or the row's last error never carries a vendor's text at length.
    code = storable(str(data.get("error") or ""))[:CODE_CHARS] if isinstance(data, dict) else ""
    if status == 429 or code == "ratelimited":
        return Retriable(
            f"slack {method}: rate limited", retry_after=_retry_after(getattr(response, "headers", None)), rate_limited=True
        )
    if status >= 500 or code in PASSING:
        return Retriable(f"slack {method}: HTTP {status} {code}".strip())
    if code in NOT_FOUND:
        return NotFound(f"slack {method}: {code}")
    if code in REFUSED:
        return Refused(f"slack {method}: {code}")
    return Fatal(f"slack {method}: {code or f'HTTP {status}'}")


def call(method: str, func: Callable[..., T], **kwargs: Any) -> T:
    """Run one Web API call, counting its outcome and translating its errors.

    Raises:
        Retriable: 429, 5xx, timeouts and connection errors. NotFound, Fatal: as :func:`translate`.
    """
    try:
        result = func(**kwargs)
    except SlackApiError as e:
        translated = translate(method, e)
        count("slack_api_calls", method=method, outcome=type(translated).__name__)
        log.warning("slack.api.error", extra={"method": method, "error": type(translated).__name__, "detail": str(translated)})
        raise translated from e
    except (URLError, TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as e:
        count("slack_api_calls", method=method, outcome="Retriable")
        log.warning("slack.api.unreachable", extra={"method": method, "error": type(e).__name__})
        raise Retriable(f"slack {method}: {type(e).__name__}") from e
    count("slack_api_calls", method=method, outcome="ok")
    return result
