"""Placement of unseen values: hold out 20% of the published leaves (seed 0).

The held-out leaves are removed from everything used to fit: the tree index
(centroids, kNN, TF-IDF) and the logistic weights (K-fold on the 80%).
Prints l1/l2/l3 accuracy of the 5-NN baseline and of valuescope's placer.

    .venv/bin/python benchmarks/taxonomy_holdout.py [--embedder minilm]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from valuescope.taxonomy.features import TreeIndex
from valuescope.taxonomy.place import Placer, fit_level_models, fit_model, subtree_without
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors


def knn_baseline(tree, vectors, held, k=5):
    index = TreeIndex.build(tree, vectors)
    sims = vectors(held) @ index.leaf_vecs.T
    top = np.argsort(-sims, axis=1)[:, :k]
    out = []
    for row in top:
        votes = {}
        for leaf in row:
            votes[index.leaf_l1[leaf]] = votes.get(index.leaf_l1[leaf], 0) + 1
        j = max(votes, key=lambda c: (votes[c], -list(index.leaf_l1[row]).index(c)))
        p = tree.path(index.l1_ids[j])
        out.append([p[0].name, p[1].name, p[2].name])
    return out


def accuracy(tree, held, predicted):
    truth = [[n.name for n in tree.path(h)[1:4]] for h in held]
    return [float(np.mean([t[i] == p[i] for t, p in zip(truth, predicted)])) for i in range(3)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    full = published_tree()
    rng = np.random.default_rng(args.seed)
    leaves = sorted(n.name for n in full.leaves)
    held = sorted(rng.choice(leaves, size=round(0.2 * len(leaves)), replace=False).tolist())
    tree = subtree_without(full, set(held))
    vectors = TextVectors(args.embedder)
    t0 = time.perf_counter()
    base = accuracy(full, held, knn_baseline(tree, vectors, held))
    print(f"held out {len(held)} of {len(leaves)} leaves; embedder {vectors.name}")
    print("baseline 5-NN       l1 %.3f  l2 %.3f  l3 %.3f" % tuple(base))
    model = fit_model(tree, vectors)
    placer = Placer(tree, vectors, model=model, levels=fit_level_models(tree, vectors), new_threshold=-1.0)
    rows = placer.place_distinct(held, [None] * len(held))
    ours = accuracy(full, held, [[r["l1"], r["l2"], r["l3"]] for r in rows])
    print("valuescope placer   l1 %.3f  l2 %.3f  l3 %.3f" % tuple(ours))
    scores = np.array([r["score"] for r in rows])
    print("nearest-leaf similarity of held-out leaves: p1 %.3f p5 %.3f median %.3f" % tuple(np.percentile(scores, [1, 5, 50])))
    print("weights:", dict(zip(__import__("valuescope.taxonomy.features", fromlist=["FEATURES"]).FEATURES, np.round(model.coef, 2))))
    print(f"seconds {time.perf_counter() - t0:.1f}")


if __name__ == "__main__":
    main()
