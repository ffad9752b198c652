"""The Flask app factory: every HTTP surface, each blueprint built from the services it serves."""

from __future__ import annotations

from flask import Flask

from surfaces.http.api import make_api_blueprint
from surfaces.http.dashboard import make_dashboard_blueprints
from surfaces.http.dashboard.pages import admin_error_page
from surfaces.http.door import install as install_door
from surfaces.http.errors import register_errors
from surfaces.http.health import make_health_blueprint
from surfaces.http.queues import make_queues_blueprint
from surfaces.http.webhooks import make_webhooks_blueprint
from surfaces.services import Services


def create_http_app(services: Services) -> Flask:
    """Return the web application serving ``services``.

    Args:
        services: the built (not necessarily started) hub; the blueprints are handed it, nothing looks it up.

    Returns:
        The Flask app: webhooks, ``/api/v1``, ``/admin``, ``/healthz``, ``/metrics``; JSON errors throughout,
        HTML ones for the ``/admin`` pages.
    """
    app = Flask(__name__)
    app.extensions["hub"] = services  # for tests and a debugger only: no code reads it back
    register_errors(app, page=admin_error_page)  # /admin is pages: its 404s and 405s are pages too
    app.register_blueprint(make_health_blueprint(services))
    app.register_blueprint(make_webhooks_blueprint(services))
    app.register_blueprint(make_api_blueprint(services))
    app.register_blueprint(make_queues_blueprint(services))
    for blueprint in make_dashboard_blueprints(services):
        app.register_blueprint(blueprint)
    install_door(app, services.settings.edge)  # body size, strict JSON, rate limits, the /metrics token
    return app
