"""What ``hub check`` asks each vendor: the vocabulary of a check's outcome, and the one wording of a vendor
call that failed (cannot reach the address, answered an error it may get over, or refused).

Each vendor package's ``checks(connector, settings) -> list[Check]`` hook (see :mod:`connectors`) makes its
calls through the connector's own client, so a failure arrives as the connector's ``ConnectorError``; this
module turns it into the line an admin reads. Nothing here prints a secret: a vendor's address is shown
without any user or password it holds.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from core.errors import ConnectorError, NotFound, Retriable


@dataclass(frozen=True)
class Check:
    """One thing ``hub check`` verified.

    Attributes:
        area: what it is about (``database``, ``zendesk``, ``slack``, ...).
        name: the check, a few words (``credentials``, ``project HELP``, ``channel C0123ABCD``).
        ok: whether the hub has what it needs there.
        detail: what was found; when not ok, also what to do about it, in plain words.
    """

    area: str
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        """The check as ``hub check --json`` prints it."""
        return {"area": self.area, "check": self.name, "ok": self.ok, "detail": self.detail}


def shown_url(url: str) -> str:
    """``url`` as a check line shows it: without a user name or password in it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` (a connector's error) says the vendor could not be reached at all: refused connection,
    unknown host, timeout, TLS failure, a connection closed without an answer (the connectors raise ``from``
    the network error, which is an ``OSError`` in requests and urllib alike)."""
    cause = error.__cause__
    return isinstance(error, Retriable) and isinstance(cause, (OSError, http.client.HTTPException))


def failed(area: str, name: str, error: ConnectorError, *, url: str, setting: str, refused: str) -> Check:
    """The FAIL line of a vendor call that raised ``error``.

    Args:
        area: the vendor.
        name: the check.
        error: what the connector raised.
        url: the vendor's configured address (shown without credentials).
        setting: the setting that holds the address (``ZENDESK_URL``).
        refused: what to do when the vendor refused (credentials, permissions: the caller knows which).

    Returns:
        A failed check that names the address when it could not be reached, says to try again later when the
        vendor answered an error it may get over (5xx, 429), and otherwise gives ``refused``.
    """
    where = shown_url(url)
    if unreachable(error):
        kind = type(error.__cause__).__name__
        return Check(area, name, False, f"cannot reach {where} ({kind}): check {setting} and that this machine "
                                        "can reach that address (proxy, firewall, DNS)")
    if isinstance(error, Retriable):
        return Check(area, name, False, f"{where} answered with an error that may pass ({error}): it may be down "
                                        "or busy; run hub check again in a few minutes")
    if isinstance(error, NotFound):
        return Check(area, name, False, f"{where} answered not found ({error}): {refused}")
    return Check(area, name, False, f"{where} refused ({error}): {refused}")
