"""gunicorn settings for the hub's web workers: ``gunicorn -c python:surfaces.http.gunicorn_conf ...``.

Only the multiprocess metrics' bookkeeping lives here (every other setting stays on the command line): when
a web worker exits, prometheus_client's documented ``child_exit`` hook does what the library does for a dead
process (:func:`core.telemetry.process_ended`).
"""

from __future__ import annotations

from typing import Any

from core.telemetry import process_ended


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook, called in the master after a worker exited."""
    process_ended(worker.pid)
