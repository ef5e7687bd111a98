"""The offline extractor's model: linear heads over conversation features.

Shape of the decision (why): subjectivity gates AI values (GUIDELINES: no AI
values in a purely factual exchange; its log-odds threshold is tuned for
accuracy on inner out-of-fold scores); AI and human values are decided top
down: an l3 is chosen when the mean of its l3 head and its best l2 head
passes a threshold tuned for l3 micro-F1, then l2 clusters are chosen only
inside chosen l3s (threshold tuned for l2 micro-F1); the response is three
steps (does the user state values? support / neutral / reframing /
resistance? strong or mild?); harmful compliance is a head whose score is
Platt-calibrated on inner out-of-fold scores, so ``harmful_score`` is a
probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from valuescope.extract.offline import features as F
from valuescope.extract.offline import heads as H
from valuescope.extract.offline.corpora import corpus_of
from valuescope.extract.offline.decide import (
    CATS,
    L3_OF,
    L3S,
    _tune_gate,
    _tune_harm_margin,
    _tune_logit,
    _tune_sets,
    decide_sets,
    decide_task,
)
from valuescope.records import L3_TO_L2, RESPONSE_TYPES

L2S: list[str] = [l2 for l2s in L3_TO_L2.values() for l2 in l2s]
REACTIONS: list[str] = [r for r in RESPONSE_TYPES if r != "no_human_values"]
# The response is read as direction, then (for support/resistance) intensity: the six reactions
# have 5-50 examples each, and pooling strong+mild gives the direction head twice the data.
DIRECTIONS: list[str] = ["support", "neutral_acknowledgment", "reframing", "resistance"]
DIRECTION_OF: dict[str, str] = {
    r: ("support" if r.endswith("_support") else "resistance" if r.endswith("_resistance") else r) for r in REACTIONS
}

# Ridge penalties (on standardised features) and logistic C's, chosen by 5-fold CV on dev.jsonl
# with dev2 in every training fold (benchmarks/offline_cv.py --alpha '{...}').
DEFAULT_ALPHA: dict[str, float] = {
    "subjective": 1000.0,
    "task": 1000.0,
    "ai": 3000.0,
    "human": 1000.0,
    "human_any": 1000.0,
    "reaction": 3000.0,
    "harmful": 3000.0,
    "explicit": 3000.0,
    "lr_subjective": 0.05,
    "lr_task": 0.05,
    "engineered_weight": 1.0,
}


ENGINEERED = 26 * 3 + 5 + 14 + 17  # zero-shot similarities + lexical cues: the last columns of features.assemble
LOGISTIC: tuple[str, ...] = ("subjective", "task")  # heads where logistic regression beat ridge in CV
# Heads that also read the TF-IDF n-gram view (features.TFIDF_SPECS): their score is
# (1 - TFIDF_MIX) * embedding-head score + TFIDF_MIX * n-gram-head score (same kind of head
# on both views: ridge outputs or logistic log-odds). Penalties fixed a priori, not tuned.
TFIDF_HEADS: tuple[str, ...] = (
    "subjective",
    "task",
    "harmful",
    "human_any",
    "explicit",
    "direction",
    "intensity",
    "ai_l2",
    "ai_l3",
    "human_l2",
    "human_l3",
)
TFIDF_MIX = 0.5
BALANCE_CORPORA = False  # see corpus_weights; fit(balance_corpora=...) overrides
TFIDF_ALPHA = 1.0  # ridge penalty on the (unstandardised, l2-normalised) n-gram rows
TFIDF_C = 10.0  # logistic C on the n-gram rows


# Corpus groups weighted to equal total weight in the heads of BALANCED_HEADS (fit(balance_corpora=True)):
# with 1,020 ShareGPT conversations among 1,620, unweighted heads learn mostly from traffic where
# users rarely state values and almost nothing is harmful, and lose the red-team behaviour.
CORPUS_GROUP = {
    "hh-rlhf": "red-team",
    "JailbreakBench": "red-team",
    "MT-Bench": "benchmark",
    "AlpacaEval": "benchmark",
    "ShareGPT": "ShareGPT",
}
BALANCED_HEADS: tuple[str, ...] = ("harmful", "human_any", "direction", "intensity")


def corpus_weights(labels: list[dict[str, Any]]) -> np.ndarray:
    """Sample weights giving each corpus group (CORPUS_GROUP; unknown corpora form their own) the same
    total weight, normalised to mean 1."""
    groups = np.array(
        [CORPUS_GROUP.get(corpus_of(str(r.get("id", ""))), corpus_of(str(r.get("id", "")))) for r in labels]
    )
    values, counts = np.unique(groups, return_counts=True)
    size = dict(zip(values, counts, strict=True))
    w = np.array([1.0 / size[g] for g in groups])
    return w * (len(w) / w.sum())


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
        "ai_l2": ai2,
        "ai_l3": to3(ai2),
        "human_l2": hu2,
        "human_l3": to3(hu2),
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
        m.tfidf = {
            k[12:]: ([str(t) for t in a[k]], a[f"tfidf_idf_{k[12:]}"]) for k in a if k.startswith("tfidf_terms_")
        }
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
        out["task_category"] = np.array(CATS)[decide_task(self.scores(X, "task", Xt), p.get("task_harm_margin", 0.0))]
        out["harmful_score"] = H.sigmoid(p["harmful_a"] * self.scores(X, "harmful", Xt)[:, 0] + p["harmful_c"])
        out["p_explicit"] = H.sigmoid(p["explicit_a"] * self.scores(X, "explicit", Xt)[:, 0] + p["explicit_c"])
        has_h = self.scores(X, "human_any", Xt)[:, 0] >= p["human_any_t"]
        gates = {"ai": out["subjective"], "human": has_h}
        for side in ("ai", "human"):
            s2, s3 = self.scores(X, f"{side}_l2", Xt), self.scores(X, f"{side}_l3", Xt)
            out[f"{side}_p2"] = H.sigmoid(p[f"{side}_a"] * s2 + p[f"{side}_c"])  # calibrated per-cluster probability
            out[f"{side}_sets"] = decide_sets(s2, s3, p[f"{side}_t2"], p[f"{side}_t3"]) & gates[side][:, None]
        # the user states values exactly when human values were found (GUIDELINES: response follows them)
        out["response"] = np.where(out["human_sets"].any(axis=1), self._reaction(X, Xt), "no_human_values")
        return out

    def _reaction(self, X: np.ndarray, Xt: np.ndarray | None) -> np.ndarray:
        """Direction (argmax of a class-balanced head), then strong vs mild (balanced head >= 0.5)."""
        direction = np.array(DIRECTIONS)[self.scores(X, "direction", Xt).argmax(axis=1)]
        strong = np.where(self.scores(X, "intensity", Xt)[:, 0] >= 0.5, "strong_", "mild_")
        graded = np.isin(direction, ("support", "resistance"))
        return np.where(graded, np.char.add(strong, direction), direction)


def _fit_heads(
    Xs: np.ndarray,
    T: dict[str, np.ndarray],
    A: dict[str, float],
    Xt: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> tuple[dict, dict]:
    """Every head; ``weight`` (corpus_weights) applies to the BALANCED_HEADS only, on both views."""
    targets = {h: (T[h], A[h]) for h in ("subjective", "human_any", "harmful", "explicit")}
    targets["task"] = (H.one_hot(T["task"], CATS), A["task"])
    for side in ("ai", "human"):
        for lvl in ("l2", "l3"):
            targets[f"{side}_{lvl}"] = (T[f"{side}_{lvl}"], A[side])
    W, b = _fit_ridge_heads(Xs, targets, weight)
    for h in LOGISTIC:  # where a logistic head measured better in CV: log-odds as the score
        if h == "task":
            W[h], b[h] = H.fit_multiclass(Xs, T[h], CATS, A["lr_" + h])
        else:
            w, c = H.fit_binary(Xs, T[h], A["lr_" + h])
            W[h], b[h] = w[None], c
    _fit_reaction(Xs, T, A["reaction"], W, b, weight)
    if Xt is not None and Xt.shape[1]:
        Wt, bt = _fit_text_heads(Xt, T, weight)
        W.update({f"t_{k}": v for k, v in Wt.items()})
        b.update({f"t_{k}": v for k, v in bt.items()})
    return W, b


def _fit_ridge_heads(
    X: np.ndarray, targets: dict[str, tuple[np.ndarray, float]], weight: np.ndarray | None
) -> tuple[dict, dict]:
    """Ridge heads: unweighted ones from one shared solve, BALANCED_HEADS (when ``weight``) one by one."""
    weighted = [h for h in targets if weight is not None and h in BALANCED_HEADS]
    fitted = H.fit_ridges(X, {h: t for h, t in targets.items() if h not in weighted})
    W = {k: v[0] for k, v in fitted.items()}
    b = {k: v[1] for k, v in fitted.items()}
    for h in weighted:
        W[h], b[h] = H.fit_ridge(X, targets[h][0], targets[h][1], weight)
    return W, b


def _fit_text_heads(Xt: np.ndarray, T: dict[str, np.ndarray], weight: np.ndarray | None = None) -> tuple[dict, dict]:
    """The n-gram view's heads (same kind as the embedding head they are mixed with)."""
    targets = {}
    for h in TFIDF_HEADS:
        if h in LOGISTIC or h in ("direction", "intensity"):
            continue
        Y = T[h] if h != "task" else H.one_hot(T["task"], CATS)
        targets[h] = (Y, TFIDF_ALPHA)
    W, b = _fit_ridge_heads(Xt, targets, weight)
    for h in LOGISTIC:
        if h not in TFIDF_HEADS:
            continue
        if h == "task":
            W[h], b[h] = H.fit_multiclass(Xt, T[h], CATS, TFIDF_C)
        else:
            w, c = H.fit_binary(Xt, T[h], TFIDF_C)
            W[h], b[h] = w[None], c
    _fit_reaction(Xt, T, TFIDF_ALPHA, W, b, weight)
    return W, b


def _fit_reaction(
    X: np.ndarray, T: dict[str, np.ndarray], alpha: float, W: dict, b: dict, weight: np.ndarray | None = None
) -> None:
    """Class-balanced ridge heads on conversations whose user states values: the direction of the
    response (4 classes) and, among support/resistance, whether it is strong (one output).
    ``weight`` (corpus_weights) multiplies the class balance."""
    y = T["reaction"][T["human_any"] > 0]
    Xh = X[T["human_any"] > 0]
    wh = np.ones(len(y)) if weight is None else weight[T["human_any"] > 0]
    d = np.array([DIRECTION_OF.get(r, "neutral_acknowledgment") for r in y])
    if len(set(d)) >= 2:
        W["direction"], b["direction"] = H.fit_ridge(Xh, H.one_hot(d, DIRECTIONS), alpha, H.balanced_weights(d) * wh)
    else:
        W["direction"], b["direction"] = np.zeros((len(DIRECTIONS), X.shape[1])), np.zeros(len(DIRECTIONS))
        if len(d):
            b["direction"][DIRECTIONS.index(d[0])] = 1.0
    graded = np.isin(d, ("support", "resistance"))
    strong = np.array([r.startswith("strong_") for r in y], dtype=float)[graded]
    if len(set(strong)) >= 2:
        W["intensity"], b["intensity"] = H.fit_ridge(
            Xh[graded], strong[:, None], alpha, H.balanced_weights(strong) * wh[graded]
        )
    else:
        W["intensity"], b["intensity"] = np.zeros((1, X.shape[1])), np.full(1, float(strong[0]) if len(strong) else 0.0)


def fit(
    X: np.ndarray,
    labels: list[dict[str, Any]],
    alpha: dict[str, float] | None = None,
    inner_folds: int = 3,
    seed: int = 0,
    views: list[dict[str, str]] | None = None,
    tune_harm_margin: bool = True,
    harm_margin: float | None = None,
    balance_corpora: bool | None = None,
) -> OfflineModel:
    """Fit every head on (X, labels); thresholds and calibration from inner out-of-fold scores.

    ``views`` (features.conversation_views of each row) adds the TF-IDF n-gram heads; the
    vocabulary is refitted inside every inner fold, so the out-of-fold scores stay honest.
    ``tune_harm_margin=False`` is the previous (3bf7a2f) task decision: a plain argmax.
    ``harm_margin`` fixes the margin instead of tuning it (0 = argmax; the shipped weights, see
    docs/extractor-offline.md).
    ``balance_corpora`` (default BALANCE_CORPORA) fits the BALANCED_HEADS and tunes the human-value
    gate with corpus_weights.
    """
    A = {**DEFAULT_ALPHA, **(alpha or {})}
    T = label_arrays(labels)
    cw = corpus_weights(labels) if (BALANCE_CORPORA if balance_corpora is None else balance_corpora) else None
    mean = X.mean(axis=0).astype(np.float64)
    scale = X.std(axis=0).astype(np.float64) + 1e-6
    scale[X.shape[1] - ENGINEERED :] /= A["engineered_weight"]  # less shrinkage for the few designed features
    model = OfflineModel(mean=mean, scale=scale)
    Xs = (X - mean) / scale
    n = len(labels)
    heads = ("ai_l2", "ai_l3", "human_l2", "human_l3", "harmful", "human_any", "subjective", "explicit", "task")
    oof: dict[str, np.ndarray] = {}
    strat = T["subjective"] * 2 + T["harmful"]
    for tr, te in StratifiedKFold(inner_folds, shuffle=True, random_state=seed).split(Xs, strat):
        Xt_tr = Xt_te = None
        if views is not None:
            voc = F.fit_tfidf([views[i] for i in tr])
            Xt_tr, Xt_te = F.tfidf_matrix([views[i] for i in tr], voc), F.tfidf_matrix([views[i] for i in te], voc)
        Wi, bi = _fit_heads(Xs[tr], {k: v[tr] for k, v in T.items()}, A, Xt_tr, None if cw is None else cw[tr])
        for h in heads:
            s = Xs[te] @ Wi[h].T + bi[h]
            if Xt_te is not None and f"t_{h}" in Wi:
                s = (1.0 - TFIDF_MIX) * s + TFIDF_MIX * (Xt_te @ Wi[f"t_{h}"].T + bi[f"t_{h}"])
            oof.setdefault(h, np.zeros((n, Wi[h].shape[0])))[te] = s
    Xt = None
    if views is not None:
        model.tfidf = F.fit_tfidf(views)
        Xt = F.tfidf_matrix(views, model.tfidf)
    model.W, model.b = _fit_heads(Xs, T, A, Xt, cw)
    for k in [k for k in model.W if k.startswith("t_")]:  # n-gram weights stored as float32 (bundle size)
        model.W[k] = model.W[k].astype(np.float32)
    # subjectivity threshold tuned for accuracy on inner out-of-fold log-odds (was fixed at 0)
    params: dict[str, float] = {"subjective_t": _tune_logit(oof["subjective"][:, 0], T["subjective"])}
    for h in ("harmful", "explicit"):
        params[f"{h}_a"], params[f"{h}_c"] = H.fit_platt(oof[h][:, 0], T[h])
    params["human_any_t"] = _tune_gate(oof["human_any"][:, 0], oof["human_l2"], oof["human_l3"], T["human_l2"], cw)
    gates = {
        "ai": oof["subjective"][:, 0] >= params["subjective_t"],
        "human": oof["human_any"][:, 0] >= params["human_any_t"],
    }
    for side in ("ai", "human"):
        sw = cw if f"{side}_l2" in BALANCED_HEADS else None
        params[f"{side}_t2"], params[f"{side}_t3"] = _tune_sets(
            oof[f"{side}_l2"], oof[f"{side}_l3"], T[f"{side}_l2"], gates[side], sw
        )
        params[f"{side}_a"], params[f"{side}_c"] = H.fit_platt(oof[f"{side}_l2"].ravel(), T[f"{side}_l2"].ravel())
    if harm_margin is not None:
        params["task_harm_margin"] = float(harm_margin)
    elif tune_harm_margin:
        params["task_harm_margin"] = _tune_harm_margin(oof["task"], T["task"])
    model.params = params
    return model
