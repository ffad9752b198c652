"""The job queue seam: where stored work (inbox events, outbox actions) is handed to workers.

Callers only ever ``submit(queue, row_id)`` after committing the row; the row itself is the durable
record, so a lost hand-off is recovered by the sweeper. ``InlineQueue`` runs jobs on a thread pool in the
serving process (the embedded default); a Celery-backed queue implements the same protocol for the
scaled-out mode without changing callers.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Protocol

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


class InlineQueue:
    """A thread pool in this process. ``drain()`` waits until every submitted job has finished."""

    def __init__(self, handlers: dict[str, JobFunc], workers: int = 4) -> None:
        self._handlers = handlers  # shared with the caller, who may register handlers later
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-job")
        self._pending: set[Future[object]] = set()
        self._lock = threading.Lock()
        self._closed = False

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
            future = self._pool.submit(self._run, handler, queue, row_id)
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[object]) -> None:
        with self._lock:
            self._pending.discard(future)

    @staticmethod
    def _run(handler: JobFunc, queue: str, row_id: int) -> object:
        try:
            return handler(row_id)
        except Exception:  # noqa: BLE001 - the job runner is one of the two broad boundaries
            log.exception("jobs.failed", extra={"queue": queue, "row_id": row_id})
            return None

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
        self._pool.shutdown(wait=wait)
