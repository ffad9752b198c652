"""The HTTP side of the Zendesk connector: a requests session that serves any base URL, a zenpy client on
top of it, and the one place where Zendesk failures become ``core.errors``."""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

import requests
from zenpy import Zenpy
from zenpy.lib.exception import APIException, RecordNotFoundException, ZenpyException

from connectors.transport import UNDELIVERED
from core.errors import ConnectorError, Fatal, NotFound, Retriable
from core.telemetry import count

log = logging.getLogger(__name__)

T = TypeVar("T")

# NOTE(zendesk): zenpy builds every URL as https://{subdomain}.{domain}/api/v2/... and has no base-URL
# option (zenpy/lib/api.py BaseApi._build_url). We give it this placeholder host and the session below
# rewrites it to ZENDESK_URL, so a proxy or http://127.0.0.1:PORT works like https://acme.zendesk.com.
PLACEHOLDER_SUBDOMAIN = "hub"
PLACEHOLDER_DOMAIN = "zendesk.invalid"
PLACEHOLDER_BASE = f"https://{PLACEHOLDER_SUBDOMAIN}.{PLACEHOLDER_DOMAIN}"
TIMEOUT_SECONDS = 20.0


def retry_after(response: requests.Response) -> float | None:
    """Return the ``Retry-After`` header in seconds, if the response has a usable one."""
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_for(response: requests.Response) -> ConnectorError | None:
    """Map a failed Zendesk response to the hub's error (``None`` for a success).

    Args:
        response: the HTTP response.

    Returns:
        ``Retriable`` for 429 (with ``retry_after``), 409 and 5xx, ``NotFound`` for 404, ``Fatal`` for other
        4xx (401/403 are credentials or permissions; 422 a refused record, its ``error`` and ``description``
        named), ``None`` for 2xx/3xx.

    NOTE(zendesk): a 409 is a conflict with a concurrent write to the same record (a ticket updated by two
    requests at once): nothing was applied, and the same update tried again is taken. The hub sends no
    ``safe_update``, so a retry cannot conflict on a stale ``updated_stamp``.
    https://developer.zendesk.com/api-reference/introduction/requests/ (400 range);
    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#protecting-against-ticket-update-collisions
    """
    status = response.status_code
    if status < 400:
        return None
    where = f"zendesk {response.request.method if response.request else ''} {_path(response.url)}"
    if status == 429:
        return Retriable(f"{where}: rate limited (429)", retry_after=retry_after(response), rate_limited=True)
    if status >= 500:
        return Retriable(f"{where}: server error ({status})", retry_after=retry_after(response))
    if status == 409:
        return Retriable(f"{where}: conflict with a concurrent update (409)", retry_after=retry_after(response))
    if status == 404:
        return NotFound(f"{where}: not found (404)")
    return Fatal(f"{where}: refused ({status}{_said(response)})")


def _said(response: requests.Response) -> str:
    """What Zendesk said of a refusal: the body's ``error`` and ``description`` (never its ``details``, which
    quote the record's values), each cut short; nothing for a body that is not a JSON object."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    error, description = body.get("error"), body.get("description")
    if isinstance(error, dict):  # NOTE(zendesk): some endpoints nest it: {"error": {"title", "message"}}
        error, description = error.get("title"), description or error.get("message")
    said = [str(part)[:120] for part in (error, description) if isinstance(part, (str, int)) and str(part).strip()]
    return f": {': '.join(said)}" if said else ""


def _path(url: str | None) -> str:
    return (url or "").split("?", 1)[0].split("/api/v2", 1)[-1]


class HubSession(requests.Session):
    """A session that points zenpy's placeholder host at ``base_url`` and raises the hub's errors.

    NOTE(zendesk): zenpy sleeps through a 429 by itself, ``Retry-After`` seconds at a time, inside the
    caller's thread (zenpy/lib/api.py ``_call_api``). The hub's outbox waits instead, so this session raises
    ``Retriable(retry_after=...)`` before zenpy sees the response.
    https://developer.zendesk.com/api-reference/introduction/rate-limits/
    """

    def __init__(self, base_url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        target = url.decode() if isinstance(url, bytes) else str(url)
        if target.startswith(PLACEHOLDER_BASE):
            target = self.base_url + target[len(PLACEHOLDER_BASE):]
        kwargs.setdefault("timeout", self.default_timeout)
        try:
            verb = method.decode() if isinstance(method, bytes) else method
            response = super().request(verb, target, *args, **kwargs)
        except UNDELIVERED as e:
            log.warning("zendesk.http.unreachable", extra={"error": type(e).__name__})
            raise Retriable(f"zendesk unreachable: {type(e).__name__}") from e
        error = error_for(response)
        if error is not None:
            log.warning("zendesk.http.error", extra={"status": response.status_code, "path": _path(response.url)})
            raise error
        # NOTE(zendesk): zenpy picks its response parser only when the request URL contains its own host
        # (zenpy/lib/response.py GenericZendeskResponseHandler.applies_to), so it is shown that host back.
        if response.request is not None and str(response.request.url).startswith(self.base_url):
            response.request.url = PLACEHOLDER_BASE + str(response.request.url)[len(self.base_url):]
        return response

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET ``{base_url}{path}`` (or an absolute URL from a ``next_page`` link) and return its JSON.

        Raises:
            Retriable, NotFound, Fatal: the call failed.
        """
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        response = self.get(url, params=params)
        try:
            body = response.json()
        except ValueError as e:
            raise Retriable(f"zendesk {_path(url)}: the response is not JSON") from e
        if not isinstance(body, dict):
            raise Fatal(f"zendesk {_path(url)}: unexpected response shape")
        return body


def make_zenpy(base_url: str, email: str, api_token: str) -> tuple[Zenpy, HubSession]:
    """Build a zenpy client that talks to ``base_url`` through a :class:`HubSession`.

    Args:
        base_url: ZENDESK_URL, e.g. ``https://acme.zendesk.com`` or ``http://127.0.0.1:8765``.
        email: the API user's email (the hub's own agent).
        api_token: the API token.

    Returns:
        The zenpy client (cache off: the hub always wants fresh tickets) and its session.
    """
    session = HubSession(base_url)
    client = Zenpy(
        subdomain=PLACEHOLDER_SUBDOMAIN,
        domain=PLACEHOLDER_DOMAIN,
        email=email,
        token=api_token,
        session=session,
        disable_cache=True,
        timeout=TIMEOUT_SECONDS,
    )
    return client, session


def call(what: str, func: Callable[[], T]) -> T:
    """Run one zenpy call and translate what it raises into ``core.errors``.

    Args:
        what: a short name for logs (``tickets.update``).
        func: the call.

    Raises:
        NotFound, Retriable, Fatal: the call failed (errors the session raised pass through unchanged).
    """
    try:
        result = func()
    except ConnectorError as e:
        count("vendor_calls", connector="zendesk", call=what, outcome=type(e).__name__)
        raise
    except RecordNotFoundException as e:
        count("vendor_calls", connector="zendesk", call=what, outcome="NotFound")
        raise NotFound(f"zendesk {what}: not found") from e
    except APIException as e:
        response = getattr(e, "response", None)
        mapped = (error_for(response) if response is not None else None) or Fatal(f"zendesk {what}: {type(e).__name__}")
        count("vendor_calls", connector="zendesk", call=what, outcome=type(mapped).__name__)
        raise mapped from e
    except (ZenpyException, ValueError, KeyError, TypeError) as e:
        count("vendor_calls", connector="zendesk", call=what, outcome="Fatal")
        raise Fatal(f"zendesk {what}: unexpected response ({type(e).__name__})") from e
    count("vendor_calls", connector="zendesk", call=what, outcome="success")
    return result
