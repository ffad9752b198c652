"""The embedded mode's job runner in a child process, so that acknowledgements never wait for thinking.

Threads of one Python process share one interpreter lock: a decision's CPU work (retrieval, scoring) in a
job thread slows every webhook acknowledgement in the web threads of the same process. ``hub serve``
therefore runs the job runner (inbox and outbox pools, scheduler, sweeper) in a child process: the web
process stores each event, then hands its row id down a pipe (:class:`PipeQueue`); the child submits it to its
own pools (:func:`relay`). The row is the durable record: a hand-off lost with a dying child is picked up by
the child's start-up sweep when :class:`WorkerProcess` restarts it. The child ends when the pipe closes (the
web process stopped or died), so a killed ``hub serve`` leaves no orphan.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any, Callable, Sequence

from core.jobs import JobQueue
from core.telemetry import count

log = logging.getLogger(__name__)


class PipeQueue:
    """The web process's job queue: row ids go down a pipe to the worker process.

    Args:
        conn: the sending end (replaced by :class:`WorkerProcess` when it restarts the child).
    """

    def __init__(self, conn: Connection | None = None) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def attach(self, conn: Connection) -> None:
        """Send to ``conn`` from now on (a new child's pipe)."""
        with self._lock:
            self._conn = conn

    def submit(self, queue: str, row_id: int) -> None:
        with self._lock:
            conn = self._conn
            try:
                if conn is None:
                    raise OSError("no worker process")
                conn.send((queue, row_id))
            except (OSError, ValueError):
                # The row stays pending: the worker's sweep hands it out when it is back.
                count("job_submits", queue=queue, outcome="failed")
                log.warning("jobs.pipe.submit-failed", extra={"queue": queue, "row_id": row_id})

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def relay(conn: Connection, jobs: JobQueue) -> None:
    """In the worker process: submit every row id received on ``conn`` until the pipe closes.

    Args:
        conn: the receiving end.
        jobs: the worker's own job queue (thread pools).
    """
    while True:
        try:
            queue, row_id = conn.recv()
        except (EOFError, OSError):
            return
        jobs.submit(str(queue), int(row_id))


def _child(target: Callable[[Connection], Any], receive: Connection, inherited: tuple[Any, ...]) -> None:
    for handle in inherited:
        handle.close()
    target(receive)


class WorkerProcess:
    """Starts the worker process, restarts it if it dies, and stops it with the web process.

    The first child is forked when this process has no other thread yet (it then starts in well under a
    second, with every module already imported); later ones, and a first one in a process that already runs
    threads, are spawned (a fresh interpreter: forking a process with threads can deadlock the child).

    Args:
        target: the child's entry point, called with the receiving end of the pipe; importable at module
            level (for spawning).
        queue: the web process's :class:`PipeQueue`, re-attached to each new child.
        before_fork: called before forking (e.g. dispose the database pool, whose connections a child must
            not share).
        close_in_child: what a forked child closes first (e.g. the web server's listening socket, which it
            must not keep bound after the parent is gone).
    """

    def __init__(
        self,
        target: Callable[[Connection], Any],
        queue: PipeQueue,
        before_fork: Callable[[], Any] | None = None,
        close_in_child: Sequence[Any] = (),
    ) -> None:
        self._target, self._queue, self._before_fork = target, queue, before_fork
        self._close_in_child = tuple(close_in_child)
        self._context: Any = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="hub-worker-watch", daemon=True)

    def start(self) -> None:
        """Start the child and the thread that restarts it."""
        fork = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
        if fork and self._before_fork is not None:
            self._before_fork()
        self._spawn(multiprocessing.get_context("fork") if fork else self._context)
        self._watcher.start()

    def _spawn(self, context: Any = None) -> None:
        context = context or self._context
        receive, send = context.Pipe(duplex=False)
        # A forked child inherits the sending end too: it must close it, or the pipe would never report the
        # parent's death (EOF) and the child would outlive it.
        inherited = (send, *self._close_in_child) if context.get_start_method() == "fork" else ()
        self._process = context.Process(target=_child, args=(self._target, receive, inherited), name="hub-worker", daemon=False)
        self._process.start()
        receive.close()  # the child holds its own copy
        self._queue.attach(send)
        log.info("jobs.worker-process.started", extra={"pid": self._process.pid})

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            if self._process is not None and not self._process.is_alive():
                count("worker_process_restarts")
                log.error("jobs.worker-process.died", extra={"exitcode": self._process.exitcode})
                self._spawn()

    @property
    def pid(self) -> int | None:
        """The current child's process id."""
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float = 30.0) -> None:
        """Close the pipe (the child finishes its jobs and exits) and wait for it."""
        self._stop.set()
        self._queue.shutdown()
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.terminate()
