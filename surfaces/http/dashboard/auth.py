"""Admin authentication: ``Authorization: Bearer <HUB_ADMIN_TOKEN>`` or the login form's session cookie.

The cookie holds an expiry and an HMAC of it keyed by the admin token, so it needs no server-side state,
cannot be forged without the token, and stops working when the token is rotated. Without a configured token
everything here answers 403 with a message saying to set ``HUB_ADMIN_TOKEN``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import Request

from config import Settings

COOKIE = "hub_admin"
SESSION_SECONDS = 12 * 3600
NOT_CONFIGURED = "the admin dashboard and analytics API are off: set HUB_ADMIN_TOKEN to enable them"


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
