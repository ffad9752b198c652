"""Build a ``helpdesk-bench/v1`` intent pack from HWU64 (a third intent domain: a home assistant's 64 intents, none
of them in the packs the hub was tuned on), with :mod:`clinc_pack`'s recipe.

Nothing is downloaded and nothing is written into the repository: you give it the Rasa files of one cross-validation
fold of github.com/xliuhw/NLU-Evaluation-Data (CC BY 4.0), its training set
(``CrossValidation/out4RasaReal/rasa_json_2018_03_22-13_01_25_169_80Train/CrossValidation/KFold_1/merged/
RasaNlu_Merged_KFold_1_2018_03_22-13_01_25_169.json``) and its test set (the same folder's ``mergedTestset/
RasaNluTestset_Merged_2018_03_22-13_01_25_169.json``), and an output folder. ``--gaps`` intents (default 13, a fifth)
are left out of the KB; the KB's past tickets and the calibration split come from the training set, the test split
is the fold's test set. HWU64 has no out-of-scope requests: its gaps are the withheld intents alone.

Usage: python bench/hwu_pack.py TRAIN_JSON TEST_JSON OUT_DIR [--seed 20261128]
then ``hub eval OUT_DIR --json [--no-history]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clinc_pack import build, write  # noqa: E402


def examples(path: Path) -> list[list[str]]:
    """The ``[text, intent]`` pairs of a Rasa NLU JSON file (``rasa_nlu_data.common_examples``)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [[e["text"], e["intent"]] for e in data["rasa_nlu_data"]["common_examples"]]


def main() -> None:
    parser = argparse.ArgumentParser(description="a helpdesk-bench/v1 intent pack from one HWU64 fold")
    parser.add_argument("train", type=Path, help="the fold's merged Rasa training set")
    parser.add_argument("test", type=Path, help="the fold's merged Rasa test set")
    parser.add_argument("out", type=Path, help="folder to write pack.json into")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--gaps", type=int, default=13)
    args = parser.parse_args()
    data = {"train": examples(args.train), "test": examples(args.test), "oos_train": [], "oos_test": []}
    pack = build(data, seed=args.seed, gaps=args.gaps)
    pack.update(name="hwu64", description=f"HWU64 intents, {len(pack['articles'])} as the KB and {args.gaps} withheld "
                                          "as gaps; built by bench/hwu_pack.py")
    pack["build"]["script"] = "bench/hwu_pack.py"
    write(pack, args.out)


if __name__ == "__main__":
    main()
