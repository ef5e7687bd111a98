"""Probe throughput: requests/s sending the bundled suite to a fixed-latency fake server, vs the ideal.

The probe stage runs through the engine exactly as in `valuescope probe` (chunks,
checkpoints, the answer cache, the extract backends' OpenAI client with its lean
transport) against ``tests/fakes/latency_server.py`` in its own process, which answers every
chat request after ``--latency`` seconds. Ideal = requests in flight / latency.
Every conversation is two dependent requests (the pushback turn waits for the
first answer), so the stage keeps twice as many conversations going as slots.
The extractor's path reached 0.91-0.92 at 64 in flight (benchmarks/llm_throughput.py).

    .venv/bin/python benchmarks/probe_throughput.py [--concurrency 16,64] [--latency 0.2] [--rounds 64]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"  # the loopback servers are test doubles, not shipped
sys.path.insert(0, str(TESTS))

from fakes.fake_server import server_process  # noqa: E402
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.privacy.config import PrivacyConfig
from valuescope.probe.stage import ProbeStage
from valuescope.probe.suite import load_suite
from valuescope.probe.target import TargetConfig


def measure(url: str, concurrency: int, rounds: int, scrub: str) -> dict[str, float]:
    suite = load_suite()
    samples = max(1, math.ceil(rounds * concurrency / (2 * len(suite))))  # enough requests for `rounds` full rounds
    with tempfile.TemporaryDirectory() as tmp:
        stage = ProbeStage(
            suite,
            TargetConfig(model="bench", base_url=url, concurrency=concurrency, timeout_s=30, temperature=0.7),
            samples=samples,
            privacy=PrivacyConfig(scrub=scrub),
            cache_dir=f"{tmp}/cache",
        )
        run = RunDir(Path(tmp) / "run")
        started, cpu = time.perf_counter(), time.process_time()
        run_stages(run, [stage], quiet=True)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        stats = run.read_manifest()["stages"]["probe"]["stats"]
    requests = int(stats.get("usage:requests", 0))
    if requests != 2 * len(suite) * samples:
        raise SystemExit(f"{2 * len(suite) * samples - requests} requests missing; the benchmark needs a clean run")
    return {
        "requests": requests,
        "elapsed": elapsed,
        "rps": requests / elapsed,
        "cpu_ms": cpu / requests * 1000,
        "samples": samples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", default="16,64", help="comma-separated levels of requests in flight")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--rounds", type=int, default=64, help="about rounds x concurrency requests per level")
    ap.add_argument(
        "--scrub", default="regex", help="scrubbing of the stored answers, as in a run (off: the sending path only)"
    )
    args = ap.parse_args()
    rows = []
    with server_process("latency_server", args.latency) as (url, _):
        load_before = os.getloadavg()
        for c in (int(x) for x in args.concurrency.split(",")):
            rows.append((c, measure(url, c, args.rounds, args.scrub)))
        load_after = os.getloadavg()
    print(
        f"probe stage -> lean latency server, latency {args.latency * 1000:.0f} ms, bundled suite x samples, 2 turns,"
        f" scrub={args.scrub}"
    )
    for c, r in rows:
        ideal = c / args.latency
        print(
            f"{c:3d} in flight: {r['rps']:7.1f} req/s  ideal {ideal:6.1f}  ratio {r['rps'] / ideal:.3f}"
            f"  ({r['requests']} requests in {r['elapsed']:.2f} s, {r['samples']} sample(s) per scenario;"
            f" client CPU {r['cpu_ms']:.2f} ms/request, engine and parquet included)"
        )
    print(
        f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
        f"after {'/'.join(f'{x:.2f}' for x in load_after)}, on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
