"""Placement of value strings into a tree in the published schema.

Per distinct normalised value: an exact (normalised) leaf match wins with
score 1. Otherwise a logistic model over similarity features
(``features.py``) gives every level-1 cluster a probability; probabilities
are summed up the tree and the path is decoded top-down (best l3, then the
best l2 inside it, then the best l1 inside that), which is what keeps l2/l3
accurate when several neighbouring l1 clusters split the evidence.

The model's weights are fitted on the tree itself by K-fold over its leaves
(each fold's leaves are placed with a tree that lacks them), so a user's own
tree gets weights fitted to it; for the bundled tree the fitted weights ship
in package data.

``score`` is the cosine similarity to the nearest leaf (1.0 for exact
matches). A value whose score is below ``new_threshold`` is *new*: it keeps
its best-guess l2/l3 (the broad area) but gets no leaf and no l1.

An extractor's ``l2_hint`` multiplies the probability of every l1 under the
hinted l2 by ``hint_strength`` (a likelihood ratio; default 4) before
decoding, so a confident contrary placement can still win.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from valuescope.taxonomy.features import FEATURES, TreeIndex
from valuescope.taxonomy.normalize import canonical_map, leaf_preferences
from valuescope.taxonomy.reference import Tree, load_tree
from valuescope.taxonomy.vectors import TextVectors, tree_sha

DEFAULT_NEW_THRESHOLD = {"minilm-l6-v2-int8": 0.55}
CHUNK = 1024
LEVEL_WEIGHT = 1.0  # a priori equal weight of the l2/l3 classifiers (not tuned on the benchmark)


@dataclass
class PlaceModel:
    coef: np.ndarray
    intercept: float = 0.0
    meta: dict = field(default_factory=dict)

    def logits(self, feats: np.ndarray) -> np.ndarray:
        return feats @ self.coef + self.intercept

    def to_json(self) -> str:
        return json.dumps({"features": list(FEATURES), "coef": self.coef.tolist(), "intercept": self.intercept, **self.meta})

    @classmethod
    def from_json(cls, text: str) -> PlaceModel:
        d = json.loads(text)
        if d.get("features") != list(FEATURES):
            raise ValueError("placement model was fitted on different features")
        return cls(np.array(d["coef"]), d["intercept"], {k: v for k, v in d.items() if k not in {"features", "coef", "intercept"}})


def subtree_without(tree: Tree, leaves: set[str]) -> Tree:
    """A copy of the tree lacking the given leaves (for honest hold-out evaluation)."""
    nodes = {k: v for k, v in tree.nodes.items() if not (v.level == 0 and v.name in leaves)}
    children: dict[str, list[str]] = {}
    for n in nodes.values():
        if n.parent_id:
            children.setdefault(n.parent_id, []).append(n.cluster_id)
    freqs = {k: v for k, v in tree.frequencies.items() if k not in leaves}
    return Tree(nodes=nodes, children=children, frequencies=freqs)


def fit_model(tree: Tree, vectors: TextVectors, folds: int = 5, seed: int = 0) -> PlaceModel:
    """Fit feature weights by K-fold over the tree's own leaves (each fold placed without itself)."""
    leaves = [n.name for n in tree.leaves]
    X, y = [], []
    for _, test in KFold(folds, shuffle=True, random_state=seed).split(leaves):
        held = [leaves[i] for i in test]
        index = TreeIndex.build(subtree_without(tree, set(held)), vectors)
        pos = {cid: i for i, cid in enumerate(index.l1_ids)}
        feats, _, _ = index.features(held, vectors(held))
        for row, name in zip(feats, held, strict=True):
            true = pos.get(tree.path(name)[1].cluster_id)
            if true is None:
                continue
            order = np.argsort(-row[:, 1])[:30]  # hard negatives + the true cluster
            idx = np.unique(np.append(order, true))
            X.append(row[idx])
            y.append(idx == true)
    lr = LogisticRegression(C=1.0, max_iter=2000)
    lr.fit(np.concatenate(X), np.concatenate(y))
    return PlaceModel(lr.coef_[0], float(lr.intercept_[0]), {"tree_sha": tree_sha(tree), "embedder": vectors.name})


@dataclass
class LevelModels:
    """Multinomial logistic regressions on the value embedding for l2 and l3 (fitted on the tree's leaves)."""

    classes: dict[int, np.ndarray]
    coef: dict[int, np.ndarray]
    intercept: dict[int, np.ndarray]
    tree_sha: str = ""

    def proba(self, level: int, vecs: np.ndarray) -> dict[str, np.ndarray] | None:
        if level not in self.coef:
            return None
        z = vecs @ self.coef[level].T + self.intercept[level]
        z = np.exp(z - z.max(axis=1, keepdims=True))
        z /= z.sum(axis=1, keepdims=True)
        return {str(c): z[:, i] for i, c in enumerate(self.classes[level])}

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"tree_sha": np.array(self.tree_sha)}
        for lvl in self.coef:
            arrays |= {f"classes{lvl}": self.classes[lvl].astype(str), f"coef{lvl}": self.coef[lvl], f"intercept{lvl}": self.intercept[lvl]}
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> LevelModels:
        d = np.load(path)
        levels = [int(k[len("coef"):]) for k in d.files if k.startswith("coef")]
        return cls({lv: d[f"classes{lv}"] for lv in levels}, {lv: d[f"coef{lv}"] for lv in levels},
                   {lv: d[f"intercept{lv}"] for lv in levels}, str(d["tree_sha"]))


def fit_level_models(tree: Tree, vectors: TextVectors, C: float = 10.0) -> LevelModels:
    """Fit l2/l3 classifiers on the tree's own leaves (a level with < 2 classes is skipped)."""
    leaves = [n.name for n in tree.leaves if len(tree.path(n.cluster_id)) > 3]
    x = vectors(leaves)
    classes, coef, intercept = {}, {}, {}
    for level in (2, 3):
        y = np.array([tree.path(leaf)[level].name for leaf in leaves])
        if len(set(y)) < 2:
            continue
        lr = LogisticRegression(C=C, max_iter=3000).fit(x, y)
        c, b = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # binary LR has one row; expand to a softmax over two classes
            c, b = np.vstack([-c / 2, c / 2]), np.array([-b[0] / 2, b[0] / 2])
        classes[level], coef[level], intercept[level] = lr.classes_, c, b
    return LevelModels(classes, coef, intercept, tree_sha(tree))


def _bundled_model_path(embedder: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in embedder)
    return Path(str(resources.files("valuescope.data") / "taxonomy" / f"place-model-{safe}.json"))


class Placer:
    """Places value strings into one tree; build once, call ``place`` many times."""

    def __init__(
        self,
        tree: Tree | str | Path,
        vectors: TextVectors | None = None,
        model: PlaceModel | None = None,
        levels: LevelModels | None = None,
        new_threshold: float | None = None,
        hint_strength: float = 4.0,
    ) -> None:
        self.tree = load_tree(tree) if isinstance(tree, (str, Path)) else tree
        self.vectors = vectors or TextVectors()
        self.index = TreeIndex.build(self.tree, self.vectors)
        self.model = model or self._default_model()
        self.levels = levels or self._default_levels()
        self.new_threshold = new_threshold if new_threshold is not None else DEFAULT_NEW_THRESHOLD.get(self.vectors.name, 0.5)
        self.hint_strength = hint_strength
        self.preferred = leaf_preferences(
            (n.name, self.tree.frequencies.get(n.name, n.pct_total_occurrences)) for n in self.tree.leaves
        )
        self._paths = [self.tree.path(cid) for cid in self.index.l1_ids]

    def _default_model(self) -> PlaceModel:
        path = _bundled_model_path(self.vectors.name)
        if path.is_file():
            model = PlaceModel.from_json(path.read_text("utf-8"))
            if model.meta.get("tree_sha") == tree_sha(self.tree) or model.meta.get("generic", True):
                return model
        return fit_model(self.tree, self.vectors)

    def _default_levels(self) -> LevelModels:
        path = _bundled_model_path(self.vectors.name).with_suffix(".levels.npz")
        if path.is_file():
            models = LevelModels.load(path)
            if models.tree_sha == tree_sha(self.tree):
                return models
        return fit_level_models(self.tree, self.vectors)

    def normalise(self, values: list[str], counts: dict[str, float] | None = None) -> dict[str, str]:
        return canonical_map(values, counts, self.preferred)

    def place(self, values: list[str], hints: list[str | None] | None = None) -> pd.DataFrame:
        """One row per input: value, value_norm, leaf, l1, l2, l3, score, is_new."""
        hints = hints if hints is not None else [None] * len(values)
        if len(hints) != len(values):
            raise ValueError("hints must have one entry per value")
        norm = self.normalise(list(values))
        keys = list(dict.fromkeys((norm[v], h if h in self.index.l1_of_l2 else None) for v, h in zip(values, hints, strict=True)))
        placed = self.place_distinct([k[0] for k in keys], [k[1] for k in keys])
        by_key = {k: row for k, row in zip(keys, placed, strict=True)}
        rows = []
        for v, h in zip(values, hints, strict=True):
            key = (norm[v], h if h in self.index.l1_of_l2 else None)
            rows.append({"value": v, "value_norm": norm[v], **by_key[key]})
        return pd.DataFrame(rows, columns=["value", "value_norm", "leaf", "l1", "l2", "l3", "score", "is_new"])

    def place_distinct(self, norms: list[str], hints: list[str | None]) -> list[dict]:
        """Place already-normalised distinct strings."""
        out: list[dict | None] = [None] * len(norms)
        todo = []
        for i, v in enumerate(norms):
            if not v:
                out[i] = {"leaf": None, "l1": None, "l2": None, "l3": None, "score": 0.0, "is_new": True}
            elif self.tree.has_leaf(v):
                out[i] = {**self._path_of_leaf(v), "score": 1.0, "is_new": False}
            else:
                todo.append(i)
        for start in range(0, len(todo), CHUNK):
            idx = todo[start : start + CHUNK]
            texts = [norms[i] for i in idx]
            for i, row in zip(idx, self._place_chunk(texts, [hints[i] for i in idx]), strict=True):
                out[i] = row
        return out  # type: ignore[return-value]

    def _path_of_leaf(self, leaf: str) -> dict:
        p = self.tree.leaf_path(leaf)
        return {"leaf": leaf, "l1": p.get("l1"), "l2": p.get("l2"), "l3": p.get("l3")}

    def l1_probabilities(self, texts: list[str], hints: list[str | None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        vecs = self.vectors(texts)
        feats, nearest, argbest = self.index.features(texts, vecs)
        logits = self.model.logits(feats)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        for r, h in enumerate(hints or []):
            if h in self.index.l1_of_l2:
                probs[r, self.index.l1_of_l2[h]] *= self.hint_strength
        probs /= probs.sum(axis=1, keepdims=True)
        self._level_proba = {lv: self.levels.proba(lv, vecs) for lv in (2, 3)}
        return probs, nearest, argbest

    def _place_chunk(self, texts: list[str], hints: list[str | None]) -> list[dict]:
        probs, nearest, argbest = self.l1_probabilities(texts, hints)
        rows = []
        for r, text in enumerate(texts):
            j = self.decode(probs[r], {lv: {g: q[r] for g, q in d.items()} for lv, d in self._level_proba.items() if d})
            path = self._paths[j]
            names = {("leaf" if n.level == 0 else f"l{n.level}"): n.name for n in path}
            score = float(np.clip(nearest[r], 0.0, 1.0))
            is_new = score < self.new_threshold
            leaf = self.index.leaf_names[argbest[r, j]]
            rows.append({
                "leaf": None if is_new else leaf,
                "l1": None if is_new else names.get("l1"),
                "l2": names.get("l2"), "l3": names.get("l3"),
                "score": round(score, 4), "is_new": bool(is_new),
            })
        return rows

    def decode(self, p: np.ndarray, level_p: dict[int, dict[str, float]] | None = None) -> int:
        """Top-down: best l3, then best l2 inside it, then best l1.

        A group's score is log(summed l1 probability) + LEVEL_WEIGHT * log(level classifier
        probability) — an equal-weight product of the two experts.
        """
        level_p = level_p or {}
        cand = np.arange(len(p))
        for level in (3, 2):
            groups: dict[str, list[int]] = {}
            for j in cand:
                path = self._paths[j]  # [l1, l2, l3]
                if len(path) > level - 1:
                    groups.setdefault(path[level - 1].name, []).append(int(j))
            if groups:
                q = level_p.get(level, {})

                def score(g: str) -> float:
                    lr = np.log(q[g] + 1e-12) if g in q else 0.0
                    return float(np.log(p[groups[g]].sum() + 1e-12) + LEVEL_WEIGHT * lr)

                cand = np.array(groups[max(groups, key=score)])
        return int(cand[np.argmax(p[cand])])
