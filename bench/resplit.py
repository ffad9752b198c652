"""Does the promised precision hold on requests the hub has not seen? ``hub eval`` on random re-splits of a pack.

A pack's calibration/test split is one draw: a threshold method can look right on it by luck. This re-splits
the pack's queries at random (seeded; the same number of calibration queries, the same articles), runs
``hub eval`` on each split, and prints one line per split and a summary: how often the test precision (answer
precision on ``helpdesk-bench/v2`` packs) fell under the target, and the coverage. The re-split packs are
written to a temporary folder and removed; nothing is written beside the pack.

Usage: python bench/resplit.py PACK_DIR [--seeds 1 2 3 4 5] [--target-precision 0.95] [--official]
(``--official`` also runs the pack's own split; settings come from the environment, as for ``hub eval``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import migrations  # noqa: E402
from config import load_settings  # noqa: E402
from interceptor.evaluate import evaluate  # noqa: E402
from interceptor.kb.importer import read_pack  # noqa: E402


def resplit(pack: dict[str, Any], seed: int) -> dict[str, Any]:
    """Return ``pack`` with its queries' splits drawn anew: as many calibration queries as before, at random."""
    queries = [dict(q) for q in pack["queries"]]
    calibration = sum(q["split"] == "calibration" for q in queries)
    order = list(range(len(queries)))
    random.Random(seed).shuffle(order)
    chosen = set(order[:calibration])
    for i, q in enumerate(queries):
        q["split"] = "calibration" if i in chosen else "test"
    return {**pack, "queries": queries}


def summary_line(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """Return what one split says of the promise: answered, precision (answer-level on v2 packs), coverage."""
    test = metrics["test"]
    answer_level = "answer_precision" in test
    return {
        "split": name,
        "threshold": metrics["threshold"],
        "answered": test["answered"],
        "precision": test["answer_precision"] if answer_level else test["precision"],
        "coverage": test["answer_coverage"] if answer_level else test["coverage"],
        "level": "answer" if answer_level else "article",
        "bound": metrics["threshold_method"].get("lower_bound"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="hub eval on random re-splits of a bench pack")
    parser.add_argument("pack", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--target-precision", type=float, default=0.95)
    parser.add_argument("--official", action="store_true", help="also run the pack's own split")
    args = parser.parse_args()
    path = args.pack / "pack.json" if args.pack.is_dir() else args.pack
    pack = read_pack(path)
    settings = load_settings()
    splits = ([("official", pack)] if args.official else []) + [(f"seed {s}", resplit(pack, s)) for s in args.seeds]
    lines = []
    with tempfile.TemporaryDirectory(prefix="hub-resplit-") as tmp:
        for name, split in splits:
            file = Path(tmp) / "pack.json"
            file.write_text(json.dumps(split), encoding="utf-8")
            line = summary_line(name, evaluate(file, settings, migrations.upgrade, target_precision=args.target_precision))
            lines.append(line)
            print(json.dumps(line), flush=True)
    answered = [line for line in lines if line["answered"]]
    print(json.dumps({
        "pack": pack.get("name"), "target_precision": args.target_precision, "splits": len(lines),
        "answered_nothing": len(lines) - len(answered),
        "under_target": sum(1 for line in answered if line["precision"] < args.target_precision),
        "mean_coverage": round(sum(line["coverage"] for line in lines) / max(len(lines), 1), 4),
    }))


if __name__ == "__main__":
    main()
