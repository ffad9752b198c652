"""Scale benchmark: a synthetic KB of 10,000 articles; index build time and decision latency.

Generates deterministic help-centre-like articles (a title and a ~100-word body each), imports them into a
temporary SQLite KB, builds the scorer (embedding every title and passage when dense retrieval is on),
then times the whole decision (``decide_text``: prefilter, spelling, retrieval, second stage, calibrated
confidence, decide) on requests about random articles and on off-topic ones, one at a time.

Usage: python bench/scale.py [--articles 10000] [--queries 300] [--sections 0] [--postgres URL]

``--sections 5`` gives each article five headed sections (a few sentences each) instead of one body, so the
second stage has passages to choose between (the issue's target: decision p99 <= 150 ms with a 1,000-article
KB, second stage included: ``--articles 1000 --sections 5``).

``--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test`` runs it in a temporary schema there (the
scaled-out mode's database) instead of a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import migrations  # noqa: E402
from config import load_settings  # noqa: E402
from core.db import Database  # noqa: E402
from core.kb import ArticleInput, KBPassage  # noqa: E402
from interceptor.engine import decide_text, speller_for  # noqa: E402
from interceptor.kb.importer import import_articles  # noqa: E402
from interceptor.kb.sections import split_passages  # noqa: E402
from interceptor.retrieval.scorer import build_scorer  # noqa: E402
from interceptor.types import Policy  # noqa: E402
from tests.schemas import scratch_schema  # noqa: E402

ACTIONS = ["Set up", "Reset", "Export", "Import", "Share", "Delete", "Rename", "Archive", "Restore", "Sync",
           "Schedule", "Approve", "Invite people to", "Troubleshoot", "Customize", "Merge", "Lock", "Audit",
           "Migrate", "Back up", "Connect", "Disconnect", "Filter", "Tag", "Duplicate", "Move", "Print", "Search",
           "Translate", "Monitor"]
FEATURES = ["invoices", "timesheets", "projects", "reports", "dashboards", "user roles", "API tokens", "webhooks",
            "calendars", "expense claims", "purchase orders", "time-off requests", "budgets", "client portals",
            "tax rates", "price lists", "contracts", "payroll runs", "shift plans", "inventory counts",
            "support tickets", "knowledge articles", "survey forms", "email templates", "audit logs",
            "single sign-on", "backups", "mobile devices", "notification rules", "custom fields",
            "approval chains", "currency settings", "receipts", "bank feeds", "credit notes", "recurring tasks",
            "team spaces", "data exports", "file attachments", "integrations"]
PRODUCTS = ["the web app", "the mobile app", "the desktop app", "the admin console", "the partner portal",
            "the API", "the browser extension", "the Slack app", "the Outlook add-in", "the kiosk mode"]
FILLER = ("open settings select tab click button choose option confirm save changes wait minute refresh page "
          "account owner admin permission required plan includes limit per month contact support team email "
          "notification appears list view detail panel toolbar menu right corner left sidebar filter date "
          "range status active inactive pending completed error message retry later browser cache cookies "
          "device storage offline sync queue conflict newer version history undo").split()


SECTIONS = ["Before you start", "Steps", "Limits and plans", "Troubleshooting", "Related settings", "Permissions",
            "On mobile", "Frequently asked questions"]


def synthetic_articles(n: int, seed: int = 42, sections: int = 0) -> list[ArticleInput]:
    """Return ``n`` deterministic synthetic articles: one body of eight sentences, or ``sections`` headed
    sections of three sentences each after that opening sentence."""
    rng = random.Random(seed)
    combos = [(a, f, p) for p in PRODUCTS for f in FEATURES for a in ACTIONS]
    rng.shuffle(combos)
    out = []
    for i in range(n):
        action, feature, product = combos[i % len(combos)]
        title = f"{action} {feature} in {product}" + (f" (part {i // len(combos) + 1})" if i >= len(combos) else "")
        opening = f"This article explains how to {action.lower()} {feature} in {product}."

        def filler(count: int) -> str:
            return " ".join(" ".join(rng.choice(FILLER) for _ in range(12)).capitalize() + "." for _ in range(count))

        if not sections:
            body = f"{opening} {filler(7)}"
            passages = tuple(KBPassage(p) for p in split_passages(body))
        else:
            parts = [(heading, filler(3)) for heading in SECTIONS[:sections]]
            body = "\n\n".join([opening] + [f"{h}\n{t}" for h, t in parts])
            passages = (KBPassage(opening, (), f"syn-{i}-s0"),) + tuple(
                KBPassage(t, (h,), f"syn-{i}-s{k + 1}") for k, (h, t) in enumerate(parts))
        out.append(ArticleInput(source="synthetic", external_id=f"syn-{i}", title=title, body=body, passages=passages))
    return out


@contextlib.contextmanager
def temporary_database(postgres: str | None) -> Iterator[str]:
    """Yield the URL of an empty database: a SQLite file, or a schema in ``postgres`` dropped afterwards."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="hub-scale-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'scale.db'}"
        return
    with scratch_schema(postgres, "hub_scale") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description="index build time and decision latency on a synthetic KB")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--sections", type=int, default=0, choices=range(0, len(SECTIONS) + 1),
                        help="headed sections per article (0: one body, as the 10,000-article figures)")
    parser.add_argument("--postgres", metavar="URL", help="run in a temporary schema of this PostgreSQL database")
    args = parser.parse_args()
    articles = synthetic_articles(args.articles, sections=args.sections)
    rng = random.Random(7)
    queries = [f"how do I {a.title.lower()}?" for a in rng.sample(articles, args.queries * 2 // 3)]
    queries += [f"what is the {rng.choice(FILLER)} policy for {rng.choice(['pets', 'parking', 'lunch'])}?"
                for _ in range(args.queries - len(queries))]
    with temporary_database(args.postgres) as url:
        migrations.upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        import_articles(db, articles, batch=1000)
        import_seconds = time.perf_counter() - started
        settings = load_settings({"HUB_DATABASE_URL": url, "HUB_DENSE": os.environ.get("HUB_DENSE", "auto"),
                                  "HUB_EMBEDDING_PRECISION": os.environ.get("HUB_EMBEDDING_PRECISION", "auto")})
        started = time.perf_counter()
        from interceptor.retrieval.dense import dense_available, shared_embedder

        if settings.dense != "off" and dense_available()[0]:
            shared_embedder(settings.embedding_model, settings.embedding_precision)  # the model load is timed apart from the index build
        model_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scorer = build_scorer(settings, db)
        index_seconds = time.perf_counter() - started
        restart_seconds = None
        if scorer.embedder is not None:  # a restart: an empty memory cache, the vectors in the database
            scorer.embedder._cache.clear()
            started = time.perf_counter()
            scorer = build_scorer(settings, db)
            restart_seconds = round(time.perf_counter() - started, 1)
        policy = Policy(threshold=scorer.threshold_for(0.95), guard_topics=False)
        speller = speller_for(scorer)
        for text in queries[:5]:  # warm-up
            decide_text(text, scorer, policy, speller=speller)
        latencies = []
        for text in queries:
            t0 = time.perf_counter()
            decide_text(text, scorer, policy, speller=speller)
            latencies.append((time.perf_counter() - t0) * 1000)
        db.dispose()
    print(json.dumps({
        "database": "postgresql" if args.postgres else "sqlite",
        "articles": len(articles), "sections": args.sections, "second_stage": scorer.index.reranker is not None,
        "calibration": scorer.calibration_source, "units": len(scorer.index.texts), "retrieval": scorer.mode,
        "precision": scorer.embedder.precision if scorer.embedder is not None else None,
        "import_seconds": round(import_seconds, 1), "model_load_seconds": round(model_seconds, 1),
        "index_seconds": round(index_seconds, 1), "index_seconds_after_restart": restart_seconds,
        "build_seconds_total": round(import_seconds + model_seconds + index_seconds, 1),
        "decision_ms": {"p50": round(float(np.percentile(latencies, 50)), 2),
                        "p99": round(float(np.percentile(latencies, 99)), 2), "queries": len(latencies)},
    }, indent=1))


if __name__ == "__main__":
    main()
