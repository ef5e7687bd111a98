"""How consistent the published tree is with itself, for leaves whose names are (nearly) the same.

Why: placement of unseen values is judged against the published l1/l2/l3 of
held-out leaves. When two published leaves are spelling variants of one value
("well-being" / "wellbeing") or embed almost identically, a placer that reads
only the name cannot tell them apart, so how often such pairs share a cluster
bounds how well any name-only placer can agree with the tree on them. Prints,
for normalisation variant groups (``normalize.canonical_map``) and for leaf
pairs above a MiniLM cosine threshold, the share that agree at l1 / l2 / l3.

    .venv/bin/python benchmarks/taxonomy_label_consistency.py
"""

from __future__ import annotations

import numpy as np

from valuescope.taxonomy.normalize import canonical_map
from valuescope.taxonomy.reference import published_tree
from valuescope.taxonomy.vectors import TextVectors


def agreement(paths: list[list[list[str]]]) -> np.ndarray:
    """Share of groups whose members all share the l1 / l2 / l3 cluster."""
    return np.mean([[len({p[k] for p in group}) == 1 for k in range(3)] for group in paths], axis=0)


def main() -> None:
    tree = published_tree()
    leaves = [n.name for n in tree.leaves]
    path = {v: [p.name for p in tree.path(v)[1:4]] for v in leaves}
    canonical = canonical_map(leaves)
    groups: dict[str, list[str]] = {}
    for v in leaves:
        groups.setdefault(canonical[v], []).append(v)
    variants = [g for g in groups.values() if len(g) > 1]
    a = agreement([[path[v] for v in g] for g in variants])
    print(f"spelling/variant groups ({len(variants)}): agree at l1 {a[0]:.3f}  l2 {a[1]:.3f}  l3 {a[2]:.3f}")
    vecs = TextVectors("minilm")(leaves)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -1.0)
    for threshold in (0.95, 0.90, 0.85):
        i, j = np.nonzero(np.triu(sims > threshold))
        a = agreement([[path[leaves[x]], path[leaves[y]]] for x, y in zip(i, j, strict=True)])
        print(
            f"leaf pairs with cosine > {threshold:.2f} ({len(i)}): agree at l1 {a[0]:.3f}  l2 {a[1]:.3f}  l3 {a[2]:.3f}"
        )


if __name__ == "__main__":
    main()
