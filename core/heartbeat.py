"""Leases that stay alive while their worker does: a heartbeat renews the rows this process is working on.

A claimed row carries ``locked_until`` = now + a short lease (60 s by default). While a worker holds it,
one daemon thread per process renews every held row's lease a few times per lease period; a process that dies
stops renewing, so its rows are due again about one lease later and the sweeper hands them out.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from sqlalchemy import update

from core.db import Database
from core.models import utcnow
from core.work import WorkModel

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the leases of the rows held in this process.

    Args:
        db: the database the rows live in.
        lease: the lease length; leases are renewed every third of it.
    """

    def __init__(self, db: Database, lease: timedelta) -> None:
        self.db, self.lease = db, lease
        self._held: dict[tuple[WorkModel, int], int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, model: WorkModel, row_id: int) -> Iterator[None]:
        """Keep the lease of ``row_id`` alive for the duration of the block."""
        key = (model, row_id)
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

    def beat(self) -> int:
        """Renew every held row's lease now.

        Returns:
            How many leases were renewed.
        """
        with self._lock:
            held = list(self._held)
        renewed = 0
        by_model: dict[WorkModel, list[int]] = {}
        for model, row_id in held:
            by_model.setdefault(model, []).append(row_id)
        until = utcnow() + self.lease
        with self.db.session() as s:
            for model, ids in by_model.items():
                result = s.execute(
                    update(model)
                    .where(model.id.in_(ids), model.status == "running")
                    .values(locked_until=until)
                    .execution_options(synchronize_session=False)
                )
                renewed += result.rowcount  # type: ignore[attr-defined]  # an UPDATE's CursorResult
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
