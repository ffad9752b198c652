"""Build a ``helpdesk-bench/v2`` pack from doc2dial for domains of your choice (measure the hub off its dev packs).

The dev pack ``doc2dial-dmv-studentaid`` holds two of doc2dial's four domains. This makes a pack of the same
kind from the others (``va``, ``ssa``), so that the hub is measured at answer level on help pages it was
never tuned on. Nothing is downloaded and nothing is written into the repository: you give it doc2dial's
reading-comprehension validation file (``doc2dial_rc_val.csv``, or the zip it ships in, from
github.com/doc2dial/sharedtask-dialdoc2021, ``data/doc2dial/v1.0.1/``; CC BY 3.0) and an output folder.

The recipe follows the dev pack's README (``../shared/bench/README.md``):
- a page is an article; its sections are its blank-line separated blocks, the first line the heading;
- a request is a dialogue's first user turn, answered by the section its grounding span starts in, and by
  every section of another kept page with the same text;
- ``--withhold`` of the pages (default 0.2) are left out as knowledge gaps: their requests are unanswerable,
  unless a kept page holds their section word for word (doc2dial has pages in two copies);
- ``--calibration`` of the requests (default 0.3) are the calibration split, the rest the test split.

Usage: python bench/doc2dial_pack.py DOC2DIAL_RC_CSV OUT_DIR [--domains va ssa] [--seed 20261127]
then ``hub eval OUT_DIR`` or ``python bench/resplit.py OUT_DIR --official``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import random
import re
import sys
import zipfile
from pathlib import Path
from typing import Any, Iterable

_BLOCK = re.compile(r"[^\n]+(?:\n(?!\n)[^\n]*)*")  # a run of lines without a blank line between them


def read_rows(path: Path) -> list[dict[str, str]]:
    """Return the rows of doc2dial's reading-comprehension CSV (``path`` may be the zip it ships in)."""
    csv.field_size_limit(1 << 30)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            text = z.read(z.namelist()[0]).decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def sections(context: str) -> list[tuple[int, int, str, str]]:
    """Return a page's sections as ``(start, end, heading, text)``: its blank-line separated blocks, the first
    line of each its heading (a block of one line is its own text too)."""
    out = []
    for m in _BLOCK.finditer(context):
        block = m.group(0).strip()
        if not block:
            continue
        heading, _, text = block.partition("\n")
        out.append((m.start(), m.end(), heading.strip(), text.strip() or heading.strip()))
    return out


def build(rows: Iterable[dict[str, str]], domains: set[str], *, seed: int, withhold: float = 0.2,
          calibration: float = 0.3, prefix: str = "d2d") -> dict[str, Any]:
    """Return a ``helpdesk-bench/v2`` pack (see the module docstring) from doc2dial rows of ``domains``."""
    rows = [r for r in rows if r["domain"] in domains]
    pages: dict[str, str] = {}
    for r in rows:
        pages.setdefault(r["title"], r["context"])
    rng = random.Random(seed)
    order = sorted(pages)
    rng.shuffle(order)
    withheld = set(order[:round(withhold * len(order))])
    ids = {title: f"{prefix}-{i:03d}" for i, title in enumerate(sorted(pages))}
    parts = {title: sections(pages[title]) for title in pages}
    articles: list[dict[str, Any]] = []
    same_text: dict[str, list[str]] = {}  # a section's text -> every kept section with that text
    for title in sorted(pages):
        if title in withheld:
            continue
        secs = [{"id": f"{ids[title]}-s{j}", "heading": h, "text": t} for j, (_, _, h, t) in enumerate(parts[title])]
        for s in secs:
            same_text.setdefault(" ".join(s["text"].split()), []).append(s["id"])
        articles.append({"id": ids[title], "title": title.split("#")[0].strip(), "questions": [], "sections": secs,
                         "body": "\n\n".join(f"{s['heading']}\n{s['text']}" for s in secs)})
    queries = []
    for r in rows:
        if not r["id"].endswith("_1"):  # the dialogue's first user turn: a request as people write it
            continue
        start = ast.literal_eval(r["answers"])["answer_start"][0]
        hit = [t for s, e, _, t in parts[r["title"]] if s <= start < e + 2]
        if not hit:
            continue
        answers = sorted(same_text.get(" ".join(hit[0].split()), []))  # its section and that section's twins
        own = [sid for sid in answers if sid.startswith(f"{ids[r['title']]}-s")]
        queries.append({"id": r["id"], "text": r["question"].split("user:", 1)[-1].strip(),
                        "expected_article_id": (own or answers)[0].rsplit("-s", 1)[0] if answers else None,
                        "expected_section_ids": answers or None, "source_label": r["title"]})
    rng.shuffle(queries)
    for i, q in enumerate(queries):
        q["split"] = "calibration" if i < round(calibration * len(queries)) else "test"
    name = f"doc2dial-{'-'.join(sorted(domains))}"
    return {"format": "helpdesk-bench/v2", "name": name, "role": "dev",
            "description": f"doc2dial help pages ({', '.join(sorted(domains))}), built by bench/doc2dial_pack.py",
            "build": {"script": "bench/doc2dial_pack.py", "seed": seed, "params": {"withhold": withhold, "calibration": calibration}},
            "articles": articles, "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser(description="a helpdesk-bench/v2 pack from doc2dial's validation file")
    parser.add_argument("source", type=Path, help="doc2dial_rc_val.csv, or the zip it ships in")
    parser.add_argument("out", type=Path, help="folder to write pack.json into")
    parser.add_argument("--domains", nargs="+", default=["va", "ssa"])
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--withhold", type=float, default=0.2)
    parser.add_argument("--calibration", type=float, default=0.3)
    args = parser.parse_args()
    pack = build(read_rows(args.source), set(args.domains), seed=args.seed, withhold=args.withhold,
                 calibration=args.calibration)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pack.json").write_text(json.dumps(pack), encoding="utf-8")
    tests = [q for q in pack["queries"] if q["split"] == "test"]
    json.dump({"pack": pack["name"], "articles": len(pack["articles"]),
               "sections": sum(len(a["sections"]) for a in pack["articles"]), "queries": len(pack["queries"]),
               "test": len(tests), "test_answerable": sum(q["expected_article_id"] is not None for q in tests)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
