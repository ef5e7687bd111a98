"""Benchmark: does anomaly_score flag successful jailbreaks? ROC AUC against JailbreakBench's judge.

Runs the real pipeline (valuescope.api.analyze: ingest -> extract -> taxonomy ->
analysis) on ../shared/data/conversations/jailbreakbench.jsonl, then scores
anomaly_scores.anomaly_score against meta.jailbroken, over all 1,637 conversations
and over those not in the reference annotations (dev.jsonl / dev2.jsonl), which
the offline extractor may have been trained on. In-run baselines: each signal
of the score alone (harmful_score, policy match, rarity) and the subjective flag.

    .venv/bin/python benchmarks/anomaly_jbb.py                     # offline extractor (default)
    .venv/bin/python benchmarks/anomaly_jbb.py --extractor reference   # the 58 annotated conversations only
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared"))


def labels_file(ref_dir: Path, out: Path) -> Path:
    out.write_text("".join((ref_dir / n).read_text("utf-8") for n in ("dev.jsonl", "dev2.jsonl")), "utf-8")
    return out


def annotated_ids(ref_dir: Path) -> set[str]:
    ids = set()
    for n in ("dev.jsonl", "dev2.jsonl"):
        ids |= {json.loads(line)["id"] for line in (ref_dir / n).read_text("utf-8").splitlines() if line.strip()}
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extractor", default="offline", choices=["offline", "reference", "llm"])
    ap.add_argument("--out", default=None, help="run directory (default: a temporary folder)")
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--sample", type=int, default=0, help="a seeded random sample of N conversations (0 = all 1,637)")
    args = ap.parse_args()

    from valuescope import api
    from valuescope.analysis.anomalies import roc_auc
    from valuescope.config import RunConfig
    from valuescope.engine.rundir import RunDir

    shared = Path(args.shared) / "data"
    src = shared / "conversations" / "jailbreakbench.jsonl"
    ref_dir = shared / "reference-annotations"
    out = Path(args.out or tempfile.mkdtemp(prefix="vs_jbb_"))
    if args.sample:
        lines = src.read_text("utf-8").splitlines()
        keep = sorted(np.random.default_rng(0).choice(len(lines), size=min(args.sample, len(lines)), replace=False))
        src = Path(tempfile.mkdtemp()) / "jailbreakbench_sample.jsonl"
        src.write_text("\n".join(lines[i] for i in keep) + "\n", "utf-8")
        print(f"note: a seeded random sample of {len(keep)} conversations, not the full benchmark")
    cfg = RunConfig()
    cfg.extract.extractor = args.extractor
    if args.extractor == "reference":
        cfg.extract.reference = str(labels_file(ref_dir, Path(tempfile.mkdtemp()) / "labels.jsonl"))
    started = time.perf_counter()
    api.analyze([src], out, cfg, quiet=True)
    seconds = time.perf_counter() - started

    truth = {}
    for line in (shared / "conversations" / "jailbreakbench.jsonl").read_text("utf-8").splitlines():
        rec = json.loads(line)
        truth[rec["id"]] = bool(rec["meta"]["jailbroken"])
    run = RunDir(out, create=False)
    scored = run.read_df("anomaly_scores").set_index("id")  # written by the analysis stage
    j = run.read_df("judgments").set_index("id")
    df = pd.DataFrame(
        {
            "anomaly_score": scored["anomaly_score"].reindex(j.index),
            "harmful_score": j["harmful_score"],
            "policy_score": scored["policy_score"].reindex(j.index).fillna(0),
            "rarity": scored["rarity"].reindex(j.index).fillna(0),
            "subjective": j["subjective"].astype(float),
        }
    )
    df["jailbroken"] = [truth[i] for i in df.index]
    dev = annotated_ids(ref_dir)
    subsets = {"all": df, "not in dev.jsonl/dev2.jsonl": df[~df.index.isin(dev)]}
    print(
        f"extractor={args.extractor} run={out} judged={len(df)} of {len(truth)} conversations "
        f"({int(df['jailbroken'].sum())} jailbroken), pipeline {seconds:.0f}s"
    )
    print(f"{'subset':30s} {'n':>5s}  {'signal':14s} {'ROC AUC':>8s}  95% CI (Hanley-McNeil)")
    for name, sub in subsets.items():
        if sub["jailbroken"].nunique() < 2:
            print(f"{name:30s} {len(sub):5d}  (one class only)")
            continue
        for sig in ("anomaly_score", "harmful_score", "policy_score", "rarity", "subjective"):
            auc, lo, hi = roc_auc(sub[sig].to_numpy(), sub["jailbroken"].to_numpy())
            tag = "" if sig == "anomaly_score" else "  (baseline)"
            print(f"{name:30s} {len(sub):5d}  {sig:14s} {auc:8.3f}  [{lo:.3f}, {hi:.3f}]{tag}")
    alerts = run.read_df("analysis/alerts")
    if len(alerts):
        prec = np.mean([truth[i] for i in alerts["id"]])
        print(f"alerts: {len(alerts)}, of which jailbroken: {prec:.1%}")


if __name__ == "__main__":
    main()
