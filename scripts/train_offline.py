"""Reproduce the offline extractor's shipped weights from the shared data.

    .venv/bin/python scripts/train_offline.py --shared ../shared
writes src/valuescope/data/offline/model.npz + model.json (byte-identical on
rerun with the same data and package versions; see docs/extractor-offline.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ lives next to src/, outside the package

from training.offline.train import agreement_from_cv, attach_agreement, build

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(REPO.parent / "shared"), help="the shared data folder (default ../shared)")
    ap.add_argument(
        "--files",
        default="dev,dev2,dev3,labels-a1,labels-a2,labels-a3",
        help="label files to train on (shared reference-annotations, else valuescope/data/offline/labels)",
    )
    ap.add_argument("--out", default=str(REPO / "src" / "valuescope" / "data" / "offline"))
    ap.add_argument("--embedder", default="minilm", help="an embedder registered in valuescope.registry")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N records only (tests)")
    ap.add_argument("--threads", type=int, default=1, help="embedding threads (1 keeps results bit-exact)")
    ap.add_argument("--cache", type=Path, default=None, help="view-embedding cache (.npz) to reuse across runs")
    ap.add_argument(
        "--agreement",
        type=Path,
        default=None,
        help="benchmarks/offline_cv.py --json-out file: its CV figures are stored with the weights",
    )
    ap.add_argument(
        "--harm-margin",
        default="0",
        help="log-odds margin the harmful task category needs over the best other one: a number, or "
        "'tuned' (inner-CV, <=1%% benign called harmful); default 0 = argmax (docs/extractor-offline.md)",
    )
    ap.add_argument(
        "--agreement-method",
        default="main",
        choices=["offline", "main"],
        help="which CV column matches these weights' decisions: main = argmax task (margin 0), offline = tuned margin",
    )
    ap.add_argument(
        "--balance-corpora",
        choices=["default", "on", "off"],
        default="default",
        help="corpus-balanced weights for the harmful, user-states-values and response heads (model.corpus_weights)",
    )
    ap.add_argument(
        "--attach-only",
        action="store_true",
        help="do not train: store --agreement in the model.json already in --out (the weights stay as they are)",
    )
    args = ap.parse_args()
    agreement = (
        agreement_from_cv(json.loads(args.agreement.read_text(encoding="utf-8")), args.agreement_method)
        if args.agreement
        else None
    )
    margin = None if args.harm_margin == "tuned" else float(args.harm_margin)
    if args.attach_only:
        if agreement is None:
            raise SystemExit("--attach-only needs --agreement CV.json")
        meta = attach_agreement(Path(args.out), agreement)
        print(json.dumps({"out": args.out, "weights_sha256": meta["weights_sha256"], "agreement_n": agreement["n"]}))
        return
    t0 = time.time()
    balance = None if args.balance_corpora == "default" else args.balance_corpora == "on"
    meta = build(
        args.shared,
        tuple(args.files.split(",")),
        Path(args.out),
        args.embedder,
        args.limit,
        args.threads,
        args.cache,
        agreement,
        margin,
        balance,
    )
    print(
        json.dumps(
            {
                "out": args.out,
                "weights_sha256": meta["weights_sha256"],
                "n": meta["trained_on"]["n"],
                "seconds": round(time.time() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
