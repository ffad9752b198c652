"""Vendor connectors, one package each, registered here by one line.

``REGISTRY`` maps a connector's name to ``"module:factory"``; the factory takes the ``Settings`` and returns
the connector, or ``None`` when its credentials are not configured. Modules are imported only when built.
"""

from __future__ import annotations

import importlib
from typing import Any

REGISTRY: dict[str, str] = {}


def build_connectors(settings: Any) -> dict[str, Any]:
    """Build every registered connector whose credentials are configured.

    Returns:
        Connector name to connector instance, for the enabled ones only.
    """
    built: dict[str, Any] = {}
    for name, target in REGISTRY.items():
        module_name, _, factory_name = target.partition(":")
        factory = getattr(importlib.import_module(module_name), factory_name)
        connector = factory(settings)
        if connector is not None:
            built[name] = connector
    return built
