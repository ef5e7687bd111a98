"""Evidence that a value string belongs to a level-1 cluster of a tree.

For every (value, l1 cluster) pair we compute a handful of similarity
features; ``place_stack.py`` adds the second encoder, tree-level votes and
level classifiers, and the ranker in ``place.py`` weighs them all. Using
all l1 clusters as candidates keeps the model honest (no candidate filter to
tune) and costs ~266 x 12 floats per value, computed in chunks.

Features, all from the tree alone (names, descriptions, frequencies):
  knn      similarity-weighted votes of the value's 10 nearest leaves
  max      best cosine similarity to one of the cluster's leaves
  top3     mean of the cluster's 3 best leaf similarities
  centroid similarity to the frequency-weighted mean of the cluster's leaves
  desc1..3 similarity to the "name: description" of the l1 cluster and its l2 / l3 parents
  lex_max  best character n-gram TF-IDF similarity to a leaf (shared word stems)
  lex_doc  TF-IDF similarity to all of the cluster's leaf names together
  prior    log share of occurrences of the cluster
  rank     1 for the cluster of the nearest leaf
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as sk_normalize

from valuescope.taxonomy.reference import Tree
from valuescope.taxonomy.vectors import TextVectors, node_text

FEATURES = ("knn", "max", "top3", "centroid", "desc1", "desc2", "desc3", "lex_max", "lex_doc", "prior", "rank")
K_NEIGHBOURS = 10
KNN_TEMPERATURE = 0.05


@dataclass
class TreeIndex:
    """Everything placement needs from one tree, computed once."""

    tree: Tree
    l1_ids: list[str]
    leaf_names: list[str]
    leaf_l1: np.ndarray  # (n_leaf,) index into l1_ids
    leaf_vecs: np.ndarray  # (n_leaf, d), ordered by l1 so per-cluster reductions are contiguous
    starts: np.ndarray  # (n_l1,) first leaf of each l1 block
    centroids: np.ndarray  # (n_l1, d)
    desc: np.ndarray  # (3, n_l1, d) description vectors of l1 and its l2, l3 ancestors
    prior: np.ndarray  # (n_l1,)
    lex: TfidfVectorizer
    lex_leaves: sparse.csr_matrix
    lex_docs: sparse.csr_matrix
    l1_of_l2: dict[str, np.ndarray]  # l2 name -> indices of its l1 clusters

    @classmethod
    def build(cls, tree: Tree, vectors: TextVectors) -> TreeIndex:
        l1_nodes = [n for n in tree.at_level(1) if tree.children.get(n.cluster_id)]
        if not l1_nodes:
            raise ValueError("tree has no level-1 cluster with leaves; cannot place values")
        l1_ids = [n.cluster_id for n in l1_nodes]
        names, owner = [], []
        for i, cid in enumerate(l1_ids):
            for child in tree.children[cid]:
                if tree.nodes[child].level == 0:
                    names.append(tree.nodes[child].name)
                    owner.append(i)
        leaf_l1 = np.array(owner)
        starts = np.searchsorted(leaf_l1, np.arange(len(l1_ids)))
        vecs = vectors(names)
        freq = np.array(
            [
                max(tree.frequencies.get(n, tree.nodes[n].pct_total_occurrences if n in tree.nodes else 0), 1e-3)
                for n in names
            ]
        )
        centroids = np.add.reduceat(vecs * np.sqrt(freq)[:, None], starts, axis=0)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        paths = [tree.path(cid) for cid in l1_ids]
        desc_texts = [[node_text(tree, p[min(lvl, len(p) - 1)].cluster_id) for p in paths] for lvl in range(3)]
        desc = np.stack([vectors(t) for t in desc_texts])
        total = sum(max(tree.nodes[c].pct_total_occurrences, 0) for c in l1_ids) or 1.0
        prior = np.log(np.array([max(tree.nodes[c].pct_total_occurrences, 1e-3) / total for c in l1_ids]))
        lex = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)
        lex_leaves = lex.fit_transform(names)
        ind = sparse.csr_matrix(
            (np.ones(len(names)), (leaf_l1, np.arange(len(names)))), shape=(len(l1_ids), len(names))
        )
        lex_docs = sk_normalize(ind @ lex_leaves)
        l1_of_l2: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            if len(p) > 1:
                l1_of_l2.setdefault(p[1].name, []).append(i)
        return cls(
            tree=tree,
            l1_ids=l1_ids,
            leaf_names=names,
            leaf_l1=leaf_l1,
            leaf_vecs=vecs,
            starts=starts,
            centroids=centroids,
            desc=desc,
            prior=prior,
            lex=lex,
            lex_leaves=lex_leaves.tocsr(),
            lex_docs=lex_docs.tocsr(),
            l1_of_l2={k: np.array(v) for k, v in l1_of_l2.items()},
        )

    def features(self, texts: list[str], vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, n_l1, n_features) features, nearest-leaf similarity (n,), nearest leaf per l1 (n, n_l1)."""
        n, m = len(texts), len(self.l1_ids)
        sims = vecs @ self.leaf_vecs.T  # (n, n_leaf)
        k = min(K_NEIGHBOURS, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        weights = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / KNN_TEMPERATURE)
        knn = np.zeros((n, m))
        np.add.at(knn, (np.repeat(np.arange(n), k), self.leaf_l1[top].ravel()), weights.ravel())
        knn /= knn.sum(axis=1, keepdims=True)
        best = np.maximum.reduceat(sims, self.starts, axis=1)
        argbest = _argmax_blocks(sims, self.starts)
        top3 = _top3_blocks(sims, self.starts)
        centroid = vecs @ self.centroids.T
        desc = np.einsum("nd,lmd->lnm", vecs, self.desc)
        q_lex = self.lex.transform(texts)
        lex_leaf = (q_lex @ self.lex_leaves.T).toarray()
        lex_max = np.maximum.reduceat(lex_leaf, self.starts, axis=1)
        lex_doc = (q_lex @ self.lex_docs.T).toarray()
        rank = (best >= best.max(axis=1, keepdims=True) - 1e-9).astype(float)
        feats = np.stack(
            [
                knn,
                best,
                top3,
                centroid,
                desc[0],
                desc[1],
                desc[2],
                lex_max,
                lex_doc,
                np.broadcast_to(self.prior, (n, m)),
                rank,
            ],
            axis=2,
        )
        return feats.astype(np.float32), sims.max(axis=1), argbest


def _argmax_blocks(sims: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index (into leaves) of the most similar leaf of every l1 block."""
    ends = np.append(starts[1:], sims.shape[1])
    out = np.empty((sims.shape[0], len(starts)), dtype=np.int64)
    for j, (s, e) in enumerate(zip(starts, ends, strict=True)):
        out[:, j] = s + sims[:, s:e].argmax(axis=1)
    return out


def _top3_blocks(sims: np.ndarray, starts: np.ndarray) -> np.ndarray:
    ends = np.append(starts[1:], sims.shape[1])
    out = np.empty((sims.shape[0], len(starts)))
    for j, (s, e) in enumerate(zip(starts, ends, strict=True)):
        block = sims[:, s:e]
        kk = min(3, block.shape[1])
        out[:, j] = -np.sort(-block, axis=1)[:, :kk].mean(axis=1) if kk > 1 else block[:, 0]
    return out
