"""Benchmark: model comparison on AlpacaEval (805 identical instructions, 7 models).

Runs the real pipeline on ../shared/data/conversations/alpaca_eval.jsonl, then
`valuescope compare RUN --by model --a A --b B` and prints the AI values whose
rates differ with BH-corrected significance. In-run baseline (the null): two
random halves of model A's own conversations compared the same way — the number
of "significant" values there is the false-discovery floor to read A-vs-B against.

    .venv/bin/python benchmarks/compare_alpaca.py                           # offline extractor
    .venv/bin/python benchmarks/compare_alpaca.py --extractor reference     # 158 annotated conversations
    .venv/bin/python benchmarks/compare_alpaca.py --only-ab                 # offline, models A and B only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extractor", default="offline", choices=["offline", "reference", "llm"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--a", default="gpt4_1106_preview")
    ap.add_argument("--b", default="gemma-2b-it")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N instructions (0 = all 805)")
    ap.add_argument(
        "--only-ab", action="store_true", help="ingest only models A and B (2 x 805 conversations, not 7 x 805)"
    )
    args = ap.parse_args()

    from valuescope import api
    from valuescope.analysis import compare
    from valuescope.analysis.config import AnalysisConfig
    from valuescope.analysis.data import load
    from valuescope.config import RunConfig
    from valuescope.engine.rundir import RunDir

    shared = Path(args.shared) / "data"
    out = Path(args.out or tempfile.mkdtemp(prefix="vs_alpaca_"))
    src = shared / "conversations" / "alpaca_eval.jsonl"
    if args.limit or args.only_ab:
        lines = [
            line
            for line in src.read_text("utf-8").splitlines()
            if (not args.limit or json.loads(line)["meta"]["instruction_index"] < args.limit)
            and (not args.only_ab or json.loads(line)["model"] in (args.a, args.b))
        ]
        src = Path(tempfile.mkdtemp()) / "alpaca_eval.jsonl"
        src.write_text("\n".join(lines) + "\n", "utf-8")
    cfg = RunConfig()
    cfg.extract.extractor = args.extractor
    if args.extractor == "reference":
        ref = shared / "reference-annotations"
        labels = Path(tempfile.mkdtemp()) / "labels.jsonl"
        labels.write_text("".join((ref / n).read_text("utf-8") for n in ("dev.jsonl", "dev2.jsonl")), "utf-8")
        cfg.extract.reference = str(labels)
    started = time.perf_counter()
    if not (out / "judgments").is_dir():  # reuse a finished run given with --out
        api.analyze([src], out, cfg, quiet=True)
    print(f"extractor={args.extractor} run={out} pipeline {time.perf_counter() - started:.0f}s")

    cmp_dir = out / "compare_ab"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from valuescope.cli import main; sys.argv[0] = 'valuescope'; main()",
        "compare",
        str(out),
        "--by",
        "model",
        "--a",
        args.a,
        "--b",
        args.b,
        "--out",
        str(cmp_dir),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(
        f"$ valuescope compare {out} --by model --a {args.a} --b {args.b} --out {cmp_dir}  ({time.perf_counter() - t0:.1f}s)"
    )
    print(proc.stderr[-4000:])
    if proc.returncode:
        sys.exit(proc.returncode)
    vals = pd.read_parquet(cmp_dir / "compare")
    v = vals[(vals["side"] == "ai") & (vals["level"] == "value")]
    sig = v[v["significant"]].sort_values("diff")
    pd.set_option("display.width", 160)
    cols = ["name", "n_a", "n_b", "rate_a", "rate_b", "diff", "ci_low", "ci_high", "q_value"]
    print(f"AI values differing significantly (BH q < 0.05): {len(sig)} of {int(v['p_value'].notna().sum())} tested")
    print(sig[cols].round(4).to_string(index=False) if len(sig) else "(none)")
    for level in ("l2", "l3"):
        s = vals[(vals["side"] == "ai") & (vals["level"] == level) & vals["significant"]]
        print(f"\n{level}: {len(s)} significant")
        if len(s):
            print(s[cols].round(4).to_string(index=False))
    resp = pd.read_parquet(cmp_dir / "compare_responses")
    print("\nresponse types:")
    print(
        resp[["response", "rate_a", "rate_b", "diff", "ci_low", "ci_high", "q_value", "significant"]]
        .round(4)
        .to_string(index=False)
    )

    # in-run null baseline: model A against itself, split at random
    data = load(RunDir(out, create=False))
    mine = compare.subset(data, data.conv["model"] == args.a)
    half = pd.Series(np.random.default_rng(0).random(len(mine.conv)) < 0.5)
    ga = compare.group_of(compare.subset(mine, half), f"{args.a} half 1")
    gb = compare.group_of(compare.subset(mine, ~half), f"{args.a} half 2")
    null = compare.compare_values(ga, gb, AnalysisConfig())
    nv = null[(null["side"] == "ai") & (null["level"] == "value")]
    print(
        f"\nnull baseline ({args.a} random halves, {ga.n} vs {gb.n}): "
        f"{int(nv['significant'].sum())} of {int(nv['p_value'].notna().sum())} tested AI values significant; "
        f"all levels: {int(null['significant'].sum())} of {int(null['p_value'].notna().sum())}"
    )


if __name__ == "__main__":
    main()
