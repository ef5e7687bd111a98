"""Benchmark: does the context analysis surface the values expected for a known context?

Runs the real pipeline on ../shared/data/conversations/mt_bench.jsonl (8 known
categories in `context`) and prints, per category, the AI values most
over-represented there (standardised residual, BH-corrected q, lift) from
RUN/analysis/context.parquet. Expectation: creative values over-represented in
writing/roleplay, precision/rigour values in math/coding. In-run baseline: the
same values' rates pooled over all categories (what a context-blind report shows).

    .venv/bin/python benchmarks/context_mtbench.py                     # offline extractor
    .venv/bin/python benchmarks/context_mtbench.py --extractor reference   # 143 annotated conversations
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared"))
CREATIVE = ("creativ", "imagin", "artistic", "storytelling", "expressi", "originality", "humor", "playful", "narrative")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extractor", default="offline", choices=["offline", "reference", "llm"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--level", default="value", choices=["value", "l1", "l2", "l3"])
    args = ap.parse_args()

    from valuescope import api
    from valuescope.analysis.stats import wilson
    from valuescope.config import RunConfig
    from valuescope.engine.rundir import RunDir

    shared = Path(args.shared) / "data"
    out = Path(args.out or tempfile.mkdtemp(prefix="vs_mtbench_"))
    cfg = RunConfig()
    cfg.extract.extractor = args.extractor
    if args.extractor == "reference":
        ref = shared / "reference-annotations"
        labels = Path(tempfile.mkdtemp()) / "labels.jsonl"
        labels.write_text("".join((ref / n).read_text("utf-8") for n in ("dev.jsonl", "dev2.jsonl")), "utf-8")
        cfg.extract.reference = str(labels)
        cfg.privacy.min_conversations = (
            3  # 143 conversations over 8 categories: smaller cells, floor lowered and said so
        )
        cfg.analysis.min_support = 3
    started = time.perf_counter()
    api.analyze([shared / "conversations" / "mt_bench.jsonl"], out, cfg, quiet=True)
    run = RunDir(out, create=False)
    ctx = run.read_df("analysis/context")
    j = run.read_df("judgments")
    print(
        f"extractor={args.extractor} run={out} judged={len(j)} subjective={int(j['subjective'].sum())} "
        f"pipeline {time.perf_counter() - started:.0f}s; floor min_conversations={cfg.privacy.min_conversations}, "
        f"min_support={cfg.analysis.min_support}, correction={cfg.analysis.correction}"
    )
    c = ctx[(ctx["context_kind"] == "context") & (ctx["side"] == "ai") & (ctx["level"] == args.level)]
    print(f"\nTop over-represented AI values per MT-Bench category (level={args.level}; * = q < 0.05)")
    print(
        f"{'context':11s} {'value':34s} {'n':>4s} {'in ctx':>7s} {'overall':>7s} {'lift':>5s} {'resid':>6s} {'q':>7s}"
    )
    for context, g in c.groupby("context"):
        g = g[g["residual"] > 0].sort_values("residual", ascending=False).head(args.top)
        for r in g.itertuples():
            star = "*" if r.significant else " "
            print(
                f"{context:11s} {r.name[:34]:34s} {r.n:4d} {r.share_in_context:7.1%} {r.share_overall:7.1%} "
                f"{r.lift:5.2f} {r.residual:6.2f} {r.q_value:7.2g}{star}"
            )

    # The expectation, tested directly: creative values in writing/roleplay vs math/coding.
    conv = run.read_df("conversations", columns=["id", "context"])
    vals = (
        run.read_df("values")
        if run.has_table("values")
        else run.read_df("mentions").rename(columns={"value": "value_norm"})
    )
    ai = vals[(vals["side"] == "ai") & vals["value_norm"].str.contains("|".join(CREATIVE), na=False)]
    judged = j.merge(conv, on="id")
    groups = {
        "writing+roleplay": ("writing", "roleplay"),
        "math+coding": ("math", "coding"),
        "all other": ("reasoning", "extraction", "stem", "humanities"),
    }
    print("\nShare of judged conversations (subjective or not) with a creative AI value (Wilson 95%):")
    for label, ctxs in groups.items():
        ids = judged.loc[judged["context"].isin(ctxs), "id"]
        k, n = int(ids.isin(set(ai["id"])).sum()), len(ids)
        lo, hi = wilson(k, n)
        print(f"  {label:18s} {k:4d}/{n:<4d} = {k / max(n, 1):6.1%}  [{float(lo):.1%}, {float(hi):.1%}]")
    print(f"  creative values matched by: {', '.join(CREATIVE)}")
    invariance = run.read_df("analysis/context_invariance")
    inv = invariance[
        (invariance["context_kind"] == "context") & (invariance["side"] == "ai") & (invariance["level"] == args.level)
    ]
    if len(inv):
        pd.set_option("display.width", 160)
        print("\nMost context-invariant and most context-dependent AI values (CV across categories, bootstrap 95%):")
        cols = ["name", "n", "n_contexts", "cv", "cv_ci_low", "cv_ci_high"]
        print(inv.sort_values("cv")[cols].head(5).to_string(index=False))
        print(inv.sort_values("cv")[cols].tail(5).to_string(index=False))


if __name__ == "__main__":
    main()
