"""Quality benchmark: ``hub eval`` on a pack folder; prints the metrics JSON.

Usage: python bench/quality.py [PACK_DIR] [--target-precision 0.95]
(settings such as HUB_DENSE and HUB_EMBEDDING_MODEL come from the environment, as for `hub eval`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import migrations  # noqa: E402
from config import load_settings  # noqa: E402
from interceptor.evaluate import evaluate  # noqa: E402

DEFAULT_PACK = Path(os.environ.get("HUB_BENCH_DIR", "/work/shared/bench")) / "banking77"


def run(pack: Path, target_precision: float) -> dict:
    """Return the metrics of ``hub eval`` on ``pack``."""
    return evaluate(pack, load_settings(), migrations.upgrade, target_precision=target_precision,
                    progress=lambda line: print(line, file=sys.stderr))


def main() -> None:
    parser = argparse.ArgumentParser(description="hub eval on a bench pack")
    parser.add_argument("pack", nargs="?", type=Path, default=DEFAULT_PACK)
    parser.add_argument("--target-precision", type=float, default=0.95)
    args = parser.parse_args()
    print(json.dumps(run(args.pack, args.target_precision), indent=1))


if __name__ == "__main__":
    main()
