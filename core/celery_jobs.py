"""The scaled-out job queue: stored rows are handed to Celery workers (Redis or RabbitMQ broker).

Web processes only ``submit``; ``hub worker`` processes run the same handlers as the embedded mode (claim
the row, process it, finish it), so both modes share one code path. Each hub queue is a broker queue of its
own (``hub.inbox``, ``hub.outbox``): ``hub worker --queues outbox`` runs vendor writes on workers that inbox
work can never hold up. A failed hand-off leaves the row
``pending`` for the sweeper, exactly as in the embedded mode. Needs the ``scale`` extra.
"""

from __future__ import annotations

import logging
from typing import Mapping

from celery import Celery

from core.jobs import JobFunc
from core.telemetry import count

log = logging.getLogger(__name__)

TASK = "hub.process"


def make_celery(broker_url: str) -> Celery:
    """Return a Celery app for ``broker_url`` (acks late: a worker that dies mid-job leaves the message).

    The worker keeps the hub's logging (``worker_hijack_root_logger`` off): Celery would otherwise replace the
    root logger's handlers with its own, which give a worker's lines another format than every other hub
    process's and, in a process that starts a worker in a thread (the tests), outlive it and print later
    warnings to the terminal."""
    app = Celery("hub", broker=broker_url)
    app.conf.update(
        worker_hijack_root_logger=False,
        task_acks_late=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        task_default_queue="hub",
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
    )
    return app


def broker_queue(app: Celery, queue: str) -> str:
    """The broker queue of hub queue ``queue`` (``inbox``, ``outbox``): ``<task_default_queue>.<queue>``."""
    return f"{app.conf.task_default_queue}.{queue}"


class CeleryQueue:
    """Hands committed rows to Celery workers, each hub queue on its own broker queue."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def submit(self, queue: str, row_id: int) -> None:
        try:
            self.app.send_task(TASK, args=(queue, row_id), queue=broker_queue(self.app, queue))
        except Exception:  # noqa: BLE001 - the row stays pending; the sweeper hands it out again
            count("job_submits", queue=queue, outcome="failed")
            log.warning("jobs.celery.submit-failed", extra={"queue": queue, "row_id": row_id}, exc_info=True)

    def waiting(self, queue: str) -> int | None:
        """How many messages of hub queue ``queue`` wait in the broker (not those a worker holds): a Redis
        list's length, a RabbitMQ queue's ready count. ``None`` when the broker cannot be asked now."""
        try:
            with self.app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1)
                try:
                    declared = conn.default_channel.queue_declare(broker_queue(self.app, queue), passive=True)
                except conn.channel_errors:
                    return 0  # NOTE(kombu): an empty Redis queue does not exist, and a passive declare says so
                return int(declared.message_count)
        except Exception:  # noqa: BLE001 - unknown: the sweeper hands the rows out, as without a broker count
            log.warning("jobs.celery.backlog-unknown", extra={"queue": queue}, exc_info=True)
            return None

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop in a web process: the workers run elsewhere."""


def register_worker_task(app: Celery, handlers: Mapping[str, JobFunc]) -> None:
    """Register the task a worker runs for every submitted row: the handler of its queue."""

    @app.task(name=TASK, ignore_result=True)
    def process(queue: str, row_id: int) -> None:
        handler = handlers.get(queue)
        if handler is None:
            log.error("jobs.unknown-queue", extra={"queue": queue, "row_id": row_id})
            return
        handler(row_id)
