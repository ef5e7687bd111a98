"""Reconstruction: rebuild a 4-level hierarchy from the 3,307 published values.

Clusters the values (weighted by pct_convos) with the level sizes of the
published tree (266 / 26 / 5) and reports NMI of each discovered level against
the published l1 / l2 / l3 labels, next to the k-means-per-level baseline.

    .venv/bin/python benchmarks/taxonomy_reconstruct.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

from valuescope.taxonomy.discover import build_hierarchy
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="minilm")
    args = ap.parse_args()
    tree = published_tree()
    values = [n.name for n in tree.leaves]
    truth = [[p.name for p in tree.path(v)[1:4]] for v in values]
    weights = np.array([tree.frequencies.get(v, 0.001) for v in values]) * 3082.1  # pct of 308,210 convos -> counts
    vecs = TextVectors(args.embedder)(values)
    sizes = [len(tree.at_level(i)) for i in (1, 2, 3)]
    t0 = time.perf_counter()
    base = []
    for i, k in enumerate(sizes):
        labels = KMeans(k, random_state=0, n_init=1).fit_predict(vecs)
        base.append(nmi([t[i] for t in truth], labels))
    print(f"baseline k-means per level (sizes {sizes}): NMI l1 %.3f l2 %.3f l3 %.3f" % tuple(base))
    h = build_hierarchy(values, weights, vecs, sizes=sizes)
    ours = [nmi([t[i] for t in truth], c) for i, c in enumerate(h.value_clusters())]
    print("valuescope offline hierarchy:           NMI l1 %.3f l2 %.3f l3 %.3f" % tuple(ours))
    print(f"seconds {time.perf_counter() - t0:.1f}")
    print("top categories:", [n for n in h.levels[-1].names])


if __name__ == "__main__":
    main()
