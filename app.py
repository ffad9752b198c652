"""The composition root: ``create_app(config=None)`` and the ``hub`` command.

This is the only module that wires concrete pieces together: settings, database, job queue, connectors,
the interceptor and the scheduler.
"""

from __future__ import annotations

import logging
import threading
from multiprocessing.connection import Connection
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Mapping

import click
from flask import Flask, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

import migrations
from config import Settings, load_settings
from connectors import enabled_modules
from connectors.actions import common_performers
from connectors.base import KnowledgeSource
from connectors.inbound import receive
from core import inbox, outbox, queues
from core.dashboard import register as register_dashboard
from core.db import Database
from core.heartbeat import Heartbeat
from core.worker_process import PipeQueue, WorkerProcess, relay
from core.errors import ConfigError, InboundError
from core.jobs import InlineQueue, JobFunc, JobQueue
from core.outbox import Performer
from core.scheduler import Scheduler
from core.telemetry import exposition
from interceptor import api as interceptor_api
from interceptor.cli import ask
from interceptor.engine import LazyInterceptor, build_interceptor
from interceptor.kb_cli import eval_command, kb_group
from interceptor.kb_sync import sync_all
from interceptor.pipeline import Pipeline
from interceptor.record import on_action_done

log = logging.getLogger("hub")


@dataclass
class Hub:
    """Everything a running hub holds, built once from settings."""

    settings: Settings
    db: Database
    jobs: JobQueue
    handlers: dict[str, JobFunc]
    connectors: dict[str, Any]
    interceptor: LazyInterceptor
    modules: dict[str, Any] = field(default_factory=dict)
    performers: dict[tuple[str, str], Performer] = field(default_factory=dict)
    scheduler: Scheduler | None = None

    pipeline: Pipeline | None = None
    heartbeat: Heartbeat | None = None

    def sweep(self) -> int:
        """Hand every due inbox event and outbox action to the job queue (crash recovery, retries).

        Returns:
            How many rows were handed out.
        """
        return queues.sweep(self.db, self.jobs)

    def scheduled_jobs(self) -> list[tuple[str, Any, float]]:
        """The periodic jobs besides the sweeper: the connectors' (polling fallbacks, identity look-ups) and,
        when a connector is a knowledge source, the incremental KB sync."""
        jobs: list[tuple[str, Any, float]] = []
        for module in self.modules.values():
            jobs.extend(getattr(module, "scheduled_jobs", lambda hub: [])(self))
        if any(isinstance(c, KnowledgeSource) for c in self.connectors.values()):
            jobs.append(("kb.sync", partial(sync_all, self.db, self.connectors), self.settings.kb_sync_interval_seconds))
        return jobs

    def start_background(self) -> None:
        """Start the scheduler (sweepers and other periodic jobs) and recover what a crash left."""
        self.scheduler = Scheduler(self.db)
        self.scheduler.add("sweep", self.sweep, seconds=self.settings.sweep_interval_seconds)
        if self.pipeline is not None:
            self.scheduler.add("answers.deadline", self.pipeline.escalate_unposted, seconds=max(self.settings.sweep_interval_seconds, 5.0))
        for name, func, seconds in self.scheduled_jobs():
            self.scheduler.add(name, func, seconds=seconds)
        self.scheduler.start()
        # Resume what this database holds now, whichever process holds the scheduler lease (a process that
        # died still holds it for up to 30 s): claims are atomic, so an extra sweep is harmless.
        self.sweep()

    def close(self) -> None:
        """Stop background work and release the database."""
        if self.scheduler is not None:
            self.scheduler.shutdown()
        self.jobs.shutdown(wait=True)
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.db.dispose()


def build_hub(settings: Settings) -> Hub:
    """Build the hub's parts from ``settings`` (nothing is started; the KB index loads on first use)."""
    db = Database(settings.database_url)
    handlers: dict[str, JobFunc] = {}
    jobs = _job_queue(settings, handlers)
    built = enabled_modules(settings)
    hub = Hub(
        settings=settings,
        db=db,
        jobs=jobs,
        handlers=handlers,
        connectors={name: connector for name, (_, connector) in built.items()},
        interceptor=LazyInterceptor(lambda: build_interceptor(settings, db)),
        modules={name: module for name, (module, _) in built.items()},
    )
    for name, (module, connector) in built.items():
        actions = common_performers(name, connector)
        actions.update(getattr(module, "extra_performers", lambda c: {})(connector))
        hub.performers.update({(name, action): performer for action, performer in actions.items()})
    pipeline = Pipeline(settings, db, jobs, hub.connectors, hub.interceptor)
    lease, horizon = timedelta(seconds=settings.lease_seconds), timedelta(seconds=settings.retry_horizon_seconds)
    hub.pipeline, hub.heartbeat = pipeline, Heartbeat(db, lease)
    handlers["inbox"] = partial(
        inbox.process, db, handler=pipeline.handle, max_attempts=settings.inbox_max_attempts,
        horizon=horizon, lease=lease, heartbeat=hub.heartbeat,
    )
    handlers["outbox"] = lambda row_id: outbox.perform(
        db, jobs, row_id, hub.performers, on_done=on_action_done, horizon=horizon, lease=lease, heartbeat=hub.heartbeat
    )
    return hub


def _job_queue(settings: Settings, handlers: dict[str, JobFunc]) -> JobQueue:
    """The embedded thread pool, or Celery when scaled out (``HUB_QUEUE=celery``)."""
    if settings.queue == "celery":
        from core.celery_jobs import CeleryQueue, make_celery

        return CeleryQueue(make_celery(settings.broker_url or ""))
    return InlineQueue(handlers, pool_sizes={"inbox": settings.job_workers, "outbox": settings.outbox_workers})


def create_app(config: Mapping[str, Any] | None = None, *, hub: Hub | None = None) -> Flask:
    """Create the web application.

    Args:
        config: setting names to values (tests pass a dict); ``None`` reads the environment and the
            YAML file named by ``HUB_CONFIG``.
        hub: an already built hub to serve (the ``serve`` command passes the one it started).

    Raises:
        ConfigError: the configuration is invalid; the message names the key.
    """
    hub = hub or build_hub(load_settings(config))
    app = Flask(__name__)
    app.extensions["hub"] = hub
    _register_errors(app)

    @app.get("/healthz")
    def healthz() -> Any:
        checks: dict[str, Any] = {"connectors": sorted(hub.connectors)}
        ok = True
        try:
            with hub.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current, head = migrations.current_revision(hub.db.engine), migrations.head_revision()
            checks["migrations"] = {"current": current, "head": head, "at_head": current == head}
            ok = current == head
        except Exception as e:  # noqa: BLE001 - a health check reports, it does not raise
            checks["database"] = f"unreachable: {type(e).__name__}"
            ok = False
        built = hub.interceptor.built()
        scorer_status = getattr(built.scorer, "status", None) if built is not None else None
        checks["knowledge_base"] = scorer_status if isinstance(scorer_status, dict) else {"retrieval": "not loaded yet"}
        checks["status"] = "ok" if ok else "unavailable"
        return jsonify(checks), 200 if ok else 503

    @app.get("/metrics")
    def metrics() -> Any:
        return exposition(), 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}

    @app.post("/webhooks/<name>")
    def webhook(name: str) -> Any:
        connector = hub.connectors.get(name)
        if name == "slack":
            return jsonify(error="Slack posts to /slack/events (Events API and interactivity)"), 404
        if connector is None:
            return jsonify(error=f"no {name} webhook here: the connector is not configured"), 404
        return jsonify(receive(connector, request.headers, request.get_data(), hub.db, hub.jobs))

    for module in hub.modules.values():
        getattr(module, "routes", lambda app, hub: None)(app, hub)
    # Routes of other packages: one line each.
    interceptor_api.register(app)
    register_dashboard(app)

    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(InboundError)
    def inbound_error(e: InboundError) -> Any:
        return jsonify(error=str(e)), e.status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        return jsonify(error=e.description), e.code

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Any:
        log.exception("http.unhandled", extra={"path": request.path})
        return jsonify(error="internal error"), 500


# -- the `hub` command ---------------------------------------------------------------------------


@click.group()
def cli() -> None:
    """The help-desk hub."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


cli.add_command(ask)
cli.add_command(kb_group(build_hub))
cli.add_command(eval_command(migrations.upgrade))


@cli.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    settings = load_settings()
    _ensure_sqlite_dir(settings.database_url)
    migrations.upgrade(settings.database_url)
    click.echo(f"database at {migrations.head_revision()}: {_masked(settings.database_url)}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web app with the in-process job runner and scheduler (the embedded mode)."""
    from waitress import serve as waitress_serve

    settings = load_settings()
    hub = build_hub(settings)
    current, head = migrations.current_revision(hub.db.engine), migrations.head_revision()
    if current != head:
        raise click.ClickException(f"the database is at {current}, not {head}: run `hub db upgrade` first")
    app = create_app(hub=hub)
    worker: WorkerProcess | None = None
    if settings.queue == "inline" and settings.job_process:
        # Jobs run in a child process: acknowledgements never share the interpreter lock with decisions.
        hub.jobs.shutdown(wait=False)
        hub.jobs = PipeQueue()
        worker = WorkerProcess(_worker_main, hub.jobs)
        worker.start()
    else:
        hub.start_background()
    # Load the KB index before the first request needs it (the first decision would otherwise wait for it).
    threading.Thread(target=hub.interceptor, name="hub-kb-warmup", daemon=True).start()
    click.echo(f"hub serving on http://{host}:{port} (connectors: {', '.join(hub.connectors) or 'none'})")
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="hub")
    finally:
        if worker is not None:
            worker.stop()
        hub.close()


def _worker_main(conn: Connection) -> None:
    """The worker process of ``hub serve``: job pools, scheduler and sweeper, fed row ids by the web process."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[worker] %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    hub = build_hub(load_settings())
    hub.start_background()
    threading.Thread(target=hub.interceptor, name="hub-kb-warmup", daemon=True).start()
    try:
        relay(conn, hub.jobs)
    finally:
        hub.close()


@cli.command()
@click.option("--concurrency", default=4, show_default=True, type=int)
def worker(concurrency: int) -> None:
    """Run a Celery worker (scaled-out mode, HUB_QUEUE=celery): processes inbox events and outbox actions."""
    from core.celery_jobs import CeleryQueue, register_worker_task

    hub = build_hub(load_settings())
    if not isinstance(hub.jobs, CeleryQueue):
        raise click.ClickException("hub worker needs HUB_QUEUE=celery and HUB_BROKER_URL; the embedded mode runs jobs in `hub serve`")
    register_worker_task(hub.jobs.app, hub.handlers)
    try:
        hub.jobs.app.worker_main(["worker", "--loglevel=INFO", "--pool=threads", f"--concurrency={concurrency}"])
    finally:
        hub.close()


@cli.command()
def scheduler() -> None:
    """Run the scheduler alone (scaled-out mode): sweepers, polling fallbacks, KB sync. Several may run;
    a lease in the database lets exactly one of them act at a time."""
    import signal

    hub = build_hub(load_settings())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    hub.start_background()
    click.echo(f"scheduler {hub.scheduler.owner if hub.scheduler else ''} started")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        hub.close()


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Entry point of the ``hub`` console script; configuration errors end it with their message."""
    try:
        cli(standalone_mode=True)
    except ConfigError as e:
        raise SystemExit(f"configuration error: {e}") from e
