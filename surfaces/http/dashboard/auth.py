"""Admin authentication: ``Authorization: Bearer <HUB_ADMIN_TOKEN>`` or the login form's session cookie.

The cookie holds an expiry and an HMAC of it keyed by the admin token, so it needs no server-side state,
cannot be forged without the token, and stops working when the token is rotated. :func:`refusal` is the one
rule every admin route applies: a request without a credential is a 401 with a ``WWW-Authenticate: Bearer``
challenge (RFC 9110 15.5.2), a wrong credential too, saying what was wrong with it; without a configured token the 401's message says to set
``HUB_ADMIN_TOKEN``, and a request that does send a credential is a 403 (no credential can open what is off).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field

from flask import Request

from config import Settings

COOKIE = "hub_admin"
SESSION_SECONDS = 12 * 3600
NOT_CONFIGURED = "the admin dashboard and analytics API are off: set HUB_ADMIN_TOKEN to enable them"
TOKEN_REQUIRED = "admin token required: send 'Authorization: Bearer <HUB_ADMIN_TOKEN>'"
WRONG_TOKEN = "that token is not the admin token: send the value of HUB_ADMIN_TOKEN as 'Authorization: Bearer <token>'"
NOT_BEARER = "admin token required: the Authorization header is not 'Bearer <token>': send 'Authorization: Bearer <HUB_ADMIN_TOKEN>'"
SESSION_ENDED = (f"admin token required: the session has ended (after {SESSION_SECONDS // 3600} hours, or when "
                 "HUB_ADMIN_TOKEN changed): sign in again at /admin, or send 'Authorization: Bearer <HUB_ADMIN_TOKEN>'")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hub-admin"'}


@dataclass(frozen=True)
class Refusal:
    """Why an admin route refuses a request: the status, the message, and the headers to send with it."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def admin_token(settings: Settings) -> str | None:
    """Return the configured admin token (``HUB_ADMIN_TOKEN``), or ``None`` when it is not set."""
    if settings.admin_token is None:
        return None
    return settings.admin_token.reveal() or None


def _sign(token: str, expires: int) -> str:
    return hmac.new(token.encode(), f"hub-admin-session:{expires}".encode(), hashlib.sha256).hexdigest()


def session_cookie(token: str, now: float | None = None) -> tuple[str, int]:
    """Return a cookie value valid for ``SESSION_SECONDS`` and that lifetime."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_sign(token, expires)}", SESSION_SECONDS


def _cookie_ok(token: str, value: str, now: float) -> bool:
    expires, _, signature = value.partition(".")
    # ASCII digits only and a bounded length: "²".isdigit() is true, and int() of 5,000 digits raises.
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12) or int(expires) < now:
        return False
    return hmac.compare_digest(signature.encode("utf-8", "replace"), _sign(token, int(expires)).encode())


def token_matches(token: str, offered: str) -> bool:
    """Compare an offered token with the configured one in constant time."""
    return hmac.compare_digest(offered.encode(), token.encode())


def authenticated(request: Request, token: str) -> bool:
    """Whether ``request`` carries the admin token (Bearer header) or a valid session cookie.

    Args:
        request: the incoming request.
        token: the configured admin token (non-empty).

    Returns:
        ``True`` when the request may see admin data.
    """
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and offered.strip():
        return token_matches(token, offered.strip())
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and _cookie_ok(token, cookie, time.time())


def offers_credential(request: Request) -> bool:
    """Whether ``request`` sends an admin credential at all: an ``Authorization`` header or the session cookie."""
    return bool(request.headers.get("Authorization", "").strip()) or COOKIE in request.cookies


def refusal(request: Request, token: str | None) -> Refusal | None:
    """Whether an admin route must refuse ``request``, and how.

    Args:
        request: the incoming request.
        token: the configured admin token (:func:`admin_token`), ``None`` when the admin routes are off.

    Returns:
        ``None`` for an admin; a 401 with the ``Bearer`` challenge when no credential or a wrong one was sent
        (the message says to set ``HUB_ADMIN_TOKEN`` when it is not set); a 403 when the routes are off and
        the request sent a credential anyway.
    """
    if token is None:
        if offers_credential(request):
            return Refusal(403, NOT_CONFIGURED)
        return Refusal(401, NOT_CONFIGURED, CHALLENGE)
    if not authenticated(request, token):
        return Refusal(401, _why_not(request), CHALLENGE)
    return None


def _why_not(request: Request) -> str:
    """What was wrong with a refused request's credential, so that the admin knows what to change: the token
    itself, the header's form (``Authorization: <token>`` without ``Bearer``), or a session that has ended."""
    header = request.headers.get("Authorization", "").strip()
    if header:
        scheme, _, offered = header.partition(" ")
        return WRONG_TOKEN if scheme.lower() == "bearer" and offered.strip() else NOT_BEARER
    return SESSION_ENDED if COOKIE in request.cookies else TOKEN_REQUIRED
