"""Crash recovery: kill -9 a full `valuescope analyze` inside each stage, rerun, compare with an uninterrupted run.

    .venv/bin/python benchmarks/kill9_resume.py [--limit N] [--seed S] [--work DIR]

Input: the bundled sample (optionally its first N conversations), every stage
with the default offline extractor. First one uninterrupted run (the
reference, timed per stage from its manifest). Then, for each of the run's
stages, one trial in a fresh run directory: start `valuescope analyze`, wait
until that stage has started (the manifest shows the previous stage done),
sleep a random fraction of the stage's reference duration, kill -9 the
process group, and run the same command again to completion. When the kill
lands outside the target stage (the machine ran faster than the reference),
that kill is still checked, and the stage is tried again with a shorter delay.

Compared with the reference, byte for byte: every Parquet table, the
taxonomy CSVs and JSON files, quarantine.jsonl, and the manifest's inputs and
privacy_floor sections. report.html is compared after blanking the three facts
that describe the run rather than its data (generation time, start time,
compute time). Prints one line per kill; exits 1 on any difference or a stage never interrupted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from valuescope import api

CLI = "from valuescope.cli import main; main()"
VOLATILE = [
    (re.compile(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC"), "Generated <time>"),
    (re.compile(r"<dt>started</dt><dd>[^<]*</dd>"), "<dt>started</dt><dd><time></dd>"),
    (re.compile(r"<dt>compute time</dt><dd>[^<]*</dd>"), "<dt>compute time</dt><dd><seconds></dd>"),
]


WANT: dict[str, bytes] = {}  # the reference run's files


def command(inp: Path, out: Path) -> list[str]:
    return [sys.executable, "-c", CLI, "analyze", str(inp), "--out", str(out), "-q"]


def snapshot(run: Path) -> dict[str, bytes]:
    """Every result file of a run (tables, CSV/JSON side files, quarantine, report), by relative path."""
    out = {}
    for p in sorted(run.rglob("*")):
        rel = p.relative_to(run)
        if (
            not p.is_file()
            or rel.parts[0].startswith(".")
            or p.suffix not in (".parquet", ".csv", ".json", ".jsonl", ".html")
        ):
            continue
        data = p.read_bytes()
        if rel.name == "manifest.json":
            m = json.loads(data)
            data = json.dumps({k: m.get(k) for k in ("inputs", "privacy_floor", "status")}, sort_keys=True).encode()
        elif rel.suffix == ".html":
            text = data.decode("utf-8")
            for pattern, repl in VOLATILE:
                text = pattern.sub(repl, text)
            data = text.encode("utf-8")
        out[str(rel)] = data
    return out


def stage_windows(run: Path, started: float) -> list[tuple[str, float, float]]:
    """(stage, start, end) in seconds after `started`, in run order, from the manifest."""
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    rows = sorted(
        ((k, v["finished"] - v["seconds"] - started, v["finished"] - started) for k, v in stages.items()),
        key=lambda r: r[2],
    )
    return rows


def wait_for_stage(run: Path, order: list[str], stage: str, proc: subprocess.Popen, started: float) -> bool:
    """Block until `stage` has started in this run: the previous stage is recorded done after `started`."""
    previous = order[order.index(stage) - 1] if order.index(stage) else None
    while proc.poll() is None:
        try:
            m = json.loads((run / "manifest.json").read_text())
        except (OSError, ValueError):
            m = {}
        if m.get("status") == "running":
            if previous is None:
                return True
            done = m.get("stages", {}).get(previous, {}).get("finished", 0)
            if done >= started:
                return True
        time.sleep(0.005)
    return False


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="first N conversations of the sample (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("benchmarks-out/kill9"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    inp = args.work / "sample.jsonl"
    with gzip.open(api.sample_path(), "rt", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    inp.write_text("".join(lines[: args.limit] if args.limit else lines), "utf-8")
    env = {**os.environ, "VALUESCOPE_SALT": "kill9-benchmark-salt-0123456789abcdef0123"}

    ref = args.work / "reference" / "run"
    ref.parent.mkdir()
    started = time.time()
    subprocess.run(command(inp, ref), env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    total = time.time() - started
    windows = stage_windows(ref, started)
    order = [w[0] for w in windows]
    want = snapshot(ref)
    WANT.update(want)
    print(
        f"reference: {len(lines[: args.limit] if args.limit else lines)} conversations, {total:.1f} s, "
        f"{len(want)} files; stages: " + ", ".join(f"{n} {e - s:.1f}s" for n, s, e in windows),
        flush=True,
    )

    kills, failures, covered = 0, 0, []
    for stage, s, e in windows:
        delay = rng.uniform(0, 0.9) * (e - s)
        for _ in range(4):  # a loaded machine runs a stage faster or slower than the reference: retry sooner
            kills += 1
            killed_in, identical = trial(inp, args.work / f"kill{kills:02d}" / "run", env, order, stage, delay, kills)
            failures += not identical
            if killed_in == stage:
                covered.append(stage)
                break
            delay /= 4
    print(
        f"{kills - failures}/{kills} kills then reruns identical to the uninterrupted run; "
        f"stages interrupted: {len(covered)}/{len(order)} ({', '.join(n for n in order if n not in covered) or 'all'} missed)".replace(
            "(all missed)", "(every stage)"
        )
    )
    return 1 if failures or len(covered) < len(order) else 0


def trial(inp: Path, run: Path, env: dict, order: list[str], stage: str, delay: float, n: int) -> tuple[str, bool]:
    """One kill -9 inside `stage` (after `delay` s) and a rerun; (stage actually interrupted, identical?)."""
    run.parent.mkdir(parents=True)
    t0 = time.time()
    proc = subprocess.Popen(
        command(inp, run), env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_stage(run, order, stage, proc, t0)
    time.sleep(delay)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_after = time.time() - t0
    m = json.loads((run / "manifest.json").read_text()) if (run / "manifest.json").is_file() else {}
    done = [k for k, v in m.get("stages", {}).items() if v.get("finished", 0) >= t0]
    killed_in = next((x for x in order if x not in done), "(finished)") if alive else "(not killed: ended)"
    rerun = subprocess.run(command(inp, run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    got = snapshot(run) if rerun.returncode == 0 else {}
    diff = sorted(k for k in set(WANT) | set(got) if WANT.get(k) != got.get(k))
    print(
        f"kill {n:2d}: target {stage:<20} killed {killed_after:6.1f} s after start (+{delay:.2f} s into the stage) "
        f"in {killed_in:<20} rerun exit {rerun.returncode}: {'identical' if not diff else 'DIFFERENT ' + ', '.join(diff[:6])}",
        flush=True,
    )
    if rerun.returncode and rerun.stderr.strip():
        print("   " + rerun.stderr.strip().splitlines()[-1], flush=True)
    return killed_in, rerun.returncode == 0 and not diff


if __name__ == "__main__":
    sys.exit(main())
