"""``HUB_LOG_LEVEL``: the level of the hub's log lines, and of the loggers an admin names.

``DEBUG`` (any case) sets the processes' own level; ``DEBUG,zenpy=DEBUG,urllib3=INFO`` also sets those loggers.
The vendor SDKs' loggers stay at INFO unless named here (``surfaces.log_levels``): at DEBUG they log request and
response bodies. Unset, each command keeps its own level (INFO for ``hub serve``, ``worker``, ``scheduler``).
Every ``hub`` command applies it first (:func:`read_log_levels`), before and without its other settings.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from marshmallow import ValidationError, fields

from core.errors import ConfigError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXAMPLE = "e.g. DEBUG, or DEBUG,zenpy=DEBUG to also see what that SDK sends and receives"


class LogLevels(fields.Field):
    """A level, then ``logger=LEVEL`` items, comma-separated; loaded as ``(logger, LEVEL)`` pairs, the first
    one's logger ``""`` (the processes' own level) when the value starts with a bare level."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, str):
            raise ValidationError(f"not a text: {EXAMPLE}")
        pairs: list[tuple[str, str]] = []
        for position, item in enumerate(part.strip() for part in value.split(",")):
            name, equals, level = item.rpartition("=")
            if (equals and not re.fullmatch(r"[A-Za-z_][\w.]*", name.strip())) or (not equals and position > 0):
                raise ValidationError(f"{item[:40]!r} is not a logger=LEVEL item: {EXAMPLE}")
            if level.strip().upper() not in LEVELS:
                raise ValidationError(f"{level.strip()[:40]!r} is not a level: {', '.join(LEVELS)} ({EXAMPLE})")
            pairs.append((name.strip(), level.strip().upper()))
        return tuple(pairs)


def read_log_levels(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``HUB_LOG_LEVEL`` alone, as :func:`config.settings.load_settings` reads it (the environment, else the YAML file
    named by ``HUB_CONFIG``; empty is unset), for a command to apply before it reads its other settings: a command
    that reads none (``hub ask`` answered by a running server) must not start refusing them, so a ``HUB_CONFIG`` file
    that cannot be read counts as one without the key here (the commands that read it say what is wrong).

    Args:
        environ: the environment.

    Returns:
        ``(logger, LEVEL)`` pairs as :class:`LogLevels` loads them; ``()`` when unset.

    Raises:
        ConfigError: the value is not one, with the message :func:`config.settings.load_settings` gives.
    """
    value: Any = environ.get("HUB_LOG_LEVEL")
    if value is None and environ.get("HUB_CONFIG"):
        from config.file import read_config_file
        from config.settings import setting_keys

        try:
            value = read_config_file(environ["HUB_CONFIG"], setting_keys()).get("HUB_LOG_LEVEL")
        except ConfigError:
            value = None
    if value is None or value == "":
        return ()
    try:
        return LogLevels().deserialize(value)  # type: ignore[no-any-return]
    except ValidationError as e:
        raise ConfigError(f"invalid configuration: HUB_LOG_LEVEL: {' '.join(map(str, e.messages))}") from e
