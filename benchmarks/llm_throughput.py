"""LLM extractor throughput against a fake OpenAI-compatible server with fixed latency.

Prints requests/s achieved vs the ideal (concurrency / latency) at each level of
requests in flight — the target is a ratio >= 0.9 at 64 — the client's CPU per
request, and the prompt tokens per conversation on real conversations
(characters / 4). Requests go through the extractor exactly as in a run
(LLMExtractor.extract, fed in engine batches of ``batch_size``) to a lean
fixed-latency server (``latency_server.py``) in its own process; ``--server fake``
uses the scriptable test server (uvicorn) instead. ``--processes N`` runs the
extract stage through the engine with ``llm_processes = N`` (N processes, each with
concurrency / N in flight) instead; its ratio then includes starting the worker
processes, and "server-side steady state" (the lean server's request arrivals
between the 10th and 90th percentile) compares both ways on equal terms.

    .venv/bin/python benchmarks/llm_throughput.py [--rounds 64] [--concurrency 1,16,64] [--latency 0.2] [--processes 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"  # the loopback servers are test doubles, not shipped
sys.path.insert(0, str(TESTS))

from fakes.fake_server import server_process  # noqa: E402
from valuescope.extract.config import ExtractConfig  # noqa: E402
from valuescope.extract.llm.extractor import LLMExtractor  # noqa: E402
from valuescope.extract.llm.schema import answer_schema  # noqa: E402
from valuescope.extract.llm.window import estimate_tokens  # noqa: E402
from valuescope.records import Conversation, Message  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared"))


def real_conversations(n: int) -> list[Conversation]:
    out: list[Conversation] = []
    folder = SHARED / "data" / "conversations"
    for name in ("mt_bench.jsonl", "hh_rlhf_harmless_base_test.jsonl", "alpaca_eval.jsonl", "jailbreakbench.jsonl"):
        with open(folder / name, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= n // 4:
                    break
                rec = json.loads(line)
                out.append(Conversation(id=rec["id"], messages=[Message(**m) for m in rec["messages"]]))
    return out


def unique(convs: list[Conversation], n: int) -> list[Conversation]:
    """n distinct conversations (the cache would collapse duplicates)."""
    out = []
    for i in range(n):
        c = convs[i % len(convs)]
        msgs = [Message(role=c.messages[0].role, content=f"{c.messages[0].content} #{i}"), *c.messages[1:]]
        out.append(Conversation(id=f"bench:{i}", messages=msgs))
    return out


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of another process, from /proc (0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def server_steady(url: str) -> float:
    """Requests/s arriving at the lean server between the 10th and 90th percentile of arrivals (clears them)."""
    try:
        with urllib.request.urlopen(f"{url}/stats", timeout=5) as resp:
            arrivals = sorted(json.loads(resp.read())["arrivals"])
    except (OSError, KeyError, ValueError):
        return float("nan")
    lo, hi = len(arrivals) // 10, len(arrivals) * 9 // 10
    return (
        (hi - lo) / (arrivals[hi] - arrivals[lo])
        if len(arrivals) >= 20 and arrivals[hi] > arrivals[lo]
        else float("nan")
    )


def measure_engine(url: str, convs: list[Conversation], concurrency: int, processes: int) -> dict[str, float]:
    """The extract stage through the engine with llm_processes workers (CPU: this process only, so not shown)."""
    from valuescope.engine.rundir import RunDir
    from valuescope.engine.runner import run_stages
    from valuescope.extract.stage import ExtractStage
    from valuescope.ingest.table import conversations_to_table

    with tempfile.TemporaryDirectory() as tmp:
        config = ExtractConfig(
            extractor="llm",
            model="bench",
            base_url=url,
            concurrency=concurrency,
            response_format="json_schema",
            llm_cache_dir=f"{tmp}/cache",
            timeout_s=30,
            llm_processes=processes,
        )
        run = RunDir(Path(tmp) / "run")
        run.write_table("conversations", conversations_to_table(convs))
        stage = ExtractStage(config)
        server_steady(url)  # clear
        started = time.perf_counter()
        run_stages(run, [stage], workers=processes, quiet=True)
        elapsed = time.perf_counter() - started
        judged = run.read_table("judgments").num_rows
    if judged != len(convs):
        raise SystemExit(f"{len(convs) - judged} requests failed; the benchmark needs a clean run")
    return {
        "rps": len(convs) / elapsed,
        "steady_rps": float("nan"),
        "server_steady_rps": server_steady(url),
        "elapsed": elapsed,
        "cpu_ms": float("nan"),
        "server_cpu_ms": float("nan"),
        "batch_size": stage.batch_size,
    }


def measure(url: str, convs: list[Conversation], concurrency: int, server_pid: int) -> dict[str, float]:
    """Throughput through LLMExtractor.extract, in engine-sized batches, on a fresh cache."""
    with tempfile.TemporaryDirectory() as cache:
        config = ExtractConfig(
            extractor="llm",
            model="bench",
            base_url=url,
            concurrency=concurrency,
            response_format="json_schema",
            llm_cache_dir=cache,
            timeout_s=30,
        )
        ex = LLMExtractor(config)
        ex.load()
        ex.extract(unique(convs[:1], 1))  # warm up: connection, SDK import paths
        server_steady(url)  # clear the server's arrival log
        done: list[float] = []  # when each answer arrived (the extractor stores every fresh answer once)
        store = ex._store
        ex._store = lambda job, out: (done.append(time.perf_counter()), store(job, out))[1]  # type: ignore[method-assign]
        started, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu_s(server_pid)
        results = []
        for i in range(0, len(convs), ex.batch_size):
            results += ex.extract(convs[i : i + ex.batch_size])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        server_cpu = _cpu_s(server_pid) - server_cpu
        ex.close()
    failed = sum(r.error is not None for r in results)
    if failed:
        raise SystemExit(f"{failed} requests failed; the benchmark needs a clean run")
    # steady state: answers between the 10th and 90th percentile of arrival times (no ramp-up, no final drain;
    # batch boundaries inside the window still count)
    lo, hi = len(done) // 10, len(done) * 9 // 10
    steady = (hi - lo) / (done[hi] - done[lo]) if len(done) >= 20 and done[hi] > done[lo] else float("nan")
    return {
        "rps": len(convs) / elapsed,
        "steady_rps": steady,
        "server_steady_rps": server_steady(url),
        "elapsed": elapsed,
        "cpu_ms": cpu / len(convs) * 1000,
        "server_cpu_ms": server_cpu / len(convs) * 1000,
        "batch_size": ex.batch_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=64, help="requests per level = rounds x concurrency (min 10)")
    ap.add_argument("--concurrency", default="1,16,64", help="comma-separated levels of requests in flight")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument(
        "--server",
        choices=("lean", "fake"),
        default="lean",
        help="lean: latency_server.py (asyncio, pre-serialised answers); fake: the scriptable test server",
    )
    ap.add_argument("--processes", type=int, default=1, help="> 1: through the engine with llm_processes = N")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]

    base = real_conversations(400)
    module = "latency_server" if args.server == "lean" else "fake_server"
    rows = []
    with server_process(module, args.latency) as (url, server):
        load_before = os.getloadavg()
        for c in levels:
            convs = unique(base, max(10, args.rounds * c))
            if args.processes > 1 and c >= args.processes:
                rows.append((c, measure_engine(url, convs, c, args.processes)))
            else:
                rows.append((c, measure(url, convs, c, server.pid)))
        load_after = os.getloadavg()

    ex = LLMExtractor(ExtractConfig(extractor="llm", model="bench", llm_cache_dir=tempfile.mkdtemp()))
    est = ex.estimate(base)
    per_conv = [estimate_tokens(ex._job(c, "full").system) + estimate_tokens(ex._job(c, "full").user) for c in base]
    schema_tokens = estimate_tokens(json.dumps(answer_schema()))
    print(
        f"{'lean latency server' if args.server == 'lean' else 'uvicorn test server'}, latency {args.latency * 1000:.0f} ms, "
        f"{args.rounds} rounds per level, {args.processes} process(es)"
    )
    for c, r in rows:
        ideal = c / args.latency
        print(
            f"{c:3d} in flight: {r['rps']:7.1f} req/s  ideal {ideal:6.1f}  ratio {r['rps'] / ideal:.3f}"
            f"  (steady state {r['steady_rps'] / ideal:.3f}, server-side {r['server_steady_rps'] / ideal:.3f})"
            f"  ({round(r['rps'] * r['elapsed'])} requests in {r['elapsed']:.2f} s, batches of {r['batch_size']};"
            f" client CPU {r['cpu_ms']:.2f} ms/request, server {r['server_cpu_ms']:.2f})"
        )
    print(
        f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
        f"after {'/'.join(f'{x:.2f}' for x in load_after)}, on {os.cpu_count()} cores"
    )
    print(
        f"prompt tokens per conversation (chars/4, {len(base)} real conversations): "
        f"mean {statistics.mean(per_conv):.0f}, median {statistics.median(per_conv):.0f}, max {max(per_conv)}"
        f"; + ~{schema_tokens} for the JSON schema when the provider counts it; dry-run estimate "
        f"{est['input_tokens'] / len(base):.0f}/conversation"
    )


if __name__ == "__main__":
    main()
