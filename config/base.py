"""The seam between the hub's settings and a vendor's own, as ``connectors/base.py`` is the connector seam.

Each vendor package owns its settings in ``connectors/<vendor>/settings.py``: the frozen dataclass, the
marshmallow fields of its keys (their types and defaults), and its own cross-checks. The module exposes one
``SPEC`` that follows :class:`VendorSettingsSpec` and is named in :data:`config.settings.VENDOR_SETTINGS`.
This module holds only what those modules share, so that they import nothing else from ``config``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol, Sequence, TypeVar
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate

from config.secret import Secret
from core.errors import ConfigError

T = TypeVar("T")


class VendorSettingsSpec(Protocol[T]):
    """How one vendor's settings are read: its keys, their validation, and the frozen settings they become."""

    @property
    def name(self) -> str:
        """The connector's name, as in ``connectors.REGISTRY``: the key of ``Settings.vendors``, and a value
        ``HUB_ESCALATION_TARGET`` and a channel policy's ``escalation_target`` accept."""

    @property
    def required(self) -> tuple[str, ...]:
        """The keys that turn the vendor on: all of them set, or none (a half-configured vendor stops the boot)."""

    @property
    def schema(self) -> type[Schema]:
        """Every key the vendor reads (the setting's name, e.g. ``ZENDESK_URL``), its type, validation and
        default. Unknown keys must be excluded (``class Meta: unknown = EXCLUDE``): the hub's and the other
        vendors' keys are in the same values."""

    def build(self, values: Mapping[str, Any]) -> T | None:
        """Turn the validated values into the vendor's frozen settings.

        Args:
            values: what :attr:`schema` loaded: each of its keys, defaults filled in.

        Returns:
            The settings, or ``None`` when the vendor is not configured (none of :attr:`required` is set).

        Raises:
            ConfigError: the vendor is half-configured, or its keys contradict each other; the message names
                the keys an admin has to set.
        """

    def escalation_problem(self, settings: T) -> str | None:
        """What the configured vendor lacks to take escalations (``HUB_ESCALATION_TARGET`` names it).

        Args:
            settings: what :meth:`build` returned (never ``None``: an unconfigured target is refused before).

        Returns:
            ``None`` when it can take them; else the missing keys, e.g. ``"SLACK_TRIAGE_CHANNEL is missing"``.
        """


def configured(values: Mapping[str, Any], label: str, required: tuple[str, ...]) -> bool:
    """Return whether a group of keys is configured (all set); raise when only part of it is.

    Args:
        values: the validated values.
        label: how the message names the group, e.g. ``"Zendesk"``.
        required: the keys of the group.

    Raises:
        ConfigError: some of ``required`` are set and some are not; the message names both.
    """
    present = [key for key in required if values.get(key)]
    if not present:
        return False
    missing = [key for key in required if not values.get(key)]
    if missing:
        raise ConfigError(f"{label} is half-configured: {', '.join(present)} set but {', '.join(missing)} missing")
    return True


def secret(value: str | None) -> Secret | None:
    """Return ``value`` as a :class:`Secret`, or ``None`` when it is unset or empty."""
    return Secret(value) if value else None


def one_of(value: str, choices: Sequence[str]) -> str:
    """Return the choice ``value`` names, whatever its case and surrounding spaces (``Zendesk`` is ``zendesk``):
    an admin writes a vendor's or a mode's name as a product spells it.

    Raises:
        ValidationError: ``value`` is none of ``choices`` (the message lists them).
    """
    spelt = {choice.lower(): choice for choice in choices}
    choice = spelt.get(value.strip().lower())
    if choice is None:
        raise ValidationError(f"Must be one of: {', '.join(choices)}.")  # marshmallow's OneOf's words
    return choice


class Choice(fields.String):
    """A setting that takes one of a few names (``HUB_QUEUE``: ``inline`` or ``celery``), read as :func:`one_of`
    reads it and loaded as ``choices`` spell it."""

    def __init__(self, choices: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        return one_of(super()._deserialize(value, attr, data, **kwargs), self.choices)


class Flag(fields.Boolean):
    """A yes-or-no setting: true/false, yes/no, on/off or 1/0, whatever their case and surrounding spaces, and
    anything else refused saying which those are (marshmallow says only 'Not a valid boolean.')."""

    default_error_messages = {"invalid": "{input!r} is not true or false: use true or false (or yes/no, on/off, 1/0)"}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


def trimmed(value: str) -> None:
    """Refuse a credential (a token, a secret, an account's email) with spaces or a line break at its ends, or
    only those: copied with the line it ended, it is sent as it is and every call is refused as unauthorised
    (a 401 at the first ticket, or every webhook's signature wrong), long after the boot. It is never quoted."""
    if not value.strip():
        raise ValidationError("is only spaces: set it, or leave it unset")
    if value != value.strip():
        raise ValidationError("has spaces or a line break at its start or end (copied with the line?): remove them")


def web_address(example: str, then: Callable[[str], None] | None = None) -> Callable[[str], None]:
    """A validator for a setting that is a web address (``ZENDESK_URL``, ``SLACK_API_URL``) whose refusal says
    what is wrong and what to write: marshmallow's ``Url`` says only 'Not a valid URL.', and an address written
    as a browser shows it, without its scheme (``mycompany.zendesk.com``), is the usual mistake. An address
    holding a user, a password or a query is never quoted.

    Args:
        example: the address the message offers when the value itself cannot be mended.
        then: a further check, run once the value is a web address (e.g. :func:`site_address`).
    """
    is_url = validate.URL(require_tld=False, schemes={"http", "https"})

    def check(value: str) -> None:
        quotable = not any(c in value for c in "@?#")
        if value != value.strip():
            raise ValidationError(f"has spaces at its start or end: remove them (e.g. {example})")
        scheme, sep, rest = value.partition("://")
        if not sep and quotable and " " not in value and not value.lower().startswith(("http:", "https:")):
            host = value.lstrip("/")
            mended = f"{'http' if host.startswith(('localhost', '127.', '[::1]')) else 'https'}://{host}"
            try:
                if then is not None:
                    then(mended)
            except ValidationError as e:  # also copied from a page: the message names the site's own address
                raise ValidationError(f"{value[:80]!r} has no scheme, and is {e.messages[0]}") from None
            raise ValidationError(f"{value[:80]!r} has no scheme: write {mended[:90]}")
        if sep and scheme.lower() not in ("http", "https"):
            mended = f"https://{rest[:80]}" if quotable and " " not in rest else example
            raise ValidationError(f"{scheme[:20]!r} is not http or https: write {mended}")
        try:
            is_url(value)
        except ValidationError:
            raise ValidationError(f"is not a web address: write one such as {example}") from None
        if then is not None:
            then(value)

    return check


def site_address(product: str, pages: Sequence[str], *, no_path: str = "") -> Callable[[str], None]:
    """A validator for a vendor's base URL (``ZENDESK_URL``) that refuses one copied with the path of one of the
    vendor's pages or of its API (``https://acme.zendesk.com/agent/tickets/12``, ``.../api/v2``): the client
    adds its API's path to the base, so every call would go to an address that does not exist (a 404, read as
    "not found": the ticket is skipped).

    Args:
        product: the vendor's name in the message.
        pages: the first segments of the vendor's own paths (``agent``, ``api``); the base URL ends before them.
        no_path: a host suffix whose sites have no path at all (``.atlassian.net``: Jira Cloud).
    """

    def check(value: str) -> None:
        parts = urlsplit(value)
        segments = parts.path.split("/")
        at = next((i for i, segment in enumerate(segments) if segment in pages), None)
        if no_path and (parts.hostname or "").endswith(no_path) and parts.path.strip("/"):
            at = 1  # the site's root is its only base
        if at is not None:
            base = f"{parts.scheme}://{parts.netloc}{'/'.join(segments[:at])}"
            raise ValidationError(f"the address of a page or of the API ({parts.path[:80]}), not of your {product}: "
                                  f"the hub adds the API's path itself; set {base}")

    return check


def split(value: str) -> tuple[str, ...]:
    """Return the non-empty, stripped items of a comma-separated value."""
    return tuple(part.strip() for part in value.split(",") if part.strip())
