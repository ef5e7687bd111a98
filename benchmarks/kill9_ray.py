"""kill -9 of the driver in the middle of extract, then rerun: only the missing shards are recomputed.

    VALUESCOPE_SHARED=../shared .venv/bin/python benchmarks/kill9_ray.py --size 100000 \\
        [--engine ray] [--extractor reference] [--kill-after 0.3] [--uninterrupted RUN]

Builds the scale corpus of `--size` conversations (scale_corpus.py), runs `valuescope analyze`
uninterrupted (or takes `--uninterrupted RUN`, e.g. a run kept by scale_ray.py --keep), then starts the
same command in a fresh run directory and, once that fraction of the extract shards expected
(ceil(size / batch)) carry their DONE marker, sends SIGKILL to the driver process alone (a local Ray
instance's daemons share its fate). Every descendant still alive 10 s later is reported (and killed
by pid). The same command then runs to completion. Counted: extract shards done at the kill,
shards done when the rerun starts (actors busy at the kill may still finish theirs), shards
computed by the rerun (DONE markers written after it started; also the engine's `batches_computed`)
and shards in total. Compared with the uninterrupted run: every table
of the run on sorted content (row count + sum of row hashes per valuescope.duckdb view) and every
result file byte for byte (kill9_resume.snapshot; the report with its run's name blanked). Results merge into benchmarks/results/scale_ray.json
under "kill9" (one entry per size and engine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kill9_resume import snapshot  # noqa: E402
from scale_corpus import shared_dir, write_corpus  # noqa: E402
from scale_ray import REPO, analyze_command, fingerprints  # noqa: E402


def done_markers(run: Path, stage: str = "extract") -> dict[str, float]:
    """Checkpoint folder -> mtime of its DONE marker, for every finished unit of `stage`."""
    root = run / ".cache" / stage
    return {str(p.parent.relative_to(root)): p.stat().st_mtime for p in root.rglob("DONE")} if root.is_dir() else {}


def result_files(run: Path) -> dict[str, bytes]:
    """kill9_resume.snapshot with the run folder's name (the report's title) blanked."""
    name = run.name.encode()
    return {k: v.replace(name, b"<run>") if k.endswith(".html") else v for k, v in snapshot(run).items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--extractor", choices=("offline", "reference"), default="reference")
    ap.add_argument("--engine", choices=("local", "ray"), default="ray")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ray-workers", type=int, default=2)
    ap.add_argument("--address", default=None)
    ap.add_argument("--batch", type=int, default=0, help="extract batch size (default: the extractor's)")
    ap.add_argument("--kill-after", type=float, default=0.3, help="fraction of the expected shards done at the kill")
    ap.add_argument("--uninterrupted", type=Path, default=None, help="an uninterrupted run of the same input")
    ap.add_argument("--work", type=Path, default=Path("benchmarks-out/kill9_ray"))
    ap.add_argument("--corpus", type=Path, default=None, help="folder of the corpus (default --work): same input path")
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "scale_ray.json")
    args = ap.parse_args()
    env = {**os.environ, "VALUESCOPE_SALT": "scale-ray-benchmark-salt-0123456789abcdef"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    corpus = args.corpus or args.work
    inp = corpus / f"corpus-{args.size}.jsonl"
    labels = corpus / f"labels-{args.size}.jsonl" if args.extractor == "reference" else None
    if not inp.is_file() or (labels is not None and not labels.is_file()):
        write_corpus(shared_dir(), args.size, inp, labels)
    args.work.mkdir(parents=True, exist_ok=True)

    ref = args.uninterrupted or args.work / "uninterrupted"
    if args.uninterrupted is None:
        subprocess.run(analyze_command(inp, ref, args.engine, args, labels), env=env, check=True)
    want_fp, want_files = fingerprints(ref), result_files(ref)

    run = args.work / "killed"
    subprocess.run(["rm", "-rf", str(run)], check=True)
    cmd = analyze_command(inp, run, args.engine, args, labels)
    batch = args.batch or (1000 if args.extractor == "reference" else 64)
    expected = math.ceil(args.size / batch)
    target = max(1, int(expected * args.kill_after))
    t0 = time.time()
    log = open(args.work / "killed.log", "wb")  # noqa: SIM115 - open for the driver's whole life
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    driver = psutil.Process(proc.pid)
    while proc.poll() is None and len(done_markers(run)) < target:
        time.sleep(0.05)
    tree = driver.children(recursive=True) if proc.poll() is None else []
    at_kill = done_markers(run)
    killed_at = time.time()
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    time.sleep(10)
    survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    survivor_names = sorted({p.name() for p in survivors})
    for p in survivors:  # ours: started by the killed driver
        p.kill()
    print(
        f"kill -9 of the driver {killed_at - t0:.1f} s after start: {len(at_kill)} of ~{expected} extract shards done; "
        f"{len(survivors)} descendants still alive after 10 s {survivor_names}",
        flush=True,
    )

    before = done_markers(run)  # what the rerun finds: actors still busy at the kill may have finished theirs
    t1 = time.time()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if rerun.returncode:
        print(rerun.stdout[-2000:], rerun.stderr[-2000:])
        return 1
    after = done_markers(run)
    recomputed = sorted(k for k, m in after.items() if k not in before or m != before[k])
    stats = json.loads((run / "manifest.json").read_text("utf-8"))["stages"]["extract"]["stats"]
    got_fp, got_files = fingerprints(run), result_files(run)
    differ_fp = sorted(k for k in want_fp.keys() | got_fp.keys() if want_fp.get(k) != got_fp.get(k))
    differ_files = sorted(k for k in want_files.keys() | got_files.keys() if want_files.get(k) != got_files.get(k))
    result = {
        "size": args.size,
        "engine": args.engine,
        "extractor": args.extractor,
        "killed_after_s": round(killed_at - t0, 1),
        "shards_total": len(after),
        "shards_done_at_kill": len(at_kill),
        "shards_done_when_rerun_started": len(before),
        "shards_recomputed": len(recomputed),
        "shards_recomputed_though_done": len([k for k in recomputed if k in before]),
        "engine_stats": {k: v for k, v in stats.items() if "batch" in k or "rows" in k},
        "descendants_alive_10s_after_kill": survivor_names,
        "rerun_s": round(time.time() - t1, 1),
        "tables_equal_sorted_content": not differ_fp,
        "tables_differing": differ_fp,
        "files_identical": not differ_files,
        "files_differing": differ_files[:20],
        "tables_compared": len(want_fp),
        "files_compared": len(want_files),
    }
    print(json.dumps(result, indent=1))
    results = json.loads(args.json.read_text("utf-8")) if args.json.is_file() else {"rows": []}
    kills = [k for k in results.get("kill9", []) if (k["size"], k["engine"]) != (args.size, args.engine)]
    results["kill9"] = sorted([*kills, result], key=lambda k: (k["engine"], k["size"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    ok = not differ_fp and not result["shards_recomputed_though_done"] and len(before) + len(recomputed) == len(after)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
