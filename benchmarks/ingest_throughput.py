"""Ingest throughput: conversations per second, with its in-run baselines.

    .venv/bin/python benchmarks/ingest_throughput.py [CONVERSATIONS_DIR] [--scrub off|regex|ner]

Baselines measured in the same run over the same files: (a) a bare
``json.loads`` loop — the floor any JSONL reader pays — and (b) the local
engine with one worker, against which the default (two workers) is compared.
Each configuration ingests into a fresh run directory (no cache reuse).

The reading layer alone (plan + read every chunk into drafts, no engine, no
tables) is timed against the same floor, for JSONL and for the same records
as one JSON array (floor: one ``json.load`` of the array), so a change to the
bounded readers shows up as a ratio, not drowned in engine start-up.
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


def bare_array(array: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with array.open("rb") as fh:
        n = len(json.load(fh))
    return n, time.perf_counter() - start


def read_only(files: list[Path]) -> tuple[int, float]:
    """Plan every file and read every chunk into drafts: the reading layer without the engine."""
    from valuescope.ingest.source import plan_file, read_chunk

    start, n = time.perf_counter(), 0
    for i, f in enumerate(files):
        planned = plan_file(f, i, None, 1000, {})
        for chunk in planned.chunks:
            n += sum(1 for item in read_chunk(planned, chunk, 2_000_000) if not item.blank)
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
    rows.append(("read only (plan + read chunks), JSONL", *read_only(files)))
    with tempfile.TemporaryDirectory() as tmp:
        array = Path(tmp) / "all.json"  # the same records as one JSON array
        with array.open("wb") as out:
            out.write(b"[" + b",\n".join(line.rstrip(b"\n") for f in files for line in f.open("rb") if line.strip()) + b"]")
        rows.append(("bare json.load of the array (floor)", *bare_array(array)))
        rows.append(("read only (plan + read chunks), JSON array", *read_only([array])))
    print(f"{'configuration':<42} {'records':>8} {'seconds':>8} {'records/s':>10}")
    for name, n, s in rows:
        print(f"{name:<42} {n:>8,} {s:>8.2f} {n / s:>10,.0f}")
    print(f"speed-up of 2 workers over 1: {rows[1][2] / rows[2][2]:.2f}x")
    print(f"read only / floor, JSONL: {rows[3][2] / rows[0][2]:.1f}x the time; "
          f"JSON array: {rows[5][2] / rows[4][2]:.1f}x the time")


if __name__ == "__main__":
    main()
