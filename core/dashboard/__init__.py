"""The admin dashboard (``/admin``) and the analytics API (``/api/v1/stats`` and friends).

Register both with ``register(app)``; the views find the hub in ``current_app.extensions["hub"]``.
"""

from __future__ import annotations

from flask import Flask

from core.analytics import Embed
from core.dashboard.api import api
from core.dashboard.pages import pages


def register(app: Flask, *, embed: Embed | None = None) -> None:
    """Add the dashboard page and the analytics API to ``app``.

    Args:
        app: the Flask app.
        embed: texts -> vectors for grouping content gaps by meaning (the wiring layer passes the sentence
            model when dense retrieval is on); ``None`` groups them lexically.
    """
    app.extensions["analytics.embed"] = embed
    app.register_blueprint(pages)
    app.register_blueprint(api)
