"""Placement of real extracted value strings: reference-annotations dev + dev2.

Every AI/human value with an l2 label (from a strong LLM annotator) is placed
with the bundled tree and no hint; prints l2 / l3 accuracy. Nothing is fitted
on these labels.

    .venv/bin/python benchmarks/taxonomy_reference.py [SHARED_DIR]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from valuescope.records import L3_TO_L2
from valuescope.taxonomy.place import Placer

L2_TO_L3 = {l2: l3 for l3, l2s in L3_TO_L2.items() for l2 in l2s}


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VALUESCOPE_SHARED", "../shared"))
    pairs = []
    for name in ("dev.jsonl", "dev2.jsonl"):
        for line in (shared / "data" / "reference-annotations" / name).read_text().splitlines():
            rec = json.loads(line)
            for side in ("ai_values", "human_values"):
                pairs += [(v["value"], v["l2"]) for v in rec.get(side, []) if v.get("l2") in L2_TO_L3]
    t0 = time.perf_counter()
    placer = Placer(__import__("valuescope.taxonomy.reference", fromlist=["x"]).published_tree(), new_threshold=-1.0)
    placed = placer.place([v for v, _ in pairs])
    l2 = (placed["l2"] == [label for _, label in pairs]).mean()
    l3 = (placed["l3"] == [L2_TO_L3[label] for _, label in pairs]).mean()
    exact = (placed["score"] >= 1).mean()
    print(f"{len(pairs)} (value, l2) pairs, {placed['value_norm'].nunique()} distinct; exact leaf match {exact:.3f}")
    print(f"placement accuracy l2 {l2:.3f}  l3 {l3:.3f}  ({time.perf_counter() - t0:.1f}s)")


if __name__ == "__main__":
    main()
