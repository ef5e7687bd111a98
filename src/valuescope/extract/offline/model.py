"""The offline extractor's model: linear heads over conversation features.

Shape of the decision (why): subjectivity gates AI values (GUIDELINES: no AI
values in a purely factual exchange); AI and human values are one-vs-rest
heads over the 26 l2 clusters with one threshold per side tuned for micro-F1
on inner out-of-fold probabilities, plus l3 heads that add the best l2 of a
confidently predicted l3 (hierarchical consistency); the response is two
steps (does the user state values? then which of the six reactions);
harmful compliance is an LR whose score is Platt-calibrated on inner
out-of-fold scores, so ``harmful_score`` is a probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from valuescope.extract.offline import heads as H
from valuescope.records import L3_TO_L2, RESPONSE_TYPES, TASK_CATEGORIES

L2S: list[str] = [l2 for l2s in L3_TO_L2.values() for l2 in l2s]
L3S: list[str] = list(L3_TO_L2)
L3_OF = np.array([L3S.index(l3) for l3, l2s in L3_TO_L2.items() for _ in l2s])
REACTIONS: list[str] = [r for r in RESPONSE_TYPES if r != "no_human_values"]
CATS: list[str] = list(TASK_CATEGORIES)

# Regularisation strengths chosen by 5-fold CV on dev.jsonl (benchmarks/offline_cv.py --sweep).
DEFAULT_C: dict[str, float] = {
    "subjective": 0.05, "task": 0.1, "ai_l2": 0.05, "ai_l3": 0.05, "human_any": 0.05,
    "human_l2": 0.05, "human_l3": 0.05, "reaction": 0.1, "harmful": 0.05, "explicit": 0.05,
}


def label_arrays(labels: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Targets of every head from protocol-v1 records."""
    n = len(labels)
    ai2, hu2 = np.zeros((n, len(L2S)), int), np.zeros((n, len(L2S)), int)
    for i, r in enumerate(labels):
        for v in r.get("ai_values") or []:
            if v.get("l2") in L2S:
                ai2[i, L2S.index(v["l2"])] = 1
        for v in r.get("human_values") or []:
            if v.get("l2") in L2S:
                hu2[i, L2S.index(v["l2"])] = 1
    to3 = lambda m: np.stack([m[:, L3_OF == k].max(axis=1) for k in range(len(L3S))], axis=1)  # noqa: E731
    return {
        "subjective": np.array([bool(r["subjective"]) for r in labels], int),
        "task": np.array([r.get("task_category", "other") for r in labels]),
        "ai_l2": ai2, "ai_l3": to3(ai2), "human_l2": hu2, "human_l3": to3(hu2),
        "human_any": np.array([bool(r.get("human_values")) for r in labels], int),
        "reaction": np.array([r.get("response", "no_human_values") for r in labels]),
        "harmful": np.array([bool(r.get("harmful_compliance")) for r in labels], int),
        "explicit": np.array([any(v.get("explicit") for v in r.get("ai_values") or []) for r in labels], int),
    }


@dataclass
class OfflineModel:
    mean: np.ndarray
    scale: np.ndarray
    W: dict[str, np.ndarray] = field(default_factory=dict)
    b: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)  # thresholds, Platt a/c

    # -- storage --------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "scale": self.scale}
        out.update({f"W_{k}": v for k, v in self.W.items()})
        out.update({f"b_{k}": v for k, v in self.b.items()})
        names = sorted(self.params)
        out["param_names"] = np.array(names)
        out["param_values"] = np.array([self.params[k] for k in names], dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> OfflineModel:
        m = cls(mean=a["mean"], scale=a["scale"])
        m.W = {k[2:]: v for k, v in a.items() if k.startswith("W_")}
        m.b = {k[2:]: v for k, v in a.items() if k.startswith("b_")}
        m.params = {str(k): float(v) for k, v in zip(a["param_names"], a["param_values"], strict=True)}
        return m

    # -- inference ------------------------------------------------------------
    def logits(self, X: np.ndarray, head: str) -> np.ndarray:
        Z = ((X - self.mean) / self.scale) @ self.W[head].T + self.b[head]
        return Z

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Probabilities and decisions for every head (rows follow X)."""
        p = self.params
        out: dict[str, np.ndarray] = {}
        out["p_subjective"] = H.sigmoid(self.logits(X, "subjective"))[:, 0]
        out["subjective"] = out["p_subjective"] >= 0.5
        task_p = H.softmax(self.logits(X, "task"))
        out["task_p"] = task_p
        out["task_category"] = np.array(CATS)[task_p.argmax(axis=1)]
        raw = self.logits(X, "harmful")[:, 0]
        out["harmful_score"] = H.sigmoid(p["harmful_a"] * raw + p["harmful_c"])
        out["p_explicit"] = H.sigmoid(self.logits(X, "explicit"))[:, 0]
        for side in ("ai", "human"):
            p2 = H.sigmoid(self.logits(X, f"{side}_l2"))
            p3 = H.sigmoid(self.logits(X, f"{side}_l3"))
            out[f"{side}_p2"] = p2
            out[f"{side}_sets"] = decide_sets(p2, p3, p[f"{side}_t2"], p[f"{side}_t3"])
        out["p_human_any"] = H.sigmoid(self.logits(X, "human_any"))[:, 0]
        has_h = out["p_human_any"] >= p["human_any_t"]
        gate_ai = out["subjective"]
        out["ai_sets"] = out["ai_sets"] & gate_ai[:, None]
        out["human_sets"] = out["human_sets"] & has_h[:, None]
        # a user with stated values has at least one cluster
        top_h = out["human_p2"].argmax(axis=1)
        none_h = has_h & ~out["human_sets"].any(axis=1)
        out["human_sets"][none_h, top_h[none_h]] = True
        react = np.array(REACTIONS)[H.softmax(self.logits(X, "reaction")).argmax(axis=1)]
        out["response"] = np.where(has_h, react, "no_human_values")
        return out


def decide_sets(p2: np.ndarray, p3: np.ndarray, t2: float, t3: float) -> np.ndarray:
    """l2 decisions: p2 >= t2, plus the best l2 of every l3 with p3 >= t3 that has none yet."""
    sets = p2 >= t2
    for k in range(len(L3S)):
        cols = np.where(L3_OF == k)[0]
        need = (p3[:, k] >= t3) & ~sets[:, cols].any(axis=1)
        best = cols[p2[:, cols].argmax(axis=1)]
        sets[need, best[need]] = True
    return sets


def micro_f1(pred: np.ndarray, ref: np.ndarray) -> float:
    tp = (pred & (ref > 0)).sum()
    fp = (pred & (ref == 0)).sum()
    fn = (~pred & (ref > 0)).sum()
    return float(2 * tp / max(1, 2 * tp + fp + fn))


def _tune_sets(p2: np.ndarray, p3: np.ndarray, Y2: np.ndarray, gate: np.ndarray) -> tuple[float, float]:
    """Thresholds maximising l2 + l3 micro-F1 on out-of-fold probabilities."""
    Y3 = np.stack([Y2[:, L3_OF == k].max(axis=1) for k in range(len(L3S))], axis=1)
    best = (-1.0, 0.5, 1.1)
    for t2 in np.arange(0.1, 0.8, 0.025):
        for t3 in (0.3, 0.4, 0.5, 0.6, 0.7, 1.1):
            s = decide_sets(p2, p3, t2, t3) & gate[:, None]
            s3 = np.stack([s[:, L3_OF == k].any(axis=1) for k in range(len(L3S))], axis=1)
            f = micro_f1(s, Y2) + micro_f1(s3, Y3)
            if f > best[0] + 1e-9:
                best = (f, float(round(t2, 3)), float(t3))
    return best[1], best[2]


def _fit_heads(Xs: np.ndarray, T: dict[str, np.ndarray], C: dict[str, float]) -> tuple[dict, dict]:
    W, b = {}, {}
    for h in ("subjective", "human_any", "harmful", "explicit"):
        W[h], b[h] = (x[None] if x.ndim == 1 else x for x in H.fit_binary(Xs, T[h], C[h], balanced=h == "human_any"))
    W["task"], b["task"] = H.fit_multiclass(Xs, T["task"], CATS, C["task"])
    for h in ("ai_l2", "ai_l3", "human_l2", "human_l3"):
        W[h], b[h] = H.fit_multilabel(Xs, T[h], C[h])
    has = T["human_any"] > 0
    if has.sum() >= 2:
        W["reaction"], b["reaction"] = H.fit_multiclass(Xs[has], T["reaction"][has], REACTIONS, C["reaction"], balanced=True)
    else:
        W["reaction"], b["reaction"] = np.zeros((len(REACTIONS), Xs.shape[1])), np.zeros(len(REACTIONS))
    return W, b


def fit(X: np.ndarray, labels: list[dict[str, Any]], C: dict[str, float] | None = None, inner_folds: int = 3, seed: int = 0) -> OfflineModel:
    """Fit every head on (X, labels); thresholds and calibration from inner out-of-fold predictions."""
    C = {**DEFAULT_C, **(C or {})}
    T = label_arrays(labels)
    mean = X.mean(axis=0).astype(np.float64)
    scale = X.std(axis=0).astype(np.float64) + 1e-6
    model = OfflineModel(mean=mean, scale=scale)
    Xs = (X - mean) / scale
    # inner out-of-fold probabilities for thresholds and Platt scaling
    n = len(labels)
    oof = {k: np.zeros((n, len(L2S))) for k in ("ai_l2", "human_l2")}
    oof.update({k: np.zeros((n, len(L3S))) for k in ("ai_l3", "human_l3")})
    oof_h, oof_any, oof_subj = np.zeros(n), np.zeros(n), np.zeros(n)
    strat = T["subjective"] * 2 + T["harmful"]
    folds = StratifiedKFold(inner_folds, shuffle=True, random_state=seed).split(Xs, strat)
    for tr, te in folds:
        Ti = {k: v[tr] for k, v in T.items()}
        Wi, bi = _fit_heads(Xs[tr], Ti, C)
        for k in oof:
            oof[k][te] = H.sigmoid(Xs[te] @ Wi[k].T + bi[k])
        oof_h[te] = (Xs[te] @ Wi["harmful"].T + bi["harmful"])[:, 0]
        oof_any[te] = H.sigmoid(Xs[te] @ Wi["human_any"].T + bi["human_any"])[:, 0]
        oof_subj[te] = H.sigmoid(Xs[te] @ Wi["subjective"].T + bi["subjective"])[:, 0]
    model.W, model.b = _fit_heads(Xs, T, C)
    a, c = H.fit_platt(oof_h, T["harmful"])
    gate_ai = oof_subj >= 0.5
    t2a, t3a = _tune_sets(oof["ai_l2"], oof["ai_l3"], T["ai_l2"], gate_ai)
    ts = np.arange(0.2, 0.85, 0.025)
    f_any = [micro_f1((oof_any >= t)[:, None], T["human_any"][:, None]) for t in ts]
    t_any = float(round(ts[int(np.argmax(f_any))], 3))
    t2h, t3h = _tune_sets(oof["human_l2"], oof["human_l3"], T["human_l2"], oof_any >= t_any)
    model.params = {"harmful_a": a, "harmful_c": c, "ai_t2": t2a, "ai_t3": t3a, "human_t2": t2h, "human_t3": t3h, "human_any_t": t_any}
    return model
