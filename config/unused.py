"""Settings that do nothing without another one: set alone, they would be read and never used, and the admin
would believe them on (``HUB_BROKER_URL`` without ``HUB_QUEUE=celery``: every job still runs inside
``hub serve``). The boot stops naming them, the setting they wait for, and the two ways out."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from config.base import VendorSettingsSpec
from core.errors import ConfigError


def refuse_unused(raw: Mapping[str, Any], v: Mapping[str, Any], vendors: Sequence[VendorSettingsSpec[Any]],
                  configured: Mapping[str, Any]) -> None:
    """Refuse settings that are set but do nothing as the rest is configured.

    Args:
        raw: the values as set (unset and empty ones left out).
        v: the hub's validated values.
        vendors: every vendor's settings spec.
        configured: the configured vendors' settings, by name.

    Raises:
        ConfigError: naming each unused setting, what it waits for, and to set that or unset it.
    """
    found = []
    if "HUB_BROKER_URL" in raw and v["HUB_QUEUE"] != "celery":
        found.append(f"HUB_BROKER_URL is set but HUB_QUEUE is inline{'' if 'HUB_QUEUE' in raw else ' (the default)'}, so jobs run "
                     "inside hub serve and the broker is never used: set HUB_QUEUE=celery for the scaled-out mode (README, Scaling out), or unset HUB_BROKER_URL")
    llm = [key for key in ("HUB_LLM_API_KEY", "HUB_LLM_TIMEOUT_SECONDS") if key in raw]
    if llm and v["HUB_LLM_URL"] is None:
        found.append(_waiting(llm, "the LLM writer", ("HUB_LLM_URL", "HUB_LLM_MODEL")))
    if "HUB_RATE_LIMIT_STORAGE" in raw and str(v["HUB_RATE_LIMIT"]).strip().lower() in ("off", "none"):
        found.append("HUB_RATE_LIMIT_STORAGE is set but HUB_RATE_LIMIT is off, so nothing is counted: set a "
                     "HUB_RATE_LIMIT (e.g. 60/minute), or unset HUB_RATE_LIMIT_STORAGE")
    for spec in vendors:
        keys = [key for key in spec.schema().fields if key in raw]
        if keys and spec.name not in configured:
            found.append(_waiting(keys, spec.name.capitalize(), spec.required))
    if found:
        raise ConfigError(f"invalid configuration: {'; '.join(found)}")


def _waiting(keys: Sequence[str], what: str, needs: Sequence[str]) -> str:
    """``keys`` wait for ``what``, which ``needs`` turn on."""
    these, verb = (keys[0], "is") if len(keys) == 1 else (", ".join(keys), "are")
    return (f"{these} {verb} set but {what} is off ({', '.join(needs)} not set), so {'it does' if len(keys) == 1 else 'they do'} "
            f"nothing: set {', '.join(needs)}, or unset {'it' if len(keys) == 1 else 'them'}")
