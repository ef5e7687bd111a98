"""Reconstruction: rebuild a 4-level hierarchy from the 3,307 published values.

Clusters the values (weighted by pct_convos) with the level sizes of the
published tree (266 / 26 / 5) and reports NMI of each discovered level against
the published l1 / l2 / l3 labels, next to the k-means-per-level baseline.

With ``--llm-base-url URL --llm-model NAME`` (an OpenAI-compatible server) it
also rebuilds the levels above the same offline base clusters Clio-style
(``clio_hierarchy.ClioRestructurer``) and reports that hierarchy's NMI, the
LLM calls and fallbacks per step, and the wall time. The base clusters keep
their offline names (naming 266 clusters with a local model is not needed for
NMI); ``--llm-levels 1`` restructures only the level above the base.

    .venv/bin/python benchmarks/taxonomy_reconstruct.py [--orders 0,1,2]
    .venv/bin/python benchmarks/taxonomy_reconstruct.py --llm-base-url http://127.0.0.1:8791/v1 --llm-model smollm2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

from valuescope.taxonomy.discover import (
    Hierarchy,
    _compact,
    _kmeans,
    build_hierarchy,
    log_weights,
    offline_partitions,
    split_within,
    vote_parents,
)
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors


def bottom_up(vecs: np.ndarray, w: np.ndarray, sizes: list[int], seed: int) -> list[np.ndarray]:
    """The previous order: flat k-means per level, each lower cluster joining the upper one holding most of its weight."""
    out = [_kmeans(vecs, w, sizes[0], seed)]
    for k in sizes[1:]:
        out.append(_compact(vote_parents(out[-1], _kmeans(vecs, w, k, seed), w)[out[-1]]))
    return out


def top_down(vecs: np.ndarray, w: np.ndarray, sizes: list[int], seed: int) -> list[np.ndarray]:
    """Every level split inside its parents, from a flat top level down to the base."""
    out = [_kmeans(vecs, w, sizes[-1], seed)]
    for k in reversed(sizes[:-1]):
        out.insert(0, split_within(vecs, w, out[0], k, seed))
    return out


def compare_orders(vecs, weights, sizes, truth, seeds: list[int]) -> dict[str, list[float]]:
    """Mean NMI over seeds of the shipped hybrid order and the two pure orders (all strict trees)."""
    w = log_weights(weights)
    orders = {"hybrid (shipped)": offline_partitions, "bottom-up by vote": bottom_up, "top-down": top_down}
    means = {}
    for name, build in orders.items():
        scores = [[nmi([t[i] for t in truth], p) for i, p in enumerate(build(vecs, w, sizes, seed))] for seed in seeds]
        means[name] = np.mean(scores, axis=0).tolist()
        print(
            f"  {name:<20} mean of seeds {seeds}: NMI l1 {means[name][0]:.3f} l2 {means[name][1]:.3f} l3 {means[name][2]:.3f}"
        )
    return means


def llm_restructure(args: argparse.Namespace, h: Hierarchy, sizes: list[int], vectors: TextVectors, vecs: np.ndarray):
    from valuescope.extract.config import ExtractConfig
    from valuescope.extract.llm.backends import get_backend
    from valuescope.taxonomy.clio import LLMNamer
    from valuescope.taxonomy.clio_hierarchy import ClioRestructurer

    offline = offline_partitions(vecs, log_weights(h.weights), sizes, seed=0)
    if args.llm_down:  # every call fails: shows the floor (the offline levels, by the fallback-share rule)

        def down(system, user, schema):
            raise ConnectionError("endpoint down (--llm-down)")

        clio = ClioRestructurer(down, vectors, namer=LLMNamer(down), seed=0)
        base = Hierarchy(values=h.values, weights=h.weights, levels=[h.levels[0]])
        return clio.extend(base, sizes[1 : 1 + args.llm_levels], offline=offline), clio

    backend = get_backend(
        ExtractConfig(
            backend="openai",
            model=args.llm_model,
            base_url=args.llm_base_url,
            timeout_s=args.llm_timeout,
            max_retries=1,
            max_output_tokens=args.llm_max_output_tokens,
        )
    )

    # a choice list needs a few tokens per child; a small model that loops ("1, 2, 3, ...") otherwise burns the
    # whole output budget twice (answer + repair) per assignment call
    short = get_backend(
        ExtractConfig(
            backend="openai",
            model=args.llm_model,
            base_url=args.llm_base_url,
            timeout_s=args.llm_timeout,
            max_retries=1,
            max_output_tokens=8 * args.llm_batch + 32,
        )
    )
    log = open(args.llm_log, "w", encoding="utf-8") if args.llm_log else None  # noqa: SIM115 - closed at exit

    def complete_json(system, user, schema):
        try:
            answer = (short if "choices" in schema["properties"] else backend).complete_json(
                system, user, schema, "taxonomy_answer"
            )
        except Exception as exc:
            if log:
                log.write(json.dumps({"prompt": user[-300:], "error": str(exc)[:300]}) + "\n")
            raise
        if log:
            log.write(json.dumps({"prompt": user[-300:], "answer": answer}) + "\n")
            log.flush()
        return answer

    clio = ClioRestructurer(
        complete_json,
        vectors,
        namer=LLMNamer(complete_json, members=args.llm_members, contrast=8),
        neighbourhood=args.llm_neighbourhood,
        batch=args.llm_batch,
        seed=0,
    )
    base = Hierarchy(values=h.values, weights=h.weights, levels=[h.levels[0]])
    return clio.extend(base, sizes[1 : 1 + args.llm_levels], offline=offline), clio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm-base-url", help="OpenAI-compatible server: also run the Clio restructuring")
    ap.add_argument("--llm-model")
    ap.add_argument("--llm-down", action="store_true", help="run the Clio restructuring with every LLM call failing")
    ap.add_argument("--llm-levels", type=int, default=2, help="levels above the base to restructure (1 or 2)")
    ap.add_argument("--llm-neighbourhood", type=int, default=40, help="children per neighbourhood")
    ap.add_argument("--llm-batch", type=int, default=8, help="children per assignment call")
    ap.add_argument("--llm-members", type=int, default=15, help="children shown when renaming a parent")
    ap.add_argument("--llm-timeout", type=float, default=600.0)
    ap.add_argument("--llm-max-output-tokens", type=int, default=256, help="for propose/dedupe/rename calls")
    ap.add_argument("--llm-log", help="write every LLM prompt tail and answer (JSON lines) to this file")
    ap.add_argument(
        "--orders", default="", help="comma-separated seeds: also compare level orders over them, e.g. 0,1,2"
    )
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args()
    tree = published_tree()
    values = [n.name for n in tree.leaves]
    truth = [[p.name for p in tree.path(v)[1:4]] for v in values]
    weights = np.array([tree.frequencies.get(v, 0.001) for v in values]) * 3082.1  # pct of 308,210 convos -> counts
    vectors = TextVectors(args.embedder)
    vecs = vectors(values)
    sizes = [len(tree.at_level(i)) for i in (1, 2, 3)]
    t0 = time.perf_counter()
    base = []
    for i, k in enumerate(sizes):
        labels = KMeans(k, random_state=0, n_init=1).fit_predict(vecs)
        base.append(nmi([t[i] for t in truth], labels))
    print(f"baseline k-means per level (sizes {sizes}): NMI l1 %.3f l2 %.3f l3 %.3f" % tuple(base))
    h = build_hierarchy(values, weights, vecs, sizes=sizes)
    ours = [nmi([t[i] for t in truth], c) for i, c in enumerate(h.value_clusters())]
    print("valuescope offline hierarchy:           NMI l1 {:.3f} l2 {:.3f} l3 {:.3f}".format(*ours))
    print(f"seconds {time.perf_counter() - t0:.1f}")
    print("top categories:", [n for n in h.levels[-1].names])
    report = {"sizes": sizes, "baseline": base, "offline": ours}
    if args.orders:
        print("level orders:")
        report["orders"] = compare_orders(vecs, weights, sizes, truth, [int(x) for x in args.orders.split(",")])
    if args.llm_base_url or args.llm_down:
        args.llm_model = "down" if args.llm_down else args.llm_model
        if not args.llm_model:
            ap.error("--llm-base-url needs --llm-model")
        t1 = time.perf_counter()
        h2, clio = llm_restructure(args, h, sizes, vectors, vecs)
        seconds = time.perf_counter() - t1
        llm = [nmi([t[i] for t in truth], c) for i, c in enumerate(h2.value_clusters())]
        shown = " ".join(f"l{i + 1} {x:.3f}" for i, x in enumerate(llm))
        print(f"Clio restructuring ({args.llm_model}, same base clusters): NMI {shown}")
        print("clusters per level:", [len(lv.names) for lv in h2.levels])
        print("llm stats:", json.dumps(clio.stats.summary()))
        print(f"llm wall seconds {seconds:.1f}")
        print("top categories:", [n for n in h2.levels[-1].names])
        report.update(
            llm=llm,
            llm_model=args.llm_model,
            llm_levels=args.llm_levels,
            llm_clusters=[len(lv.names) for lv in h2.levels],
            llm_stats=clio.stats.summary(),
            llm_seconds=round(seconds, 1),
            llm_top=h2.levels[-1].names,
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
