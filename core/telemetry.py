"""Counters and histograms exported on ``/metrics`` (Prometheus text format).

``count("outbox_actions", connector="slack", outcome="retry")`` increments ``hub_outbox_actions_total``
with those labels. Metrics are created on first use; a name must always be used with the same label names.
"""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

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


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """Return every metric in the Prometheus text format."""
    return generate_latest(registry)
