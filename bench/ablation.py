"""Ablation on a pack: how much of ``hub eval``'s figure comes from each use of the labelled history.

Variants: "full" (what `hub eval` does: solved past tickets become article questions, unsolved ones become
known-gap exemplars, and the calibrator is fitted on them); "no-gap-exemplars" (unsolved tickets only
label the calibration); "calibration-only" (history used only to fit the calibrator and pick the threshold).

Usage: python bench/ablation.py [PACK_DIR]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import migrations  # noqa: E402
from config import load_settings  # noqa: E402
from interceptor.retrieval import scorer as scorer_module  # noqa: E402
from interceptor.evaluate import evaluate  # noqa: E402
from interceptor.retrieval.index import KBIndex  # noqa: E402

DEFAULT_PACK = Path(os.environ.get("HUB_BENCH_DIR", "/work/shared/bench")) / "banking77"


def _variant(name: str) -> None:
    keep_gaps = name == "full"
    store_questions = name != "calibration-only"

    class Index(KBIndex):
        def __init__(self, articles: Any, embedder: Any, negatives: tuple[str, ...] = ()) -> None:
            super().__init__(articles, embedder, negatives if keep_gaps else ())

    original = scorer_module.KBScorer.calibrate

    def calibrate(self: Any, labelled: Any, *, provenance: str, store_questions_: bool = True, **kw: Any) -> Any:
        return original(self, labelled, provenance=provenance, store_questions=store_questions)

    scorer_module.KBIndex = Index  # type: ignore[misc]
    scorer_module.KBScorer.calibrate = calibrate  # type: ignore[method-assign]


def main() -> None:
    pack = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PACK
    name = sys.argv[2] if len(sys.argv) > 2 else "full"
    _variant(name)
    result = evaluate(pack, load_settings(), migrations.upgrade)
    print(json.dumps({"variant": name, "test": result["test"], "curve": result["curve"]}))


if __name__ == "__main__":
    main()
