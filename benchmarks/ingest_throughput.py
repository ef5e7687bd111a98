"""Ingest throughput: conversations per second, with its in-run baselines.

    .venv/bin/python benchmarks/ingest_throughput.py [CONVERSATIONS_DIR] [--scrub off|regex|ner]

Baselines measured in the same run over the same files: (a) a bare
``json.loads`` loop — the floor any JSONL reader pays — and (b) the local
engine with one worker, against which the default (two workers) is compared.
Each configuration ingests into a fresh run directory (no cache reuse).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from valuescope import api
from valuescope.config import RunConfig

FILES = ("alpaca_eval.jsonl", "hh_rlhf_harmless_base_test.jsonl", "jailbreakbench.jsonl", "mt_bench.jsonl")


def bare_json(files: list[Path]) -> tuple[int, float]:
    start, n = time.perf_counter(), 0
    for f in files:
        with f.open("rb") as fh:
            for line in fh:
                json.loads(line)
                n += 1
    return n, time.perf_counter() - start


def ingest(files: list[Path], workers: int, scrub: str) -> tuple[int, float]:
    cfg = api.apply_overrides(RunConfig(), scrub=scrub, workers=workers)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run = api.ingest(files, Path(tmp) / "run", cfg)
        seconds = time.perf_counter() - start
        read = sum(i["read"] for i in run.manifest["inputs"])
    return read, seconds


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "conversations"
    parser = argparse.ArgumentParser()
    parser.add_argument("conversations_dir", nargs="?", type=Path, default=default)
    parser.add_argument("--scrub", default="off")
    args = parser.parse_args()
    files = [args.conversations_dir / f for f in FILES]
    rows = [("bare json.loads (floor)", *bare_json(files))]
    for workers in (1, 2):
        rows.append((f"ingest, {workers} worker(s), scrub={args.scrub}", *ingest(files, workers, args.scrub)))
    print(f"{'configuration':<42} {'records':>8} {'seconds':>8} {'records/s':>10}")
    for name, n, s in rows:
        print(f"{name:<42} {n:>8,} {s:>8.2f} {n / s:>10,.0f}")
    print(f"speed-up of 2 workers over 1: {rows[1][2] / rows[2][2]:.2f}x")


if __name__ == "__main__":
    main()
