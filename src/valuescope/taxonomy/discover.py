"""Discovery: a fresh hierarchy over a run's own values.

Every level clusters the value embeddings with k-means weighted by log frequency
(MiniBatchKMeans above 20k values, which keeps 100k values tractable on two
cores); a higher level keeps the hierarchy strict by sending each lower
cluster to the level's flat cluster that holds most of its weight (this beat
clustering centroids-of-centroids on the reconstruction benchmark). Level sizes default to a geometric schedule from the
number of distinct values down to 5 top categories (the study: 3,307 -> 266
-> 26 -> 5); small runs get fewer levels and clusters instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans, MiniBatchKMeans

from valuescope.taxonomy.naming import Namer, OfflineNamer

TOP = 5
LEVELS = 3
MINIBATCH_ABOVE = 20_000


def level_sizes(n: int, levels: int = LEVELS, top: int = TOP, sizes: list[int] | None = None) -> list[int]:
    """Clusters per level, bottom-up; each level at least halves the one below; at least one level."""
    if n <= 0:
        return []
    if sizes:
        if any(s < 1 for s in sizes):
            raise ValueError(f"level sizes must be positive, got {sizes}")
        wanted = list(sizes)
    else:
        top = min(top, max(1, n // 4))
        ratio = (n / top) ** (1 / levels) if n > top else 1.0
        wanted = [max(1, round(n / ratio**i)) for i in range(1, levels + 1)]
        wanted[-1] = top
    out: list[int] = []
    below = n
    for k in wanted:
        k = min(k, below)
        if out and k * 2 > below and not sizes:
            break
        out.append(k)
        below = k
    return out or [min(n, 1)]


@dataclass
class Level:
    parent: np.ndarray  # (n_below,) cluster index of each item of the level below
    names: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    weights: np.ndarray | None = None  # total weight per cluster
    centroids: np.ndarray | None = None


@dataclass
class Hierarchy:
    values: list[str]
    weights: np.ndarray
    levels: list[Level]  # levels[0] groups values, levels[1] groups levels[0] clusters, ...
    llm_stats: dict[str, float] = field(default_factory=dict)  # Clio calls and fallbacks, when an LLM restructured it

    def value_clusters(self) -> list[np.ndarray]:
        """Cluster index of every value at each level."""
        out, current = [], np.arange(len(self.values))
        for level in self.levels:
            current = level.parent[current]
            out.append(current)
        return out


def _kmeans(x: np.ndarray, w: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Weighted k-means labels, renumbered 0..m-1."""
    if k <= 1 or len(x) <= 1:
        return np.zeros(len(x), dtype=np.int64)
    # k-means++ seeding costs O(n k) distance passes and dominated run time at k in the hundreds
    # (minutes on two cores); random seeding with a few restarts is far faster at similar NMI.
    init = "random" if k > 50 else "k-means++"
    if len(x) > MINIBATCH_ABOVE:
        km = MiniBatchKMeans(k, init=init, random_state=seed, batch_size=4096, n_init=3, max_no_improvement=20)
    else:
        km = KMeans(k, init=init, random_state=seed, n_init=3)
    return _compact(km.fit_predict(x, sample_weight=w))


def _centroids(x: np.ndarray, w: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Weighted, normalised cluster means in one sparse product (O(n), not O(n k))."""
    member = sparse.csr_matrix((w, (labels, np.arange(len(labels)))), shape=(n, len(labels)))
    return _normed(np.asarray(member @ x))


def _compact(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..m-1 (k-means can leave clusters empty)."""
    _, inv = np.unique(labels, return_inverse=True)
    return inv.astype(np.int64)


def _normed(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def build_hierarchy(
    values: list[str],
    weights: np.ndarray,
    vecs: np.ndarray,
    sizes: list[int] | None = None,
    namer: Namer | None = None,
    seed: int = 0,
    restructurer: Any = None,
) -> Hierarchy:
    """Cluster values bottom-up and name every cluster.

    With a ``restructurer`` (``clio_hierarchy.ClioRestructurer``), only the base
    level is k-means; the levels above come from its ``extend(h, sizes)``.
    """
    if len(values) != len(vecs) or len(values) != len(weights):
        raise ValueError("values, weights and vectors must have the same length")
    namer = namer or OfflineNamer()
    w = np.log1p(np.maximum(np.asarray(weights, dtype=float), 0.0)) + 1e-3
    schedule = level_sizes(len(values), sizes=sizes)
    if restructurer is not None and len(schedule) > 1:
        base = build_hierarchy(values, weights, vecs, sizes=schedule[:1], namer=namer, seed=seed)
        return restructurer.extend(base, schedule[1:])
    levels: list[Level] = []
    below = np.arange(len(values))  # cluster of each value at the level below (values themselves first)
    x, xw, member_names = vecs, w, list(values)
    for depth, k in enumerate(schedule, start=1):
        flat = _kmeans(vecs, w, k, seed)
        if depth == 1:
            labels = flat
        else:  # each lower cluster joins the flat cluster holding most of its weight
            n_below = int(below.max()) + 1
            votes = np.zeros((n_below, int(flat.max()) + 1))
            np.add.at(votes, (below, flat), w)
            labels = _compact(votes.argmax(axis=1))
        n = int(labels.max()) + 1
        cw = np.bincount(labels, weights=xw, minlength=n)
        cents = _centroids(x, xw, labels, n)
        order = np.argsort(labels, kind="stable")
        groups = np.split(order, np.cumsum(np.bincount(labels, minlength=n))[:-1])
        named = namer.name_level(
            depth, [[member_names[i] for i in g] for g in groups], [xw[g] for g in groups], [x[g] for g in groups], cents
        )
        levels.append(Level(parent=labels, names=[a for a, _ in named], descriptions=[b for _, b in named],
                            weights=cw, centroids=cents))
        below = labels[below]
        x, xw, member_names = cents, cw, levels[-1].names
    return Hierarchy(values=list(values), weights=np.asarray(weights, dtype=float), levels=levels)
