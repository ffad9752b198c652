"""The embedder's vectors kept in the database (``kb_embeddings``), shared by every process on it: a restart
or another worker reuses them, and a lease keeps two processes from embedding the same KB at once."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from core import kb
from core.db import Database
from core.scheduler import acquire_lease, release_lease
from interceptor.retrieval.dense import Embedder, text_key

log = logging.getLogger("interceptor.retrieval.vectors")
EMBED_LEASE = timedelta(minutes=3)  # a process that dies while embedding blocks the others this long at most


class DatabaseVectors:
    """The embedder's vectors in the ``kb_embeddings`` table (a :class:`interceptor.retrieval.dense.VectorStore`).

    A database error is logged and treated as a miss: the vectors are then embedded (again), never lost to
    a failed request.
    """

    def __init__(self, db: Database, embedder: Embedder) -> None:
        self.db = db
        self.model = f"{embedder.name}|{embedder.precision}"
        self._size = embedder.dim * 4  # float32 bytes; anything else is not this model's vector
        self._lease = f"kb.embedding:{text_key(self.model)[:16]}"
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def claim(self) -> bool:
        """Take or renew the embedding lease (held for ``EMBED_LEASE``, renewed after each saved chunk)."""
        try:
            return acquire_lease(self.db, self._lease, self._owner, EMBED_LEASE)
        except SQLAlchemyError as e:  # better to embed twice than to stall
            log.warning("interceptor.vectors.claim-failed", extra={"error": type(e).__name__})
            return True

    def release(self) -> None:
        """Give the embedding lease up."""
        try:
            release_lease(self.db, self._lease, self._owner)
        except SQLAlchemyError as e:  # it expires on its own
            log.warning("interceptor.vectors.release-failed", extra={"error": type(e).__name__})

    def load(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Return the stored vectors of those ``keys`` that have one."""
        try:
            with self.db.session() as s:
                raw = kb.load_embeddings(s, self.model, keys)
        except SQLAlchemyError as e:
            log.warning("interceptor.vectors.load-failed", extra={"error": type(e).__name__})
            return {}
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in raw.items() if len(v) == self._size}

    def save(self, vectors: dict[str, np.ndarray]) -> None:
        """Store ``vectors`` by key (a key another process stored first is kept)."""
        try:
            with self.db.session() as s:
                kb.store_embeddings(s, self.model, {k: np.asarray(v, np.float32).tobytes() for k, v in vectors.items()})
        except SQLAlchemyError as e:
            log.warning("interceptor.vectors.save-failed", extra={"error": type(e).__name__})

    def sync(self, texts: list[str], vectors: np.ndarray) -> None:
        """Make the stored vectors those of ``texts``: store the missing ones (found in this process's
        memory), delete those of texts no longer in the KB (articles changed or removed)."""
        keys = [text_key(t) for t in texts]
        try:
            with self.db.session() as s:
                stored = kb.embedding_keys(s, self.model)
                stale = stored - set(keys)
                kb.delete_embeddings(s, self.model, stale)
                kb.store_embeddings(s, self.model, {k: v.tobytes() for k, v in zip(keys, vectors) if k not in stored})
        except SQLAlchemyError as e:
            log.warning("interceptor.vectors.sync-failed", extra={"error": type(e).__name__})
            return
        if stale:
            log.info("interceptor.vectors.pruned", extra={"vectors": len(stale)})
