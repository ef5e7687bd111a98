"""LLM extractor throughput against a fake OpenAI-compatible server with fixed latency.

Prints requests/s achieved vs the ideal (concurrency / latency) — the target is
a ratio >= 0.9 at 64 in flight — with an in-run baseline at concurrency 1, and
the prompt tokens per conversation on real conversations (characters / 4).

    .venv/bin/python benchmarks/llm_throughput.py [--n 1280] [--concurrency 64] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.extractor import LLMExtractor
from valuescope.extract.llm.fake_server import free_port
from valuescope.extract.llm.schema import answer_schema
from valuescope.extract.llm.window import estimate_tokens
from valuescope.records import Conversation, Message

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


def measure(url: str, convs: list[Conversation], concurrency: int) -> tuple[float, float, float]:
    """(requests/s, seconds, client CPU ms per request)."""
    with tempfile.TemporaryDirectory() as cache:
        config = ExtractConfig(extractor="llm", model="bench", base_url=url, concurrency=concurrency,
                               response_format="json_schema", llm_cache_dir=cache, timeout_s=30)
        ex = LLMExtractor(config)
        ex.load()
        ex.extract(unique(convs[:1], 1))  # warm up: connection, SDK import paths
        started, cpu = time.perf_counter(), time.process_time()
        results = ex.extract(convs)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        ex.close()
    failed = sum(r.error is not None for r in results)
    if failed:
        raise SystemExit(f"{failed} requests failed; the benchmark needs a clean run")
    return len(convs) / elapsed, elapsed, cpu / len(convs) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1280, help="requests at full concurrency")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    args = ap.parse_args()

    base = real_conversations(400)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "valuescope.extract.llm.fake_server", "--port", str(port),
                               "--latency", str(args.latency)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/models", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        baseline_rps, _, _ = measure(url, unique(base, 10), 1)
        rps, elapsed, cpu_ms = measure(url, unique(base, args.n), args.concurrency)
    finally:
        server.terminate()
        server.wait(10)

    ideal = args.concurrency / args.latency
    ideal1 = 1 / args.latency
    ex = LLMExtractor(ExtractConfig(extractor="llm", model="bench", llm_cache_dir=tempfile.mkdtemp()))
    est = ex.estimate(base)
    per_conv = [estimate_tokens(ex._job(c, "full").system) + estimate_tokens(ex._job(c, "full").user) for c in base]
    schema_tokens = estimate_tokens(json.dumps(answer_schema()))
    print(f"fake server latency {args.latency * 1000:.0f} ms, {args.n} requests, {args.concurrency} in flight")
    print(f"baseline (1 in flight):  {baseline_rps:7.1f} req/s  ideal {ideal1:6.1f}  ratio {baseline_rps / ideal1:.3f}")
    print(f"achieved ({args.concurrency} in flight): {rps:7.1f} req/s  ideal {ideal:6.1f}  ratio {rps / ideal:.3f}"
          f"  ({elapsed:.2f} s, client CPU {cpu_ms:.2f} ms/request)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"prompt tokens per conversation (chars/4, {len(base)} real conversations): "
          f"mean {statistics.mean(per_conv):.0f}, median {statistics.median(per_conv):.0f}, max {max(per_conv)}"
          f"; + ~{schema_tokens} for the JSON schema when the provider counts it; dry-run estimate "
          f"{est['input_tokens'] / len(base):.0f}/conversation")


if __name__ == "__main__":
    main()
