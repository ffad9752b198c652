"""Leases that stay alive while their worker does: a heartbeat renews the rows this process is working on.

A claimed row carries ``locked_until`` = now + a short lease (60 s by default) and the claim's fencing token
(:func:`core.work.claim`). While a worker holds it, one daemon thread per process renews every held row's
lease a few times per lease period, each under the token its worker holds; a process that dies stops renewing,
so its rows are due again about one lease later and the sweeper hands them out. A renewal that finds the row
claimed by another worker (this one's lease lapsed: the database was unreachable, or the process paused, for
longer than a lease) leaves that worker's lease alone, is reported once (``work.lease.lost``) and is not tried
again; the stale worker's finish then changes nothing (:func:`core.work.finish`).
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from core import work
from core.db import Database
from core.work import WorkModel

log = logging.getLogger(__name__)

Held = tuple[WorkModel, int, int]  # model, row id, the holder's token


class Heartbeat:
    """Renews the leases of the rows held in this process.

    Args:
        db: the database the rows live in.
        lease: the lease length; leases are renewed every third of it.
    """

    def __init__(self, db: Database, lease: timedelta) -> None:
        self.db, self.lease = db, lease
        self._held: dict[Held, int] = {}
        self._lost: set[Held] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, model: WorkModel, row_id: int, token: int) -> Iterator[None]:
        """Keep the lease of ``row_id``, claimed with ``token``, alive for the duration of the block."""
        key = (model, row_id, token)
        with self._lock:
            self._held[key] = self._held.get(key, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hub-heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                left = self._held.pop(key) - 1
                if left > 0:
                    self._held[key] = left
                else:
                    self._lost.discard(key)

    def beat(self) -> int:
        """Renew every held row's lease now (rows found taken over are not renewed, then or later).

        Returns:
            How many leases were renewed.
        """
        with self._lock:
            held = [key for key in self._held if key not in self._lost]
        by_model: dict[WorkModel, list[tuple[int, int]]] = {}
        for model, row_id, token in held:
            by_model.setdefault(model, []).append((row_id, token))
        renewed = 0
        for model, pairs in by_model.items():
            kept = work.renew(self.db, model, pairs, lease=self.lease, at="heartbeat")
            renewed += len(kept)
            with self._lock:
                lost = ((model, row_id, token) for row_id, token in pairs if (row_id, token) not in kept)
                self._lost.update(key for key in lost if key in self._held)  # a block that ended meanwhile is gone
        return renewed

    def _run(self) -> None:
        interval = max(self.lease.total_seconds() / 3.0, 0.1)
        while not self._wake.wait(interval):
            with self._lock:
                if not self._held:
                    continue
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a failed beat is retried next period; the lease may lapse
                log.warning("work.heartbeat.failed", exc_info=True)

    def stop(self) -> None:
        """Stop the renewing thread (held rows' leases then lapse)."""
        self._wake.set()
