"""Content-gap grouping quality: does a group hold one topic, and does one topic land in one group?

The requests a pack's KB cannot answer (``expected_article_id: null``) are exactly the content gaps; their
``source_label`` (banking77's intent) is the truth the grouping never reads. Prints, for the previous greedy
shared-term grouping (``--baseline``, a copy of the old code path kept here), the lexical path and the
embedding path: groups, singletons, purity (share of requests in their group's majority intent), pairwise
precision/recall (pairs put together that share an intent / pairs sharing an intent that were put together),
and the top-10 groups' purity and coverage (what the dashboard lists).

Usage: ``python bench/gap_groups.py [PACK_DIR] [--sample N]`` (default: banking77, every gap request).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.analytics.clusters import (  # noqa: E402
    EMBEDDING_THRESHOLD,
    LEXICAL_THRESHOLD,
    cluster,
    embed_vectors,
    idf_weights,
    lexical_vectors,
    terms,
)

BENCH = Path(os.environ.get("HUB_BENCH_DIR", "/work/shared/bench"))


def score(groups: list[list[int]], labels: list[str]) -> dict[str, float]:
    n = len(labels)
    majority = sum(Counter(labels[i] for i in g).most_common(1)[0][1] for g in groups)
    together = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    right = sum(1 for g in groups for a in range(len(g)) for b in range(a + 1, len(g)) if labels[g[a]] == labels[g[b]])
    should = sum(k * (k - 1) // 2 for k in Counter(labels).values())
    top = sorted(groups, key=len, reverse=True)[:10]
    covered = sum(len(g) for g in top)
    return {
        "groups": len(groups),
        "singletons": sum(1 for g in groups if len(g) == 1),
        "purity": round(majority / n, 3),
        "pair_precision": round(right / together, 3) if together else 0.0,
        "pair_recall": round(right / should, 3) if should else 0.0,
        "top10_purity": round(sum(Counter(labels[i] for i in g).most_common(1)[0][1] for g in top) / covered, 3),
        "top10_share": round(covered / n, 3),
    }


def greedy_baseline(texts: list[str], idf: dict[str, float], unseen: float) -> list[list[int]]:
    """The grouping before issue 13: the term shared by the most ungrouped requests (x IDF) anchors a group."""
    bags = [set(terms(t)) for t in texts]
    ungrouped, groups = set(range(len(texts))), []
    while True:
        cover: dict[str, list[int]] = {}
        for i in sorted(ungrouped):
            for t in bags[i]:
                cover.setdefault(t, []).append(i)
        shared = [(len(ids) * idf.get(t, unseen), t) for t, ids in cover.items() if len(ids) >= 2]
        if not shared:
            break
        anchor = min((-s, t) for s, t in shared)[1]
        groups.append(cover[anchor])
        ungrouped -= set(cover[anchor])
    return groups + [[i] for i in sorted(ungrouped)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pack", nargs="?", default=str(BENCH / "banking77"))
    parser.add_argument("--sample", type=int, default=0)
    args = parser.parse_args()
    pack = json.loads((Path(args.pack) / "pack.json").read_text())
    gaps = [q for q in pack["queries"] if q["expected_article_id"] is None]
    if args.sample:
        gaps = random.Random(1).sample(gaps, args.sample)
    texts, labels = [q["text"] for q in gaps], [q["source_label"] for q in gaps]
    idf, unseen = idf_weights([q["text"] for q in pack["queries"]])
    report: dict[str, object] = {"pack": pack["name"], "requests": len(texts), "intents": len(set(labels))}
    report["greedy_terms_before"] = score(greedy_baseline(texts, idf, unseen), labels)
    started = time.perf_counter()
    lexical = cluster(lexical_vectors(texts, idf, unseen), LEXICAL_THRESHOLD)
    report["lexical"] = {**score(lexical, labels), "threshold": LEXICAL_THRESHOLD, "seconds": round(time.perf_counter() - started, 2)}
    try:
        from interceptor.retrieval.dense import shared_embedder

        model = shared_embedder("all-MiniLM-L6-v2")
        started = time.perf_counter()
        vectors = embed_vectors(lambda batch: model.encode(batch), texts)
        embedded = time.perf_counter() - started
        if vectors is not None:
            started = time.perf_counter()
            groups = cluster(vectors, EMBEDDING_THRESHOLD)
            report["embeddings"] = {**score(groups, labels), "threshold": EMBEDDING_THRESHOLD,
                                    "embed_seconds": round(embedded, 2), "cluster_seconds": round(time.perf_counter() - started, 2)}
    except ImportError as e:
        report["embeddings"] = f"not installed: {e}"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
