"""The KB scorer: retrieval plus calibrated confidence, kept in step with the stored KB.

``build_scorer(settings, db)`` loads the KB, builds the index (dense when installed and not switched off),
and uses the stored calibration (calibrator and second stage) for the current KB version, else refits one
from the labelled history the last calibration kept, else fits one from the KB's own content (cold start,
:mod:`interceptor.retrieval.coldstart`), else (a KB too small for that) the shipped default. ``score`` checks the KB version (one row, at most once a
second) and rebuilds when it moved; only texts not seen before are embedded again (vectors are kept in the
``kb_embeddings`` table, so a restart or another worker process on the same database reuses them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import numpy as np

from config.settings import Settings
from core import kb
from core.db import Database
from core.scheduler import acquire_lease, release_lease
from core.telemetry import count, observe
from interceptor.retrieval import coldstart, history
from interceptor.retrieval.calibration import BOUND_LEVEL, METHOD, THRESHOLD_METHOD, Calibrator, load_default
from interceptor.retrieval.dense import Embedder, dense_available, load_embedder
from interceptor.retrieval.features import extract
from interceptor.retrieval.index import KBIndex
from interceptor.retrieval.rerank import PairModel
from interceptor.retrieval.training import PairTraining
from interceptor.retrieval.vectors import DatabaseVectors
from interceptor.types import Candidate, Scored

log = logging.getLogger("interceptor.retrieval.scorer")
VERSION_CHECK_SECONDS = 1.0
COLD_START_LEASE = timedelta(minutes=10)  # a process that dies while fitting holds the others back this long at most
COLD_START_POLL_SECONDS = 0.5


class KBScorer:
    """Implements :class:`interceptor.types.Scorer` over the stored KB.

    Args:
        db: the hub's database.
        embedder: the dense model, or ``None`` for lexical-only retrieval.
        retrieval_note: why retrieval is lexical-only, when it is (reported by :attr:`status`).
        cold_start: calibrate from the KB's own content when there is neither a stored calibration nor
            kept history (``False``: the shipped default, until :meth:`calibrate` or :meth:`cold_start`).
    """

    def __init__(self, db: Database, embedder: Embedder | None, *, retrieval_note: str = "ok",
                 cold_start: bool = True) -> None:
        self.db = db
        self._cold = cold_start
        self.embedder = embedder
        self.retrieval_note = retrieval_note
        self.model = embedder.name if embedder is not None else "bm25"
        self.vectors = DatabaseVectors(db, embedder) if embedder is not None else None
        self._lock = threading.RLock()
        self._owner = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this scorer, for the cold-start lease
        self._checked = 0.0
        self.kb_version = ""
        self.index = KBIndex([], embedder)
        self.calibrator: Calibrator | None = None
        self.calibration_source = "none"
        self.refresh(force=True)

    @property
    def mode(self) -> str:
        """``"dense"`` (hybrid retrieval) or ``"lexical"``."""
        return "dense" if self.embedder is not None else "lexical"

    @property
    def status(self) -> dict[str, Any]:
        """What a health check reports: retrieval mode, KB version and size, calibration in use."""
        return {"retrieval": self.mode, "model": self.model,
                "precision": self.embedder.precision if self.embedder is not None else None,
                "note": self.retrieval_note,
                "kb_version": self.kb_version, "articles": len(self.index.articles),
                "calibration": self.calibration_source}

    def refresh(self, *, force: bool = False, wait: bool = True) -> bool:
        """Rebuild the index and calibration if the KB version moved.

        Args:
            force: rebuild without checking the version.
            wait: when another thread is rebuilding, wait for it (``False``: return at once and keep
                serving the previous index, as ``score`` does).

        Returns:
            Whether a rebuild happened.
        """
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            return self._refresh(force)
        finally:
            self._lock.release()

    def _refresh(self, force: bool) -> bool:
        now = time.monotonic()
        if not force and now - self._checked < VERSION_CHECK_SECONDS:
            return False
        self._checked = now
        with self.db.session() as s:
            version = kb.kb_version(s)
            if not force and version == self.kb_version:
                return False
            articles = kb.load_articles(s)
            stored, latest = coldstart.stored_for(s, version)
        started = time.perf_counter()
        negatives = tuple((latest.params.get("negatives") or ()) if latest else ())
        self.index = self._build_index(articles, negatives, history.from_params(latest.params) if latest else [])
        self.kb_version = version
        self._use_calibration(stored, latest)
        log.info("interceptor.kb.indexed", extra={"kb_version": version, "articles": len(articles),
                                                  "seconds": round(time.perf_counter() - started, 3)})
        return True

    def _build_index(self, articles: list[kb.KBArticle], negatives: tuple[str, ...],
                     labelled: list[history.Labelled]) -> KBIndex:
        tickets = {i.text: i.sections for i in history.agreed_sections(labelled) if i.sections}
        index = KBIndex(articles, self.embedder, negatives, store=self.vectors, ticket_sections=tickets)
        if self.vectors is not None and index.vectors is not None:
            self.vectors.sync(index.texts, index.vectors)
        return index

    def _use_calibration(self, stored: kb.StoredCalibration | None, latest: kb.StoredCalibration | None) -> None:
        chosen = coldstart.served(stored, latest, self.mode, len(self.index.articles))
        if chosen is not None:
            self.calibrator = Calibrator.from_params(chosen.params["modes"][self.mode])
            self.index = self.index.with_reranker(PairModel.from_params(chosen.params.get("reranker") or {}))
            self.calibration_source = coldstart.source(chosen)
            return
        labelled = history.from_params(latest.params) if latest is not None else []
        if labelled:
            try:
                self.calibrate(labelled, provenance=latest.provenance if latest else "", store_questions=False)
                return
            except ValueError:
                log.warning("interceptor.calibration.refit-failed", extra={"kb_version": self.kb_version})
        self.cold_start(fit=self._cold)

    def cold_start(self, *, fit: bool = True) -> None:
        """Calibrate from the KB's own content (no labelled history), and store it for this KB version; a
        KB too small for that (or ``fit=False``) keeps the shipped default calibration.

        One process fits a KB version's cold start at a time (a lease in the database): another one that
        needs it (``hub serve``'s web and job processes boot together; Celery workers) waits and serves
        what the first stored, rather than fitting it again beside it."""
        lease = f"kb.coldstart:{self.mode}:{self.kb_version}"
        if fit and self._served_while_waiting(lease):
            return
        try:
            index, calibrator, params, provenance = self._fit_cold(self.index, fit=fit)
            row_id = None
            if params is not None:  # a default is remembered too (and for small edits): a restart does not retry
                with self.db.session() as s:
                    row_id = kb.store_calibration(s, self.kb_version, METHOD, params, provenance)
            self._serve_cold(index, calibrator, params, row_id)
        finally:
            if fit:
                release_lease(self.db, lease, self._owner)

    def _served_while_waiting(self, lease: str) -> bool:
        """Take the cold-start ``lease``; while another process holds it, wait, and when that process has
        stored a calibration for this KB version, serve it. Returns whether it did (else the lease is ours)."""
        while True:
            ours = acquire_lease(self.db, lease, self._owner, COLD_START_LEASE)
            with self.db.session() as s:  # asked after the lease: the holder stores before it gives the lease up
                stored = kb.load_calibration(s, self.kb_version)
            if stored is not None and not coldstart.outdated(stored) and self.mode in stored.params.get("modes", {}):
                if ours:
                    release_lease(self.db, lease, self._owner)
                log.info("interceptor.calibration.cold-start-shared", extra={"kb_version": self.kb_version})
                self._use_calibration(stored, stored)
                return True
            if ours:
                return False
            time.sleep(COLD_START_POLL_SECONDS)

    def forget_history(self) -> int:
        """Return to the KB-only calibration (``hub kb calibrate --reset``): the cold start is fitted on the KB
        without the past tickets' questions, then, in one transaction, the questions and every stored
        calibration (the history kept with it) are removed and the cold start is stored for the KB version
        that makes. A running server polling the KB version sees it only with its calibration in place.

        Returns:
            How many past-ticket questions were removed.
        """
        with self._lock:
            with self.db.session() as s:
                articles = kb.load_articles(s, [])
            index, calibrator, params, provenance = self._fit_cold(self._build_index(articles, (), []))
            with self.db.session() as s:
                removed = kb.forget_history(s)
                version = kb.kb_version(s)
                row_id = kb.store_calibration(s, version, METHOD, params, provenance) if params is not None else None
            self.kb_version, self._checked = version, time.monotonic()
            self._serve_cold(index, calibrator, params, row_id)
            log.info("interceptor.calibration.history-forgotten", extra={"kb_version": version, "questions": removed})
            return removed

    def _fit_cold(self, index: KBIndex, *, fit: bool = True) -> tuple[KBIndex, Calibrator | None, dict[str, Any] | None, str]:
        """Return the cold-start calibration of ``index``: the index with its second stage, the calibrator,
        and the parameters and provenance to store (``None``: nothing to store). A KB too small for a cold
        start (or ``fit=False``) gets the shipped default, stored only when ``fit``."""
        try:
            if not fit:
                raise ValueError("cold start not asked for")
            reranker, calibrator = coldstart.fit_cold(index)
        except ValueError as e:
            log.info("interceptor.calibration.cold-start-skipped", extra={"reason": str(e)})
            default = load_default().get("modes", {}).get(self.mode)
            if not default:
                return index, None, None, ""
            params = {"modes": {self.mode: default}, "negatives": [], "history": [], "model": self.model,
                      "coldstart": True, "cold_method": coldstart.METHOD, "fallback": str(e), "articles": len(index.articles)}
            return (index, Calibrator.from_params(default), params if fit else None,
                    f"cold start not possible ({e}): the shipped default")
        log.info("interceptor.calibration.cold-start", extra={"articles": len(index.articles), "examples": calibrator.examples})
        params = {"modes": {self.mode: calibrator.to_params()}, "reranker": reranker.to_params() if reranker else None,
                  "negatives": [], "history": [], "model": self.model, "coldstart": True, "cold_method": coldstart.METHOD,
                  "articles": len(index.articles)}
        return (index.with_reranker(reranker), calibrator, params,
                "cold start: pseudo-requests from the KB's own headings, titles and first sentences")

    def _serve_cold(self, index: KBIndex, calibrator: Calibrator | None, params: dict[str, Any] | None,
                    row_id: int | None) -> None:
        self.index, self.calibrator = index, calibrator
        if calibrator is None or params is None or params.get("fallback"):
            self.calibration_source = "default" if calibrator is not None else "none"
        else:
            self.calibration_source = f"coldstart:{row_id}"

    def calibrate(self, labelled: list[history.Labelled], *, provenance: str, store_questions: bool = True) -> Calibrator:
        """Fit the calibration on labelled past requests and store it for the KB version it was fitted on (with
        ``store_questions``, the version the history's questions make, stored with it): nothing is stored when
        the fit fails.

        Args:
            labelled: past requests with the article that solved them (``None``: no article did).
            provenance: how the history was obtained (stored with the calibration).
            store_questions: also store the solved requests as the articles' past-ticket questions.

        Returns:
            The fitted calibrator.

        Raises:
            ValueError: too little history, or only right (or only wrong) top answers in it.
        """
        with self._lock:
            # Fitted on the articles as they will be with the history's questions, which are stored only with
            # the calibration, in one transaction: a history that cannot be fitted changes nothing, and a
            # server polling the KB version sees the new version only once its calibration is stored.
            tickets: list[tuple[int, str, str | None]] | None = None
            with self.db.session() as s:
                if store_questions:
                    ids = kb.find_article_ids(s, {item.article for item in labelled if item.article})
                    tickets = [(ids[i.article], i.text, i.ref) for i in labelled if i.article in ids]
                version, articles = kb.kb_version(s), kb.load_articles(s, tickets)
            negatives = tuple(item.text for item in labelled if item.article is None)
            agreed = history.agreed_sections(labelled)
            index = self._build_index(articles, negatives, labelled)
            training = PairTraining(index, articles, agreed)
            reranker = training.fit()
            index = index.with_reranker(reranker)
            prior: tuple[list[dict[str, float]], list[bool]] | None = None
            in_curve: list[bool] | None = None
            try:  # what the KB's own content teaches, so that a short history is not all the calibrator knows
                rows, correct, in_curve = coldstart.kb_examples(index, training, {i.text for i in labelled})
                prior = (rows, correct)
            except ValueError:
                pass
            # each past request is scored by a second stage that did not learn from it: an honest curve
            calibrator = history.fit_calibrator(index, agreed, lambda fold: training.fit(without_fold=fold), prior, in_curve)
            params = {"modes": {self.mode: calibrator.to_params()}, "negatives": list(negatives),
                      "history": history.to_params(labelled), "model": self.model,
                      "reranker": reranker.to_params() if reranker else None}
            with self.db.session() as s:
                if tickets is not None:
                    kb.set_ticket_questions(s, tickets)
                    version = kb.kb_version(s)
                row_id = kb.store_calibration(s, version, METHOD, params, provenance)
            self.index, self.kb_version, self._checked = index, version, time.monotonic()
            self.calibrator, self.calibration_source = calibrator, f"stored:{row_id}"
            log.info("interceptor.calibration.fitted", extra={"kb_version": self.kb_version, "examples": len(labelled)})
            return calibrator

    def threshold_for(self, target_precision: float) -> float:
        """Return the confidence threshold for ``target_precision`` under the active calibration (see
        :meth:`Calibrator.threshold_for`: a lower confidence bound of precision on out-of-fold history)."""
        return self.calibrator.threshold_for(target_precision) if self.calibrator else 1.0

    def threshold_report(self, target_precision: float) -> dict[str, Any]:
        """Return how the threshold for ``target_precision`` was chosen: the method, the threshold, and the
        history's answered count, precision and precision lower bound at it."""
        threshold = self.threshold_for(target_precision)
        bound = {k: round(v, 4) for k, v in self.calibrator.bound_at(threshold).items()} if self.calibrator else {}
        return {"method": THRESHOLD_METHOD, "level": BOUND_LEVEL, "threshold": round(threshold, 4),
                "history": self.calibrator.examples if self.calibrator else 0, **bound}

    def score(self, text: str, *, k: int = 5, query_vector: np.ndarray | None = None) -> Scored:
        """Retrieve the top ``k`` articles for ``text`` and the calibrated confidence of the first.

        Args:
            text: the request's text.
            k: how many candidates to return.
            query_vector: the request's embedding when the caller computed it already (batch evaluation).

        Returns:
            The scored request; confidence 0 and no candidates for an empty KB.
        """
        self.refresh(wait=False)
        started = time.perf_counter()
        index, calibrator = self.index, self.calibrator
        r = index.search(text, k=k, query_vector=query_vector)
        features = extract(r)
        confidence = calibrator.confidence(features) if calibrator is not None and r.order else 0.0
        candidates = tuple(
            _candidate(index.articles[i], r.passage[n], r.passage_at[n], r.fused[n], r.lexical[n],
                       None if r.dense is None else r.dense[n])
            for n, i in enumerate(r.order)
        )
        elapsed = time.perf_counter() - started
        observe("interceptor_score", elapsed, mode=self.mode)
        return Scored(candidates, confidence, features, self.kb_version, self.model, {"score": elapsed * 1000})

    def suggest(self, text: str, *, k: int = 5) -> list[Candidate]:
        """Return the top ``k`` articles for ``text`` by lexical score only (fast: no model call; for
        suggesting articles while a ticket form is typed); while the index is rebuilt, from the one in hand, as
        :meth:`score` does (a rebuild of a large KB embeds for minutes)."""
        self.refresh(wait=False)
        index = self.index
        scores, ceiling = index.lexical.scores(text)
        if not len(index.articles) or ceiling <= 0:
            return []
        per_article = index.per_article(scores / ceiling, 0.0)[: len(index.articles)]
        top = [int(i) for i in np.argsort(-per_article, kind="stable")[:k] if per_article[i] > 0]
        out = []
        for i in top:
            best = index.best_passage(i, scores)
            at = index.articles[i].passages.index(best) if best is not None else -1
            out.append(_candidate(index.articles[i], index.passage_text(i, at), at, float(per_article[i]),
                                  float(per_article[i]), None))
        return out


def _candidate(article: kb.KBArticle, text: str, at: int, score: float, lexical: float, dense: float | None) -> Candidate:
    """Return the candidate for ``article`` quoting ``text`` (its passage ``at``; -1: the body)."""
    passage = article.passages[at] if at >= 0 else None
    return Candidate(article_id=article.id, external_id=article.external_id, title=article.title, url=article.url,
                     passage=text, score=score, lexical=lexical, dense=dense,
                     heading_path=tuple(passage.heading_path) if passage is not None else (),
                     section_id=passage.section_id if passage is not None else None)


def build_scorer(settings: Settings, db: Database, *, cold_start: bool = True) -> KBScorer:
    """Build the scorer for ``settings``: hybrid when the dense extra is installed and ``dense`` is not
    ``off``, lexical otherwise (logged, and reported by ``KBScorer.status``). ``cold_start``: see
    :class:`KBScorer`.

    Raises:
        ImportError: ``dense`` is ``on`` but the dense extra is not installed.
        ConfigError: the embedding model (``HUB_EMBEDDING_MODEL``) cannot be loaded.
    """
    embedder, note = None, "dense retrieval is switched off (HUB_DENSE=off)"
    if settings.dense != "off":
        available, why = dense_available()
        if available:
            embedder, note = load_embedder(settings), "ok"
        elif settings.dense == "on":
            raise ImportError(f"HUB_DENSE=on but {why}")
        else:
            note = why
    if embedder is None:  # a warning unless the admin chose it (HUB_DENSE=off)
        log.log(logging.INFO if settings.dense == "off" else logging.WARNING, "interceptor.retrieval.lexical-only",
                extra={"reason": note})
    count("interceptor_retrieval_boot", mode="dense" if embedder else "lexical")
    return KBScorer(db, embedder, retrieval_note=note, cold_start=cold_start)
