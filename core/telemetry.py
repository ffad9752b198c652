"""Counters and histograms exported on ``/metrics`` (Prometheus text format).

``count("outbox_actions", connector="slack", outcome="retry")`` increments ``hub_outbox_actions_total``
with those labels. Metrics are created on first use; a name must always be used with the same label names.

One process keeps its counts in memory. Several processes (gunicorn's web workers, ``hub worker``, ``hub
scheduler``, ``hub serve``'s worker process) share theirs through prometheus_client's multiprocess mode: each
process writes its counts to files in the directory named by ``PROMETHEUS_MULTIPROC_DIR``, and
:func:`exposition` sums every file there, whichever process answers the scrape. The library chooses the mode
when it is first imported, so the variable must be set before the process starts (README, *Scaling out*).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from core.errors import ConfigError
from core.processes import running

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# NOTE(prometheus_client): read when prometheus_client.values is imported (above), which is when the library
# picks in-memory or file-backed values; a later change of the variable changes nothing in this process.
# https://prometheus.github.io/client_python/multiprocess/
SHARED_DIR: str | None = os.environ.get(MULTIPROC_ENV) or None

_lock = threading.Lock()
_counters: dict[str, Counter] = {}
_histograms: dict[str, Histogram] = {}

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def count(name: str, amount: float = 1.0, **labels: str) -> None:
    """Increment the counter ``hub_<name>_total`` for ``labels``."""
    with _lock:
        counter = _counters.get(name)
        if counter is None:
            counter = _counters[name] = Counter(f"hub_{name}", f"hub {name.replace('_', ' ')}", sorted(labels))
    (counter.labels(**labels) if labels else counter).inc(amount)


def observe(name: str, seconds: float, **labels: str) -> None:
    """Record ``seconds`` in the histogram ``hub_<name>_seconds`` for ``labels``."""
    with _lock:
        histogram = _histograms.get(name)
        if histogram is None:
            histogram = _histograms[name] = Histogram(
                f"hub_{name}_seconds", f"hub {name.replace('_', ' ')} in seconds", sorted(labels), buckets=LATENCY_BUCKETS
            )
    (histogram.labels(**labels) if labels else histogram).observe(seconds)


def exposition() -> bytes:
    """Return every counter and histogram in the Prometheus text format: this process's own (and the
    interpreter's ``process_*``/``python_*`` metrics), or, in multiprocess mode, the sum over every process
    that wrote to :data:`SHARED_DIR` (dead ones included: a counter never goes down when a worker is
    recycled; per-process collectors are not exported there, as the library documents)."""
    if SHARED_DIR is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=SHARED_DIR)
    return generate_latest(registry)


def check_shared_dir() -> None:
    """Refuse to boot on a multiprocess directory that counts cannot be written to (the first count would
    raise inside whatever it counts).

    Raises:
        ConfigError: ``PROMETHEUS_MULTIPROC_DIR`` is set but is not a writable directory.
    """
    if SHARED_DIR is not None and not (os.path.isdir(SHARED_DIR) and os.access(SHARED_DIR, os.W_OK | os.X_OK)):
        raise ConfigError(f"{MULTIPROC_ENV}={SHARED_DIR} is not a writable directory "
                          "(`hub metrics clear` creates it, before the hub's processes start)")


def process_ended(pid: int) -> None:
    """Do the library's bookkeeping for a process that ended (gunicorn's ``child_exit``): its live gauges'
    files go. Its counters and histograms stay in the sum, as they must."""
    if SHARED_DIR is not None:
        multiprocess.mark_process_dead(pid, SHARED_DIR)


def writers(path: Path) -> dict[int, list[Path]]:
    """The files of ``path`` by the process id that wrote them (``counter_<pid>.db``, ``gauge_<mode>_<pid>.db``)."""
    found: dict[int, list[Path]] = {}
    for file in path.glob("*.db"):
        pid = file.stem.rpartition("_")[2]
        if pid.isdigit():
            found.setdefault(int(pid), []).append(file)
    return found


def clear_shared_dir(path: Path) -> list[int]:
    """Create ``path``, or empty it for a new deployment: only when no process that wrote there still runs,
    since the counts of a live process would vanish from every scrape until it restarts.

    Returns:
        The ids of the running processes that wrote there (nothing was removed), or ``[]`` (done).
    """
    path.mkdir(parents=True, exist_ok=True)
    found = writers(path)
    live = sorted(pid for pid in found if pid != os.getpid() and running(pid))
    if not live:
        for files in found.values():
            for file in files:
                file.unlink(missing_ok=True)
    return live

