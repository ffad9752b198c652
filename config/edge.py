"""The limits at the HTTP door (body size, per-client rate limits, the ``/metrics`` token): their settings and
how they are read from the validated values of :func:`config.settings.load_settings`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from config.secret import Secret
from core.errors import ConfigError

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RATE_LIMIT = "60/minute"


@dataclass(frozen=True)
class EdgeSettings:
    """Limits at the HTTP door (issue 11): body size, per-client rate limits, the ``/metrics`` token."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rate_limit: str | None = DEFAULT_RATE_LIMIT  # Flask-Limiter syntax, per client and route; None = off
    rate_limit_storage: str = "memory://"  # a limits storage URI; redis://... when scaled out
    rate_limit_prefix: str = "hub"  # the deployment's HUB_BROKER_QUEUE_PREFIX, first in every rate-limit key
    metrics_token: Secret | None = None
    trusted_proxies: int = 0  # X-Forwarded-For/-Proto hops to believe (a load balancer in front)


def edge_settings(v: Mapping[str, Any]) -> EdgeSettings:
    """The door's limits. Rate limits count in memory per process, or in Redis when scaled out (the broker,
    when it is Redis, unless ``HUB_RATE_LIMIT_STORAGE`` names another store), under keys that begin with the
    deployment's ``HUB_BROKER_QUEUE_PREFIX``: two deployments on one Redis count apart, as their queues are apart.

    Raises:
        ConfigError: ``HUB_RATE_LIMIT`` is not a rate limit string (``60/minute``, ``10/second;500/hour``), or
            ``HUB_RATE_LIMIT_STORAGE`` is not a store the ``limits`` library can use here.
    """
    from limits import parse_many

    limit = None if v["HUB_RATE_LIMIT"].strip().lower() in ("off", "none") else v["HUB_RATE_LIMIT"]
    if limit is not None:
        try:
            parse_many(limit)
        except ValueError as e:
            raise ConfigError(f"invalid configuration: HUB_RATE_LIMIT: {e} (for example 60/minute, or off)") from e
    storage = v["HUB_RATE_LIMIT_STORAGE"]
    if storage is None:
        broker = v["HUB_BROKER_URL"] or ""
        storage = broker if v["HUB_QUEUE"] == "celery" and broker.startswith(("redis://", "rediss://")) else "memory://"
    else:
        _check_storage(storage)
    return EdgeSettings(
        max_body_bytes=v["HUB_MAX_BODY_BYTES"],
        rate_limit=limit,
        rate_limit_storage=storage,
        rate_limit_prefix=v["HUB_BROKER_QUEUE_PREFIX"],
        metrics_token=Secret(v["HUB_METRICS_TOKEN"]) if v["HUB_METRICS_TOKEN"] else None,
        trusted_proxies=v["HUB_TRUSTED_PROXIES"],
    )


def _check_storage(uri: str) -> None:
    """Refuse a ``HUB_RATE_LIMIT_STORAGE`` that the web app could not build its rate limiter on (an unknown scheme,
    a store whose client library is not installed): it would otherwise stop every web worker with a traceback.
    Nothing is connected to: a store that is down lets requests through (``surfaces.http.door``)."""
    from limits.errors import ConfigurationError
    from limits.storage import SCHEMES, storage_from_string

    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme not in SCHEMES or scheme.startswith("async+"):
        named = f"{scheme}://" if scheme else "a URL without a scheme"  # never the URL itself: it may hold a password
        raise ConfigError(f"invalid configuration: HUB_RATE_LIMIT_STORAGE: {named} is not a rate-limit store: "
                          "memory:// (each process counts alone) or redis://host:6379/0 (shared), or unset it")
    try:
        storage_from_string(uri)
    except ConfigurationError as e:  # e.g. memcached:// without pymemcache
        raise ConfigError(f"invalid configuration: HUB_RATE_LIMIT_STORAGE: {e}") from e
