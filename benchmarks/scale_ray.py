"""Scale: `valuescope analyze` on 10k -> 100k -> 1M replicated real conversations, local engine vs Ray.

    VALUESCOPE_SHARED=../shared .venv/bin/python benchmarks/scale_ray.py \\
        --sizes 10000 100000 1000000 --extractor reference [--engines local ray] [--ray-workers 2]

For each size, builds the corpus (scale_corpus.py: the 900 annotated shared conversations
replicated with new ids, written line by line; with ``--extractor reference`` also their real
judgments under the same ids), then runs the whole pipeline (ingest, extract, taxonomy, analyses,
report) once per engine in a fresh run directory. While a run lasts, every ~0.5 s psutil samples
the RSS of the driver (the CLI process) and of every process in its tree: Ray's workers
(``ray::…``) and the local engine's pool processes count as workers, Ray's own daemons
(raylet, GCS, dashboard, ...) as "ray system". Recorded per run: wall seconds, conversations/s,
peak RSS of the driver, of the largest single worker and of the whole tree, each stage's seconds
(manifest) with the driver's peak RSS during each, and a content fingerprint of every table (row count + sum of row hashes, computed by
DuckDB over the run's views: order-independent and out of core), so the Ray run is checked
against the local run of the same size. Ratios are Ray / local of the same size
and extractor (run one after the other; each row records the load average when it started).

Rows are merged into ``--json`` (keyed by size, extractor, engine), so small offline-extractor
sizes and large reference-extractor sizes can be run separately and end up in one file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_corpus import shared_dir, write_corpus  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLI = "from valuescope.cli import main; main()"
MB = 1 << 20
RAY_SYSTEM = ("raylet", "gcs_server", "dashboard", "log_monitor", "monitor.py", "runtime_env", "ray_client_server")


class TreeSampler(threading.Thread):
    """Peak RSS of a process and of every descendant, sampled every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak: dict[int, tuple[int, str]] = {}  # pid -> (peak rss, kind:name)
        self.tree_peak = 0
        self.samples = 0
        self.driver_timeline: list[tuple[float, int]] = []  # (wall time, driver RSS): the peak per stage
        self.stop = threading.Event()

    def kind(self, proc: psutil.Process) -> str:
        try:
            name = proc.name()
            cmd = " ".join(proc.cmdline()[:3])
        except psutil.Error:
            return "gone"
        if proc.pid == self.root.pid:
            return "driver"
        if name.startswith("ray::") or cmd.startswith("ray::"):
            return "worker:" + (name if name.startswith("ray::") else cmd.split()[0])
        if any(s in name or s in cmd for s in RAY_SYSTEM):
            return "ray-system:" + name
        if "default_worker.py" in cmd:  # a Ray worker before it names itself
            return "worker:ray::IDLE"
        return "worker:" + name  # the local engine's pool processes (python)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            if p.pid == self.root.pid:
                self.driver_timeline.append((time.time(), rss))
            old = self.peak.get(p.pid)
            if old is None or rss > old[0]:  # a Ray worker renames itself (ray::IDLE -> ray::Actor): name at peak
                self.peak[p.pid] = (rss, self.kind(p))
        self.tree_peak = max(self.tree_peak, total)
        self.samples += 1

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def summary(self) -> dict:
        driver = self.peak.get(self.root.pid, (0, ""))[0]
        workers = [(rss, k.split(":", 1)[1]) for rss, k in self.peak.values() if k.startswith("worker:")]
        system = [rss for rss, k in self.peak.values() if k.startswith("ray-system:")]
        top = max(workers, default=(0, ""))
        return {
            "driver_peak_rss_mb": round(driver / MB, 1),
            "worker_peak_rss_mb": round(top[0] / MB, 1),
            "worker_peak_process": top[1],
            "workers_seen": len(workers),
            "ray_system_peak_rss_mb": round(max(system, default=0) / MB, 1),
            "tree_peak_rss_mb": round(self.tree_peak / MB, 1),
            "rss_samples": self.samples,
        }

    def driver_peak_by_stage(self, stages: dict) -> dict[str, float]:
        """Driver peak RSS (MB) while each stage ran, from the manifest's finish times and durations."""
        out = {}
        for name, st in stages.items():
            end = st.get("finished", 0)
            start = end - st.get("seconds", 0)
            rss = [r for t, r in self.driver_timeline if start - 0.5 <= t <= end + 0.5]
            out[name] = round(max(rss) / MB, 1) if rss else None
        return out


def fingerprints(run: Path) -> dict[str, list[int]]:
    """view -> [rows, sum of row hashes mod 2^64] over the run's valuescope.duckdb views (out of core)."""
    con = duckdb.connect(str(run / "valuescope.duckdb"), read_only=True)
    try:
        views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
        out = {}
        for v in sorted(views):
            rows, h = con.execute(
                f'SELECT count(*), sum(hash(t)::HUGEINT) % 18446744073709551616 FROM "{v}" t'
            ).fetchone()
            out[v] = [int(rows), int(h or 0)]
        return out
    finally:
        con.close()


def analyze_command(inp: Path, out: Path, engine: str, args: argparse.Namespace, labels: Path | None) -> list[str]:
    cmd = [sys.executable, "-c", CLI, "analyze", str(inp), "--out", str(out), "-q", "--extractor", args.extractor]
    if labels is not None:
        cmd += ["--reference", str(labels)]
    if engine == "ray":
        cmd += ["--engine", "ray", "--ray-workers", str(args.ray_workers)]
        if args.address:
            cmd += ["--address", args.address]
    else:
        cmd += ["--workers", str(args.workers)]
    return cmd


def run_once(cmd: list[str], run: Path, n: int, env: dict) -> dict:
    shutil.rmtree(run, ignore_errors=True)
    run.parent.mkdir(parents=True, exist_ok=True)
    log = run.parent / f"{run.name}.log"
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop.set()
        sampler.join()
    seconds = time.perf_counter() - t0
    if rc:
        tail = log.read_text("utf-8", "replace")[-2000:]
        raise SystemExit(f"{' '.join(cmd[3:])} exited {rc}; log {log}:\n{tail}")
    manifest = json.loads((run / "manifest.json").read_text("utf-8"))
    return {
        "seconds": round(seconds, 1),
        "conv_per_s": round(n / seconds, 1),
        **sampler.summary(),
        "stages_s": {k: round(v.get("seconds", 0), 1) for k, v in sorted(manifest.get("stages", {}).items())},
        "driver_peak_rss_mb_by_stage": sampler.driver_peak_by_stage(dict(sorted(manifest.get("stages", {}).items()))),
        "tables": fingerprints(run),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--extractor", choices=("offline", "reference"), default="reference")
    ap.add_argument("--engines", nargs="+", choices=("local", "ray"), default=["local", "ray"])
    ap.add_argument("--workers", type=int, default=2, help="local engine processes")
    ap.add_argument("--ray-workers", type=int, default=2)
    ap.add_argument("--address", default=None, help="existing Ray cluster (default: a local instance per run)")
    ap.add_argument("--work", type=Path, default=Path("benchmarks-out/scale_ray"))
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "scale_ray.json")
    ap.add_argument("--keep", action="store_true", help="keep run directories (default: delete after measuring)")
    ap.add_argument("--table", action="store_true", help="print the results file as a Markdown table and exit")
    args = ap.parse_args()
    if args.table:
        print(markdown(json.loads(args.json.read_text("utf-8"))))
        return 0
    shared = shared_dir()
    env = {**os.environ, "VALUESCOPE_SALT": "scale-ray-benchmark-salt-0123456789abcdef"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    results = json.loads(args.json.read_text("utf-8")) if args.json.is_file() else {"rows": []}
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    for n in args.sizes:
        inp = args.work / f"corpus-{n}.jsonl"
        labels = args.work / f"labels-{n}.jsonl" if args.extractor == "reference" else None
        t = time.perf_counter()
        write_corpus(shared, n, inp, labels)
        print(f"{n:>9,} conversations written in {time.perf_counter() - t:.1f} s ({inp})", flush=True)
        by_engine = {}
        for engine in args.engines:
            run = args.work / f"run-{n}-{args.extractor}-{engine}"
            row = {
                "size": n,
                "extractor": args.extractor,
                "engine": engine,
                "workers": args.ray_workers if engine == "ray" else args.workers,
                "commit": commit.stdout.strip(),
                "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
                **run_once(analyze_command(inp, run, engine, args, labels), run, n, env),
            }
            by_engine[engine] = row
            if not args.keep:
                shutil.rmtree(run, ignore_errors=True)
            print(
                f"{n:>9,} {args.extractor:<9} {engine:<5} {row['seconds']:8.1f} s {row['conv_per_s']:8.1f} conv/s  "
                f"driver {row['driver_peak_rss_mb']:7.0f} MB  largest worker {row['worker_peak_rss_mb']:7.0f} MB "
                f"({row['worker_peak_process']})  tree {row['tree_peak_rss_mb']:7.0f} MB",
                flush=True,
            )
            save(args.json, results, by_engine)  # each row as soon as it is measured
    for line in results["growth"]:
        print(line)
    return 0


def save(path: Path, results: dict, by_engine: dict[str, dict]) -> None:
    """Merge this size's rows into the results file (replacing earlier rows of the same size/extractor/engine)."""
    key = {(r["size"], r["extractor"], r["engine"]) for r in by_engine.values()}
    results["rows"] = [r for r in results["rows"] if (r["size"], r["extractor"], r["engine"]) not in key]
    results["rows"] += list(by_engine.values())
    results["rows"].sort(key=lambda r: (r["extractor"], r["size"], r["engine"]))
    for ray in results["rows"]:  # each Ray row against the local row of the same size and extractor
        local = next((r for r in results["rows"] if r["engine"] == "local" and same(r, ray)), None)
        if ray["engine"] != "ray" or local is None:
            continue
        tables = local["tables"].keys() | ray["tables"].keys()
        differ = sorted(k for k in tables if local["tables"].get(k) != ray["tables"].get(k))
        ray["tables_equal_to_local"] = not differ
        ray["tables_differing"] = differ
        ray["ratio_conv_per_s_vs_local"] = round(ray["conv_per_s"] / local["conv_per_s"], 2)
        ray["ratio_driver_rss_vs_local"] = round(ray["driver_peak_rss_mb"] / max(local["driver_peak_rss_mb"], 1), 2)
        if ray in by_engine.values() or local in by_engine.values():
            print(
                f"{ray['size']:>9,} ray/local: conv/s x{ray['ratio_conv_per_s_vs_local']}, driver RSS "
                f"x{ray['ratio_driver_rss_vs_local']}, tables {'equal' if not differ else 'DIFFER: ' + ', '.join(differ)}",
                flush=True,
            )
    results["machine"] = {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / (1 << 30), 1)}
    results["growth"] = growth(results["rows"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n", "utf-8")


def same(a: dict, b: dict) -> bool:
    return (a["size"], a["extractor"]) == (b["size"], b["extractor"])


def markdown(results: dict) -> str:
    """The results as the table in docs/engine-ray.md."""
    head = (
        "| conversations | extractor | engine | seconds | conv/s | ray/local conv/s | driver peak RSS MB "
        "| largest worker MB | tables equal to local |\n|---:|---|---|---:|---:|---:|---:|---:|---|"
    )
    lines = [head]
    for r in sorted(results["rows"], key=lambda r: (r["extractor"] != "offline", r["size"], r["engine"])):
        equal = {True: "yes", False: "NO: " + ", ".join(r.get("tables_differing", []))}.get(
            r.get("tables_equal_to_local"), ""
        )
        lines.append(
            f"| {r['size']:,} | {r['extractor']} | {r['engine']} | {r['seconds']:.0f} | {r['conv_per_s']:.1f} "
            f"| {r.get('ratio_conv_per_s_vs_local', '')} | {r['driver_peak_rss_mb']:.0f} | {r['worker_peak_rss_mb']:.0f} "
            f"| {equal} |"
        )
    for k in results.get("kill9", []):
        lines.append(
            f"\nkill -9 ({k['engine']}, {k['size']:,}, {k['extractor']}): driver killed {k['killed_after_s']} s in, "
            f"{k['shards_done_at_kill']}/{k['shards_total']} extract shards done at the kill, "
            f"{k['shards_done_when_rerun_started']} when the rerun started; the rerun computed {k['shards_recomputed']} "
            f"(engine: {k['engine_stats'].get('batches_computed')}; {k['shards_recomputed_though_done']} of the done ones); tables equal on sorted "
            f"content: {k['tables_equal_sorted_content']}; files identical: {k['files_identical']}"
        )
    return "\n".join(lines + [""] + results.get("growth", []))


def growth(rows: list[dict]) -> list[str]:
    """Driver peak RSS between consecutive sizes of each (extractor, engine): the number the issue asks for."""
    out = []
    for ex in sorted({r["extractor"] for r in rows}):
        for eng in ("local", "ray"):
            rs = sorted((r for r in rows if r["extractor"] == ex and r["engine"] == eng), key=lambda r: r["size"])
            for a, b in zip(rs, rs[1:]):
                out.append(
                    f"{ex} {eng}: driver peak RSS {a['driver_peak_rss_mb']:.0f} MB at {a['size']:,} -> "
                    f"{b['driver_peak_rss_mb']:.0f} MB at {b['size']:,} "
                    f"({b['driver_peak_rss_mb'] - a['driver_peak_rss_mb']:+.0f} MB, x{b['driver_peak_rss_mb'] / max(a['driver_peak_rss_mb'], 1):.2f})"
                )
    return out


if __name__ == "__main__":
    sys.exit(main())
