"""The admin dashboard (``/admin``) and the analytics API (``/api/v1/stats`` and friends).

Register both with ``register(app)``; the views find the hub in ``current_app.extensions["hub"]``.
"""

from __future__ import annotations

from flask import Flask

from surfaces.http.dashboard.api import api
from surfaces.http.dashboard.pages import pages


def register(app: Flask) -> None:
    """Add the dashboard page and the analytics API to ``app``."""
    app.register_blueprint(pages)
    app.register_blueprint(api)
