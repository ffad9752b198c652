"""The running hub as a typed set of services, built once from settings and passed explicitly.

The HTTP blueprints and the commands receive a :class:`Services` (as Flask hands ``app`` to a blueprint's
factory); nothing looks it up in ``current_app``. :func:`build_services` is where concrete connectors, the job
queue, the interceptor and the scheduler are wired together; ``app.py`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from types import ModuleType
from typing import Callable

from config import Settings
from connectors import enabled_modules
from connectors.actions import common_performers
from connectors.base import Connector, KnowledgeSource
from core import inbox, outbox, queues
from core.db import Database
from core.heartbeat import Heartbeat
from core.jobs import InlineQueue, JobFunc, JobQueue
from core.outbox import Performer
from core.scheduler import Scheduler
from core.telemetry import check_shared_dir
from interceptor.engine import Interceptor, LazyInterceptor, build_interceptor
from interceptor.kb.manage import KBWatcher
from interceptor.kb.sync import sync_all
from interceptor.pipeline import Pipeline
from interceptor.record import on_action_done
from surfaces.log_levels import apply_log_levels

ScheduledJob = tuple[str, Callable[[], object], float]


@dataclass(frozen=True)
class Services:
    """Everything a running hub holds. Nothing here is started until :meth:`start_background`.

    Attributes:
        settings: the validated configuration.
        db: the database (inbox, outbox, decisions, KB).
        jobs: the job queue (in-process thread pool, or Celery when scaled out).
        handlers: the job queue's handlers by queue name (``inbox``, ``outbox``); Celery workers register them.
        connectors: the enabled connectors by name (``slack``, ``zendesk``, ``jira``).
        interceptor: the decision engine, built (the KB index loaded) on first call.
        performers: the outbox's vendor writes by ``(connector, action)``.
        scheduler: the periodic jobs' runner (one active instance across processes, by a database lease).
        modules: the enabled connectors' packages (their optional ``scheduled_jobs`` hook).
        kb_watcher: keeps the interceptor's KB index at the stored KB version (checks every 2 s); it starts
            when the interceptor is first built, in whichever process builds one (web, job worker, Celery).
        pipeline: the interceptor's event handler (also hands unposted answers to people).
        heartbeat: renews the leases of the rows this process works on.
    """

    settings: Settings
    db: Database
    jobs: JobQueue
    handlers: dict[str, JobFunc]
    connectors: dict[str, Connector]
    interceptor: LazyInterceptor
    performers: dict[tuple[str, str], Performer]
    scheduler: Scheduler
    modules: dict[str, ModuleType]
    kb_watcher: KBWatcher
    pipeline: Pipeline
    heartbeat: Heartbeat

    def sweep(self) -> int:
        """Hand every due inbox event and outbox action to the job queue (crash recovery, retries).

        Returns:
            How many rows were handed out.
        """
        return queues.sweep(self.db, self.jobs)

    def scheduled_jobs(self) -> list[ScheduledJob]:
        """The periodic jobs besides the sweeper: the connectors' (polling fallbacks, identity look-ups) and,
        when a connector is a knowledge source, the incremental KB sync.

        Returns:
            ``(name, function, interval in seconds)`` for each job.
        """
        jobs: list[ScheduledJob] = []
        for module in self.modules.values():
            if hasattr(module, "scheduled_jobs"):
                jobs.extend(module.scheduled_jobs(self))
        if any(isinstance(c, KnowledgeSource) for c in self.connectors.values()):
            jobs.append(("kb.sync", partial(sync_all, self.db, self.connectors), self.settings.kb_sync_interval_seconds))
        return jobs

    def start_background(self) -> None:
        """Start the scheduler (sweepers, the answer deadline, other periodic jobs) and recover what a crash left."""
        self.scheduler.add("sweep", self.sweep, seconds=self.settings.sweep_interval_seconds)
        self.scheduler.add("answers.deadline", self.pipeline.escalate_unposted, seconds=max(self.settings.sweep_interval_seconds, 5.0))
        for name, func, seconds in self.scheduled_jobs():
            self.scheduler.add(name, func, seconds=seconds)
        self.scheduler.start()
        # Resume what the database holds now, whichever process holds the scheduler lease (a process that died
        # still holds it for up to 30 s): claims are atomic, so an extra sweep is harmless.
        self.sweep()

    def close(self) -> None:
        """Stop background work (running jobs finish) and release the database."""
        self.kb_watcher.stop()
        self.scheduler.shutdown()
        self.jobs.shutdown(wait=True)
        self.heartbeat.stop()
        self.db.dispose()


def build_services(settings: Settings, *, jobs: JobQueue | None = None) -> Services:
    """Build the hub's parts from ``settings``; nothing is started and no vendor is called. The process's log
    levels are set as ``HUB_LOG_LEVEL`` asks, the vendor SDKs' kept at INFO or above (:mod:`surfaces.log_levels`).

    Args:
        settings: the validated configuration.
        jobs: the job queue to hand work to instead of the configured one (``hub serve``'s web process
            hands row ids to its worker process).

    Returns:
        The services; the KB index loads on the interceptor's first call.

    Raises:
        ConfigError: ``PROMETHEUS_MULTIPROC_DIR`` names no writable directory (:func:`core.telemetry.check_shared_dir`).
    """
    apply_log_levels(settings.log_levels)
    check_shared_dir()
    db = Database(settings.database_url)
    handlers: dict[str, JobFunc] = {}
    jobs = jobs or _job_queue(settings, handlers)
    built = enabled_modules(settings)
    connectors: dict[str, Connector] = {name: connector for name, (_, connector) in built.items()}
    performers: dict[tuple[str, str], Performer] = {}
    for name, (module, connector) in built.items():
        actions = common_performers(name, connector)
        if hasattr(module, "extra_performers"):
            actions.update(module.extra_performers(connector))
        performers.update({(name, action): performer for action, performer in actions.items()})
    watchers: list[KBWatcher] = []
    interceptor = LazyInterceptor(lambda: _watched(build_interceptor(settings, db), watchers))
    kb_watcher = KBWatcher(db, partial(_served_kb_version, interceptor), partial(_rebuild_index, interceptor))
    watchers.append(kb_watcher)
    pipeline = Pipeline(settings, db, jobs, connectors, interceptor)
    lease, horizon = timedelta(seconds=settings.lease_seconds), timedelta(seconds=settings.retry_horizon_seconds)
    heartbeat = Heartbeat(db, lease)
    services = Services(
        settings=settings,
        db=db,
        jobs=jobs,
        handlers=handlers,
        connectors=connectors,
        interceptor=interceptor,
        performers=performers,
        scheduler=Scheduler(db),
        modules={name: module for name, (module, _) in built.items()},
        pipeline=pipeline,
        heartbeat=heartbeat,
        kb_watcher=kb_watcher,
    )
    handlers["inbox"] = partial(
        inbox.process, db, handler=pipeline.handle, max_attempts=settings.inbox_max_attempts,
        horizon=horizon, lease=lease, heartbeat=heartbeat,
    )
    handlers["outbox"] = partial(
        outbox.perform, db, jobs, performers=performers, on_done=on_action_done, horizon=horizon, lease=lease, heartbeat=heartbeat
    )
    return services


def _watched(built: Interceptor, watchers: list[KBWatcher]) -> Interceptor:
    """Start the watchers that keep ``built``'s index current, and return it."""
    for watcher in watchers:
        watcher.start()
    return built


def _served_kb_version(interceptor: LazyInterceptor) -> str | None:
    """The KB version the interceptor's index serves (``None`` before it is built)."""
    built = interceptor.built()
    version = getattr(built.scorer, "kb_version", None) if built is not None else None
    return version if isinstance(version, str) else None


def _rebuild_index(interceptor: LazyInterceptor) -> None:
    """Rebuild the interceptor's index from the stored KB, unless a rebuild is already under way."""
    built = interceptor.built()
    refresh = getattr(built.scorer, "refresh", None) if built is not None else None
    if callable(refresh):
        refresh(force=True, wait=False)


def _job_queue(settings: Settings, handlers: dict[str, JobFunc]) -> JobQueue:
    """The embedded thread pool, or Celery when scaled out (``HUB_QUEUE=celery``)."""
    if settings.queue == "celery":
        from core.celery_jobs import CeleryQueue, make_celery

        return CeleryQueue(make_celery(settings.broker_url or "", settings.broker_queue_prefix))
    return InlineQueue(handlers, pool_sizes={"inbox": settings.job_workers, "outbox": settings.outbox_workers})
