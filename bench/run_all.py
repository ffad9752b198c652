"""Run every benchmark and print their figures (``make bench``): quality per pack and on five random re-splits of
it (does the promise hold off the official split?), scale, and the mirror latency (webhooks, SQLite). Figures, not pass/fail: benchmarks are reports. Set HUB_BENCH_DIR to the folder holding the
packs (default: /work/shared/bench)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKS = Path(os.environ.get("HUB_BENCH_DIR", "/work/shared/bench"))


def main() -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    results = {}
    for pack in sorted(p.parent for p in PACKS.glob("*/pack.json")):
        out = subprocess.run([sys.executable, str(HERE / "quality.py"), str(pack)], env=env, check=True,
                             stdout=subprocess.PIPE, text=True)
        results[f"quality:{pack.name}"] = json.loads(out.stdout)
        out = subprocess.run([sys.executable, str(HERE / "resplit.py"), str(pack)], env=env, check=True,
                             stdout=subprocess.PIPE, text=True)
        results[f"resplit:{pack.name}"] = [json.loads(line) for line in out.stdout.splitlines()]
    out = subprocess.run([sys.executable, str(HERE / "scale.py")], env=env, check=True, stdout=subprocess.PIPE, text=True)
    results["scale"] = json.loads(out.stdout)
    out = subprocess.run([sys.executable, str(HERE / "mirror_latency.py")], env=env, check=True, stdout=subprocess.PIPE, text=True)
    results["mirror_latency"] = json.loads(out.stdout)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
