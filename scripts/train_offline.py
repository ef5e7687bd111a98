"""Reproduce the offline extractor's shipped weights from the shared data.

    .venv/bin/python scripts/train_offline.py --shared ../shared
writes src/valuescope/data/offline/model.npz + model.json (byte-identical on
rerun with the same data and package versions; see docs/extractor-offline.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from valuescope.extract.offline.train import build

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"), help="the shared data folder (default ../shared)")
    ap.add_argument("--files", default="dev,dev2", help="reference-annotation files to train on")
    ap.add_argument("--out", default=str(REPO / "src" / "valuescope" / "data" / "offline"))
    ap.add_argument("--embedder", default="minilm", help="an embedder registered in valuescope.registry")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N records only (tests)")
    ap.add_argument("--threads", type=int, default=1, help="embedding threads (1 keeps results bit-exact)")
    ap.add_argument("--cache", type=Path, default=None, help="view-embedding cache (.npz) to reuse across runs")
    args = ap.parse_args()
    t0 = time.time()
    meta = build(args.shared, tuple(args.files.split(",")), Path(args.out), args.embedder, args.limit, args.threads, args.cache)
    print(json.dumps({"out": args.out, "weights_sha256": meta["weights_sha256"], "n": meta["trained_on"]["n"], "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
