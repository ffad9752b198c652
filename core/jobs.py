"""The job queue seam: where stored work (inbox events, outbox actions) is handed to workers.

Callers only ever ``submit(queue, row_id)`` after committing the row; the row itself is the durable
record, so a lost hand-off is recovered by the sweeper. ``InlineQueue`` runs jobs on thread pools in the
serving process (the embedded default), one pool per queue, so that vendor writes (``outbox``: public answers)
never wait behind new inbox work and neither competes with the web server's threads that acknowledge
webhooks; a Celery-backed queue implements the same protocol (one broker queue per hub queue) for the
scaled-out mode without changing callers.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Mapping, Protocol, runtime_checkable

log = logging.getLogger(__name__)

JobFunc = Callable[[int], object]
"""Processes one row by id (claims it first, so running it twice is harmless)."""


class JobQueue(Protocol):
    """Hands committed rows to workers."""

    def submit(self, queue: str, row_id: int) -> None:
        """Schedule row ``row_id`` of ``queue`` (``"inbox"`` or ``"outbox"``) for processing.

        Must not raise for a transient failure: the sweeper recovers rows whose hand-off was lost.
        """
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; with ``wait``, finish what was submitted."""
        ...


@runtime_checkable
class BrokerBacklog(Protocol):
    """Optional capability of a job queue whose hand-offs wait outside the process (a broker): how many wait.

    The sweeper asks it before handing due rows out again, so that a broker queue whose workers are down or
    busy holds about one message per due row however many sweeps pass (:func:`core.queues.sweep`).
    """

    def waiting(self, queue: str) -> int | None:
        """Return how many hand-offs of ``queue`` wait in the broker, or ``None`` when the broker cannot say."""
        ...


class InlineQueue:
    """Thread pools in this process, one per queue. ``drain()`` waits until every submitted job has finished.

    A row already waiting or running in this process is not queued again (its own claim would refuse it) (the sweeper re-submits due rows
    every few seconds; without this a backlog would fill the pool with no-op duplicates).

    Args:
        handlers: queue name -> handler (shared with the caller, who may register handlers later).
        workers: the size of a queue's pool when ``pool_sizes`` does not name it.
        pool_sizes: queue name -> pool size (e.g. ``{"inbox": 2, "outbox": 4}``).
    """

    def __init__(self, handlers: dict[str, JobFunc], workers: int = 4, pool_sizes: Mapping[str, int] | None = None) -> None:
        self._handlers = handlers
        self._workers = workers
        self._sizes = dict(pool_sizes or {})
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pending: set[Future[object]] = set()
        self._queued: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def _pool(self, queue: str) -> ThreadPoolExecutor:
        pool = self._pools.get(queue)
        if pool is None:
            size = self._sizes.get(queue, self._workers)
            pool = self._pools[queue] = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"hub-{queue}")
        return pool

    def backlog(self) -> dict[str, int]:
        """Return how many jobs of each queue wait or run in this process."""
        with self._lock:
            counts: dict[str, int] = {}
            for queue, _ in self._queued:
                counts[queue] = counts.get(queue, 0) + 1
            return counts

    def register(self, queue: str, handler: JobFunc) -> None:
        """Add or replace the handler of ``queue``."""
        self._handlers[queue] = handler

    def submit(self, queue: str, row_id: int) -> None:
        handler = self._handlers.get(queue)
        if handler is None:
            log.error("jobs.unknown-queue", extra={"queue": queue, "row_id": row_id})
            return
        with self._lock:
            if self._closed:
                log.warning("jobs.submit-after-shutdown", extra={"queue": queue, "row_id": row_id})
                return
            if (queue, row_id) in self._queued:
                return
            self._queued.add((queue, row_id))
            future = self._pool(queue).submit(self._run, handler, queue, row_id)
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[object]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, handler: JobFunc, queue: str, row_id: int) -> object:
        try:
            return handler(row_id)
        except Exception:  # noqa: BLE001 - the job runner is one of the two broad boundaries
            log.exception("jobs.failed", extra={"queue": queue, "row_id": row_id})
            return None
        finally:
            with self._lock:
                self._queued.discard((queue, row_id))

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until no submitted job is running or queued (jobs may submit further jobs).

        Raises:
            TimeoutError: work was still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for future in pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("jobs still running after drain timeout")
                try:
                    future.result(timeout=remaining)
                except Exception:  # noqa: BLE001 - already logged in _run
                    pass

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
        for pool in pools:
            # Jobs not started yet are dropped: their rows stay pending and the next sweep hands them out.
            pool.shutdown(wait=wait, cancel_futures=True)
