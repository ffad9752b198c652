"""The composition root: ``create_app(config=None)`` and the ``hub`` command's ``main``.

The pieces are wired in :func:`surfaces.services.build_services`; the web app is
:func:`surfaces.http.app.create_http_app`, the command :data:`surfaces.cli.cli`. ``Hub`` and ``build_hub`` are
the older names of :class:`~surfaces.services.Services` and :func:`~surfaces.services.build_services`.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from config import load_settings
from core.telemetry import MULTIPROC_ENV, SHARED_DIR
from interceptor.retrieval.dense import check_embedding_model
from surfaces.cli import cli, main
from surfaces.http.app import create_http_app
from surfaces.services import Services, build_services

Hub = Services
build_hub = build_services

__all__ = ["Hub", "Services", "build_hub", "build_services", "cli", "create_app", "main"]


def create_app(config: Mapping[str, Any] | None = None, *, hub: Services | None = None) -> Flask:
    """Create the web application.

    Args:
        config: setting names to values (tests pass a dict); ``None`` reads the environment and the
            YAML file named by ``HUB_CONFIG``. Ignored when ``hub`` is given.
        hub: already built services to serve (the ``serve`` command and tests pass theirs).

    Returns:
        The Flask app serving ``hub`` (or services built from ``config``).

    Raises:
        ConfigError: the configuration is invalid; the message names the key. Also an embedding model that
            cannot load (the check ``hub serve`` makes: :func:`~interceptor.retrieval.dense.check_embedding_model`),
            so that ``gunicorn 'app:create_app()'`` refuses to boot instead of answering every question with an error.
    """
    settings = hub.settings if hub is not None else load_settings(config)
    check_embedding_model(settings)
    if settings.queue == "celery" and SHARED_DIR is None:  # gunicorn's workers, scaled out
        logging.getLogger("hub").warning("telemetry.per-process", extra={
            "hint": f"/metrics shows only the counts of the worker that answers: set {MULTIPROC_ENV} (README, Scaling out)"})
    return create_http_app(hub or build_services(settings))
