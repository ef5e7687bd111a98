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

from valuescope.extract.offline import features as F
from valuescope.extract.offline import heads as H
from valuescope.records import L3_TO_L2, RESPONSE_TYPES, TASK_CATEGORIES

L2S: list[str] = [l2 for l2s in L3_TO_L2.values() for l2 in l2s]
L3S: list[str] = list(L3_TO_L2)
L3_OF = np.array([L3S.index(l3) for l3, l2s in L3_TO_L2.items() for _ in l2s])
REACTIONS: list[str] = [r for r in RESPONSE_TYPES if r != "no_human_values"]
CATS: list[str] = list(TASK_CATEGORIES)

# Ridge penalties (on standardised features) and logistic C's, chosen by 5-fold CV on dev.jsonl
# with dev2 in every training fold (benchmarks/offline_cv.py --alpha '{...}').
DEFAULT_ALPHA: dict[str, float] = {
    "subjective": 1000.0, "task": 1000.0, "ai": 3000.0, "human": 1000.0, "human_any": 1000.0,
    "reaction": 3000.0, "harmful": 3000.0, "explicit": 3000.0, "lr_subjective": 0.05, "lr_task": 0.05,
    "engineered_weight": 1.0,
}


ENGINEERED = 26 * 3 + 5 + 14 + 17  # zero-shot similarities + lexical cues: the last columns of features.assemble
LOGISTIC: tuple[str, ...] = ("subjective", "task")  # heads where logistic regression beat ridge in CV
# Heads that also read the TF-IDF n-gram view (features.TFIDF_SPECS): their score is
# (1 - TFIDF_MIX) * embedding-head score + TFIDF_MIX * n-gram-head score (same kind of head
# on both views: ridge outputs or logistic log-odds). Penalties fixed a priori, not tuned.
TFIDF_HEADS: tuple[str, ...] = ("subjective", "task", "harmful", "human_any", "explicit", "reaction",
                                "ai_l2", "ai_l3", "human_l2", "human_l3")
TFIDF_MIX = 0.5
TFIDF_ALPHA = 1.0  # ridge penalty on the (unstandardised, l2-normalised) n-gram rows
TFIDF_C = 10.0  # logistic C on the n-gram rows


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
    tfidf: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)  # spec -> (terms, idf)

    # -- storage --------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "scale": self.scale}
        out.update({f"W_{k}": v for k, v in self.W.items()})
        out.update({f"b_{k}": v for k, v in self.b.items()})
        names = sorted(self.params)
        out["param_names"] = np.array(names)
        out["param_values"] = np.array([self.params[k] for k in names], dtype=np.float64)
        for k, (terms, idf) in self.tfidf.items():  # vocabularies as plain unicode arrays (no pickle)
            out[f"tfidf_terms_{k}"] = np.array(terms, dtype=str) if terms else np.zeros(0, dtype="<U1")
            out[f"tfidf_idf_{k}"] = np.asarray(idf, dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> OfflineModel:
        m = cls(mean=a["mean"], scale=a["scale"])
        m.W = {k[2:]: v for k, v in a.items() if k.startswith("W_")}
        m.b = {k[2:]: v for k, v in a.items() if k.startswith("b_")}
        m.params = {str(k): float(v) for k, v in zip(a["param_names"], a["param_values"], strict=True)}
        m.tfidf = {k[12:]: ([str(t) for t in a[k]], a[f"tfidf_idf_{k[12:]}"]) for k in a if k.startswith("tfidf_terms_")}
        return m

    # -- inference ------------------------------------------------------------
    def text_matrix(self, views: list[dict[str, str]] | None, n: int) -> np.ndarray | None:
        """The TF-IDF rows of ``views`` (None when the model has no n-gram heads)."""
        if not self.tfidf:
            return None
        if views is None or len(views) != n:
            raise ValueError("this model has n-gram heads: predict needs the conversations' views")
        return F.tfidf_matrix(views, self.tfidf)

    def scores(self, X: np.ndarray, head: str, Xt: np.ndarray | None = None) -> np.ndarray:
        s = ((X - self.mean) / self.scale) @ self.W[head].T + self.b[head]
        if Xt is not None and f"t_{head}" in self.W:
            s = (1.0 - TFIDF_MIX) * s + TFIDF_MIX * (Xt @ self.W[f"t_{head}"].T + self.b[f"t_{head}"])
        return s

    def predict(self, X: np.ndarray, views: list[dict[str, str]] | None = None) -> dict[str, np.ndarray]:
        """Scores and decisions for every head (rows follow X; ``views`` = features.conversation_views rows)."""
        p = self.params
        out: dict[str, np.ndarray] = {}
        Xt = self.text_matrix(views, len(X))
        out["subjective"] = self.scores(X, "subjective", Xt)[:, 0] >= p["subjective_t"]
        out["task_category"] = np.array(CATS)[self.scores(X, "task", Xt).argmax(axis=1)]
        out["harmful_score"] = H.sigmoid(p["harmful_a"] * self.scores(X, "harmful", Xt)[:, 0] + p["harmful_c"])
        out["p_explicit"] = H.sigmoid(p["explicit_a"] * self.scores(X, "explicit", Xt)[:, 0] + p["explicit_c"])
        has_h = self.scores(X, "human_any", Xt)[:, 0] >= p["human_any_t"]
        gates = {"ai": out["subjective"], "human": has_h}
        for side in ("ai", "human"):
            s2, s3 = self.scores(X, f"{side}_l2", Xt), self.scores(X, f"{side}_l3", Xt)
            out[f"{side}_p2"] = H.sigmoid(p[f"{side}_a"] * s2 + p[f"{side}_c"])  # calibrated per-cluster probability
            out[f"{side}_sets"] = decide_sets(s2, s3, p[f"{side}_t2"], p[f"{side}_t3"]) & gates[side][:, None]
        # a user with stated values has at least one cluster
        top_h = out["human_p2"].argmax(axis=1)
        none_h = has_h & ~out["human_sets"].any(axis=1)
        out["human_sets"][none_h, top_h[none_h]] = True
        react = np.array(REACTIONS)[self.scores(X, "reaction", Xt).argmax(axis=1)]
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


def _tune_sets(s2: np.ndarray, s3: np.ndarray, Y2: np.ndarray, gate: np.ndarray) -> tuple[float, float]:
    """Thresholds maximising l2 + l3 micro-F1 on out-of-fold scores."""
    Y3 = np.stack([Y2[:, L3_OF == k].max(axis=1) for k in range(len(L3S))], axis=1)
    best = (-1.0, 0.5, 9.0)
    for t2 in np.arange(0.05, 0.6, 0.025):
        for t3 in (0.3, 0.4, 0.5, 0.6, 9.0):
            s = decide_sets(s2, s3, t2, t3) & gate[:, None]
            s3p = np.stack([s[:, L3_OF == k].any(axis=1) for k in range(len(L3S))], axis=1)
            f = micro_f1(s, Y2) + micro_f1(s3p, Y3)
            if f > best[0] + 1e-9:
                best = (f, float(round(t2, 3)), float(t3))
    return best[1], best[2]


def _fit_heads(Xs: np.ndarray, T: dict[str, np.ndarray], A: dict[str, float], Xt: np.ndarray | None = None) -> tuple[dict, dict]:
    targets = {h: (T[h], A[h]) for h in ("subjective", "human_any", "harmful", "explicit")}
    targets["task"] = (H.one_hot(T["task"], CATS), A["task"])
    for side in ("ai", "human"):
        for lvl in ("l2", "l3"):
            targets[f"{side}_{lvl}"] = (T[f"{side}_{lvl}"], A[side])
    fitted = H.fit_ridges(Xs, targets)
    W = {k: v[0] for k, v in fitted.items()}
    b = {k: v[1] for k, v in fitted.items()}
    for h in LOGISTIC:  # where a logistic head measured better in CV: log-odds as the score
        if h == "task":
            W[h], b[h] = H.fit_multiclass(Xs, T[h], CATS, A["lr_" + h])
        else:
            w, c = H.fit_binary(Xs, T[h], A["lr_" + h])
            W[h], b[h] = w[None], c
    has = T["human_any"] > 0
    if has.sum() >= 2:
        y = T["reaction"][has]
        W["reaction"], b["reaction"] = H.fit_ridge(Xs[has], H.one_hot(y, REACTIONS), A["reaction"], H.balanced_weights(y))
    else:
        W["reaction"], b["reaction"] = np.zeros((len(REACTIONS), Xs.shape[1])), np.zeros(len(REACTIONS))
    if Xt is not None and Xt.shape[1]:
        Wt, bt = _fit_text_heads(Xt, T)
        W.update({f"t_{k}": v for k, v in Wt.items()})
        b.update({f"t_{k}": v for k, v in bt.items()})
    return W, b


def _fit_text_heads(Xt: np.ndarray, T: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """The n-gram view's heads (same kind as the embedding head they are mixed with)."""
    targets = {}
    for h in TFIDF_HEADS:
        if h in LOGISTIC or h == "reaction":
            continue
        Y = T[h] if h != "task" else H.one_hot(T["task"], CATS)
        targets[h] = (Y, TFIDF_ALPHA)
    fitted = H.fit_ridges(Xt, targets)
    W = {k: v[0] for k, v in fitted.items()}
    b = {k: v[1] for k, v in fitted.items()}
    for h in LOGISTIC:
        if h not in TFIDF_HEADS:
            continue
        if h == "task":
            W[h], b[h] = H.fit_multiclass(Xt, T[h], CATS, TFIDF_C)
        else:
            w, c = H.fit_binary(Xt, T[h], TFIDF_C)
            W[h], b[h] = w[None], c
    if "reaction" in TFIDF_HEADS:
        has = T["human_any"] > 0
        if has.sum() >= 2:
            y = T["reaction"][has]
            W["reaction"], b["reaction"] = H.fit_ridge(Xt[has], H.one_hot(y, REACTIONS), TFIDF_ALPHA, H.balanced_weights(y))
        else:
            W["reaction"], b["reaction"] = np.zeros((len(REACTIONS), Xt.shape[1])), np.zeros(len(REACTIONS))
    return W, b


def fit(
    X: np.ndarray, labels: list[dict[str, Any]], alpha: dict[str, float] | None = None, inner_folds: int = 3, seed: int = 0,
    views: list[dict[str, str]] | None = None,
) -> OfflineModel:
    """Fit every head on (X, labels); thresholds and calibration from inner out-of-fold scores.

    ``views`` (features.conversation_views of each row) adds the TF-IDF n-gram heads; the
    vocabulary is refitted inside every inner fold, so the out-of-fold scores stay honest.
    """
    A = {**DEFAULT_ALPHA, **(alpha or {})}
    T = label_arrays(labels)
    mean = X.mean(axis=0).astype(np.float64)
    scale = X.std(axis=0).astype(np.float64) + 1e-6
    scale[X.shape[1] - ENGINEERED :] /= A["engineered_weight"]  # less shrinkage for the few designed features
    model = OfflineModel(mean=mean, scale=scale)
    Xs = (X - mean) / scale
    n = len(labels)
    heads = ("ai_l2", "ai_l3", "human_l2", "human_l3", "harmful", "human_any", "subjective", "explicit")
    oof: dict[str, np.ndarray] = {}
    strat = T["subjective"] * 2 + T["harmful"]
    for tr, te in StratifiedKFold(inner_folds, shuffle=True, random_state=seed).split(Xs, strat):
        Xt_tr = Xt_te = None
        if views is not None:
            voc = F.fit_tfidf([views[i] for i in tr])
            Xt_tr, Xt_te = F.tfidf_matrix([views[i] for i in tr], voc), F.tfidf_matrix([views[i] for i in te], voc)
        Wi, bi = _fit_heads(Xs[tr], {k: v[tr] for k, v in T.items()}, A, Xt_tr)
        for h in heads:
            s = Xs[te] @ Wi[h].T + bi[h]
            if Xt_te is not None and f"t_{h}" in Wi:
                s = (1.0 - TFIDF_MIX) * s + TFIDF_MIX * (Xt_te @ Wi[f"t_{h}"].T + bi[f"t_{h}"])
            oof.setdefault(h, np.zeros((n, Wi[h].shape[0])))[te] = s
    Xt = None
    if views is not None:
        model.tfidf = F.fit_tfidf(views)
        Xt = F.tfidf_matrix(views, model.tfidf)
    model.W, model.b = _fit_heads(Xs, T, A, Xt)
    for k in [k for k in model.W if k.startswith("t_")]:  # n-gram weights stored as float32 (bundle size)
        model.W[k] = model.W[k].astype(np.float32)
    params: dict[str, float] = {"subjective_t": 0.0 if "subjective" in LOGISTIC else 0.5}
    for h in ("harmful", "explicit"):
        params[f"{h}_a"], params[f"{h}_c"] = H.fit_platt(oof[h][:, 0], T[h])
    ts = np.arange(0.1, 0.8, 0.025)
    f_any = [micro_f1((oof["human_any"][:, 0] >= t)[:, None], T["human_any"][:, None]) for t in ts]
    params["human_any_t"] = float(round(ts[int(np.argmax(f_any))], 3))
    gates = {"ai": oof["subjective"][:, 0] >= params["subjective_t"], "human": oof["human_any"][:, 0] >= params["human_any_t"]}
    for side in ("ai", "human"):
        params[f"{side}_t2"], params[f"{side}_t3"] = _tune_sets(oof[f"{side}_l2"], oof[f"{side}_l3"], T[f"{side}_l2"], gates[side])
        params[f"{side}_a"], params[f"{side}_c"] = H.fit_platt(oof[f"{side}_l2"].ravel(), T[f"{side}_l2"].ravel())
    model.params = params
    return model
