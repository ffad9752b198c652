"""The admin dashboard (``/admin``) and the analytics API (``/api/v1/stats`` and friends).

:func:`make_dashboard_blueprints` builds both for the services they serve.
"""

from __future__ import annotations

from flask import Blueprint

from surfaces.http.dashboard.api import gap_embedder, make_analytics_blueprint
from surfaces.http.dashboard.pages import make_pages_blueprint
from surfaces.services import Services


def make_dashboard_blueprints(services: Services) -> list[Blueprint]:
    """Return the dashboard page's and the analytics API's blueprints serving ``services``."""
    return [make_pages_blueprint(services), make_analytics_blueprint(services, embed=gap_embedder(services.settings))]
