"""Fit the calibration a fresh install ships with (``interceptor/retrieval/default_calibration.json``).

A fresh install has no labelled history, so the default is fitted on public data: the calibration split
of the banking77 bench pack (CC BY 4.0), scored against two KBs built from the pack's articles, so the
fit sees both kinds of KB an install may have:

- "with questions": titles plus the articles' past-ticket phrasings;
- "titles only": no phrasings at all (like a help centre of articles and no ticket history).

No unanswered-ticket exemplars are used (a fresh install has none), so the features that depend on them
are constant here and get no weight. Test queries are never read.

Usage: python bench/fit_default_calibration.py [PACK_DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.kb import KBArticle  # noqa: E402
from interceptor.retrieval.calibration import DEFAULT_PATH, METHOD, fit  # noqa: E402
from interceptor.retrieval.dense import DEFAULT_MODEL, shared_embedder  # noqa: E402
from interceptor.retrieval.features import feature_names, sign  # noqa: E402
from interceptor.retrieval.history import Labelled, feature_rows  # noqa: E402
from interceptor.retrieval.index import KBIndex  # noqa: E402
from interceptor.kb.importer import pack_articles, read_pack  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_PACK = Path(os.environ.get("HUB_BENCH_DIR", "/work/shared/bench")) / "banking77"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pack", nargs="?", type=Path, default=DEFAULT_PACK)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args()
    pack = read_pack(args.pack / "pack.json")
    articles = [KBArticle(i, "pack", a.external_id, a.title, a.url, a.tags, a.passages, a.questions, a.body)
                for i, a in enumerate(pack_articles(pack), 1)]
    bare = [replace(a, questions=()) for a in articles]
    history = [Labelled(q["text"], q.get("expected_article_id"), q["id"])
               for q in pack["queries"] if q["split"] == "calibration"]
    modes = {}
    for mode, embedder in (("dense", shared_embedder(DEFAULT_MODEL)), ("lexical", None)):
        rows, correct = [], []
        for kb_articles in (articles, bare):
            r, c = feature_rows(KBIndex(kb_articles, embedder), history)
            rows += r
            correct += c
        names = feature_names(mode == "dense")
        calibrator = fit(rows, correct, names, signs=[sign(n) for n in names])
        modes[mode] = calibrator.to_params()
        print(f"{mode}: {len(rows)} examples, {sum(correct)} right top answers, "
              f"threshold at precision 0.95: {calibrator.threshold_for(0.95):.3f}", file=sys.stderr)
    provenance = (
        f"{METHOD}: fitted by bench/fit_default_calibration.py on the calibration split "
        f"({len(history)} requests) of the '{pack['name']}' pack (BANKING77, Casanueva et al. 2020, CC BY 4.0), "
        "scored against its 60 articles both with and without their past-ticket phrasings; no unanswered "
        f"exemplars; dense model {DEFAULT_MODEL}. Replace it with `hub kb calibrate FILE` from your own history."
    )
    args.out.write_text(json.dumps({"method": METHOD, "provenance": provenance, "modes": modes}, indent=1) + "\n",
                        encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
