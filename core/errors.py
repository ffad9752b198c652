"""The hub's error tree, named for what the caller should do.

``HubError`` -> ``ConfigError`` (boot refuses) | ``InboundError`` (carries an HTTP status) |
``ConnectorError`` -> ``Retriable`` / ``Fatal`` / ``NotFound``.

"We decided not to answer" is a value (a verdict), never an exception.
"""

from __future__ import annotations

import math


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """The configuration is invalid; the boot refuses with this message."""


class InboundError(HubError):
    """An inbound request is refused; ``status`` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class SignatureError(InboundError):
    """The request's signature is missing, wrong or too old (401)."""

    status = 401


class PayloadError(InboundError):
    """The request body is malformed (400)."""

    status = 400


class ConnectorError(HubError):
    """A vendor call failed."""


class Retriable(ConnectorError):
    """A passing failure (429, 5xx, timeout): back off and try again.

    Args:
        retry_after: seconds the vendor asked us to wait (``Retry-After``), if it said. A value that is no number
            of seconds (``float("nan")``, which ``Retry-After: nan`` reads as) is kept as ``None``: it names no time.
        rate_limited: the vendor answered 429: it paces us, the write did not fail (the attempt is given back).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.retry_after = None if retry_after is None or math.isnan(retry_after) else retry_after
        self.rate_limited = rate_limited


class Fatal(ConnectorError):
    """A failure that will not pass by retrying (auth, other 4xx)."""


class Refused(Fatal):
    """The vendor will not take a write where it is addressed (a Slack channel archived, or the app removed from
    it), though nothing else is wrong: asking again will not help, and the people who wrote it should know."""


class NotFound(ConnectorError):
    """The thing is gone (deleted ticket, removed message): skip it and record that."""
