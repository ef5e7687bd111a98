"""Offline extractor throughput: end to end vs the same model's embedding-only ceiling.

    .venv/bin/python benchmarks/offline_throughput.py --shared ../shared --n 2000 [--workers 1 --threads 2] [--corpora sharegpt]

Takes N real conversations spread evenly over the chosen shared corpora (default:
ShareGPT, ordinary traffic with long answers; ``--corpora all`` = the five), runs
OfflineExtractor.extract in engine-sized batches (``--workers 2`` = two
processes, each with its own model, like the local engine), then embeds
exactly the same view texts with the same embedders (the ceiling: no
features, heads or value naming). Prints conversations/s for both, their
ratio (target >= 0.8), peak RSS, and how many conversations got a judgment.
On a shared, loaded machine the wall-clock ratio also measures how the load
moved between the two phases, so the CPU seconds of each phase (user + system,
workers included) and their ratio are printed too: the work done, whatever the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # training/ lives next to src/, outside the package


def sample(shared: Path, n: int, corpora: tuple[str, ...]) -> list:
    from training.offline.data import read_corpus

    pools = [read_corpus(shared / "data" / "conversations" / f"{c}.jsonl") for c in corpora]
    total = sum(len(p) for p in pools)
    out = []
    for p in pools:  # proportional, evenly strided: deterministic
        k = max(1, round(n * len(p) / total))
        out.extend(p[:: max(1, len(p) // k)][:k])
    return out[:n]


def _run_chunk(args: tuple[list, int]) -> tuple[int, int]:
    convs, threads = args
    from valuescope.embed.base import set_threads
    from valuescope.extract.config import ExtractConfig
    from valuescope.extract.offline.extractor import OfflineExtractor

    set_threads(threads)  # what the API does with RunConfig.threads ($VALUESCOPE_THREADS)
    ex = OfflineExtractor(ExtractConfig())
    ex.load()
    ok = errors = 0
    for i in range(0, len(convs), ex.batch_size):
        for r in ex.extract(convs[i : i + ex.batch_size]):
            ok += r.judgment is not None
            errors += r.error is not None
    return ok, errors


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children (the workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def end_to_end(convs: list, workers: int, threads: int) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, judged, errors) of the extractor on ``convs``."""
    t, c = time.perf_counter(), cpu_seconds()
    if workers == 1:
        ok, err = _run_chunk((convs, threads))
    else:
        chunks = [convs[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            res = list(pool.map(_run_chunk, [(c, threads) for c in chunks]))
        ok, err = sum(r[0] for r in res), sum(r[1] for r in res)
    return time.perf_counter() - t, cpu_seconds() - c, ok, err


def ceiling(convs: list, threads: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of embedding the same views with the same embedders."""
    from valuescope.extract.offline import bundle as B
    from valuescope.extract.offline import features as F

    embs = B.view_embedders(B.load().meta["embedder"], threads=threads)
    t, c = time.perf_counter(), cpu_seconds()
    for i in range(0, len(convs), 64):
        F.embed_views(convs[i : i + 64], embs)
    return time.perf_counter() - t, cpu_seconds() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="embedding threads per worker")
    ap.add_argument("--skip-ceiling", action="store_true")
    ap.add_argument("--corpora", default="sharegpt", help="comma-separated shared corpus names, or 'all'")
    args = ap.parse_args()
    from training.offline.data import CORPORA

    corpora = CORPORA if args.corpora == "all" else tuple(args.corpora.split(","))
    convs = sample(args.shared, args.n, corpora)
    secs, cpu, ok, err = end_to_end(convs, args.workers, args.threads)
    out = {
        "n": len(convs),
        "corpora": list(corpora),
        "workers": args.workers,
        "threads": args.threads,
        "judged": ok,
        "errors": err,
        "end_to_end_conv_per_s": round(len(convs) / secs, 3),
        "end_to_end_s": round(secs, 1),
        "end_to_end_cpu_s": round(cpu, 1),
        "load_avg_1m_after_extract": round(os.getloadavg()[0], 1),
    }
    if not args.skip_ceiling:
        csecs, ccpu = ceiling(convs, args.threads * args.workers)
        out["embedding_only_conv_per_s"] = round(len(convs) / csecs, 3)
        out["embedding_only_cpu_s"] = round(ccpu, 1)
        out["ratio_to_ceiling"] = round(csecs / secs, 3)
        out["cpu_ratio_to_ceiling"] = round(ccpu / cpu, 3)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["peak_rss_mb"] = {"main": round(rss[0] / 1024), "largest_worker": round(rss[1] / 1024)}
    out["load_avg_1m"] = round(os.getloadavg()[0], 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
