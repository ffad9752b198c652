"""Vendor connectors, one package each, registered here by one line.

``REGISTRY`` maps a connector's name to its package. The package's ``settings.py`` holds its settings: the
frozen dataclass, the schema of its keys with their defaults, and its cross-checks, as one ``SPEC``
(:class:`config.base.VendorSettingsSpec`), named by one line in ``config.settings.VENDOR_SETTINGS``. The
package provides:

- ``build(settings) -> Connector | None``: the connector, or ``None`` when its credentials are not set;
- optionally ``extra_performers(connector) -> dict[str, Performer]``: vendor-specific outbox actions on top
  of :func:`connectors.actions.common_performers`;
- optionally ``scheduled_jobs(services) -> list[tuple[str, Callable[[], object], float]]``: periodic jobs
  (name, function, interval in seconds), run by the single active scheduler; ``services`` is the running
  hub's ``surfaces.services.Services`` (``settings``, ``db``, ``jobs``, ``connectors``);
- optionally ``checks(connector, settings) -> list[connectors.checks.Check]``: what ``hub check`` asks the vendor
  (credentials, permissions or scopes, channels, the intake's secrets), one outcome per line, never raising.

HTTP routes are the surfaces' (``surfaces/http``), not the connectors'.

Packages are imported only when built.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

REGISTRY: dict[str, str] = {
    "slack": "connectors.slack",
    "zendesk": "connectors.zendesk",
    "jira": "connectors.jira",
}


def enabled_modules(settings: Any) -> dict[str, tuple[ModuleType, Any]]:
    """Build every registered connector whose credentials are configured.

    Returns:
        Connector name to ``(package, connector)``, for the enabled ones only.
    """
    built: dict[str, tuple[ModuleType, Any]] = {}
    for name, module_name in REGISTRY.items():
        module = importlib.import_module(module_name)
        connector = module.build(settings)
        if connector is not None:
            built[name] = (module, connector)
    return built
