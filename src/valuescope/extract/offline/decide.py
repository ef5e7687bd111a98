"""Turning the offline model's head scores into decisions, and tuning their thresholds.

Split from model.py (which fits the heads): these functions only read scores and labels, so
the decision rules (top-down value sets, the harmful-category margin, the subjectivity and
"user states values" gates) can be read and tested on their own.
"""

from __future__ import annotations

import numpy as np

from valuescope.records import L3_TO_L2, TASK_CATEGORIES

L3S: list[str] = list(L3_TO_L2)
L3_OF = np.array([L3S.index(l3) for l3, l2s in L3_TO_L2.items() for _ in l2s])
CATS: list[str] = list(TASK_CATEGORIES)
HARM_CAT = CATS.index("harmful or illicit request")
# A benign conversation called "harmful or illicit request" is the costliest task error (it
# brands ordinary use as abuse); the harmful class needs a log-odds margin over the best other
# class, tuned on inner out-of-fold scores as the most accurate margin whose benign false-positive
# rate stays within this bound.
MAX_BENIGN_AS_HARMFUL = 0.01


def l3_scores(s2: np.ndarray, s3: np.ndarray) -> np.ndarray:
    """l3 evidence: mean of the l3 head and the best l2 head of that l3 (two views of one question)."""
    best2 = np.stack([s2[:, L3_OF == k].max(axis=1) for k in range(len(L3S))], axis=1)
    return 0.5 * (s3 + best2)


def decide_sets(s2: np.ndarray, s3: np.ndarray, t2: float, t3: float) -> np.ndarray:
    """Top-down l2 decisions: l3s with l3_scores >= t3, then inside each chosen l3 every l2 with
    s2 >= t2, or its best l2 when none passes (an l2 outside the chosen l3s is never emitted).

    Why top-down: the l3 decision has 5 labels with ~100 positives each, so its threshold is
    tuned on the metric it serves (l3 micro-F1) instead of being a by-product of the l2 one.
    """
    chosen3 = l3_scores(s2, s3) >= t3
    sets = (s2 >= t2) & chosen3[:, L3_OF]
    for k in range(len(L3S)):
        cols = np.where(L3_OF == k)[0]
        need = chosen3[:, k] & ~sets[:, cols].any(axis=1)
        best = cols[s2[:, cols].argmax(axis=1)]
        sets[need, best[need]] = True
    return sets


def decide_task(scores: np.ndarray, margin: float) -> np.ndarray:
    """Category index per row: the harmful class only when it beats the best other class by ``margin``."""
    others = scores.copy()
    others[:, HARM_CAT] = -np.inf
    best_other = others.argmax(axis=1)
    harm = scores[:, HARM_CAT] - others[np.arange(len(scores)), best_other] >= margin
    return np.where(harm, HARM_CAT, best_other)


def _tune_harm_margin(scores: np.ndarray, y: np.ndarray) -> float:
    """Most accurate margin (ties: the smallest) among those calling at most MAX_BENIGN_AS_HARMFUL
    of the benign conversations harmful; if none does, the margin with the fewest such calls."""
    grid = np.round(np.arange(0.0, 8.01, 0.25), 2)
    yi = np.array([CATS.index(c) if c in CATS else CATS.index("other") for c in y])
    benign = yi != HARM_CAT
    acc, fpr = [], []
    for m in grid:
        d = decide_task(scores, float(m))
        acc.append(float((d == yi).mean()))
        fpr.append(float((d[benign] == HARM_CAT).mean()) if benign.any() else 0.0)
    acc_a, fpr_a = np.array(acc), np.array(fpr)
    ok = fpr_a <= MAX_BENIGN_AS_HARMFUL + 1e-12
    if not ok.any():
        return float(grid[int(np.argmin(fpr_a))])
    cand = np.where(ok)[0]
    return float(grid[cand[int(np.argmax(acc_a[cand]))]])


def micro_f1(pred: np.ndarray, ref: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Micro-F1 over all cells; ``weight`` (one per row) weights each row's counts."""
    w = np.ones(len(pred)) if weight is None else weight
    w = w[:, None] if pred.ndim == 2 else w
    tp = ((pred & (ref > 0)) * w).sum()
    fp = ((pred & (ref == 0)) * w).sum()
    fn = ((~pred & (ref > 0)) * w).sum()
    return float(2 * tp / max(1e-12 if weight is not None else 1, 2 * tp + fp + fn))


def _tune_sets(
    s2: np.ndarray, s3: np.ndarray, Y2: np.ndarray, gate: np.ndarray, weight: np.ndarray | None = None
) -> tuple[float, float]:
    """t3 maximising l3 micro-F1, then t2 maximising l2 micro-F1 given t3 (out-of-fold scores)."""
    Y3 = np.stack([Y2[:, L3_OF == k].max(axis=1) for k in range(len(L3S))], axis=1)
    grid = np.round(np.arange(0.05, 0.8, 0.025), 3)
    g = gate[:, None]
    e3 = l3_scores(s2, s3)
    t3 = float(grid[int(np.argmax([micro_f1((e3 >= t) & g, Y3, weight) for t in grid]))])
    t2 = float(grid[int(np.argmax([micro_f1(decide_sets(s2, s3, t, t3) & g, Y2, weight) for t in grid]))])
    return t2, t3


def _tune_gate(
    gate: np.ndarray, s2: np.ndarray, s3: np.ndarray, Y2: np.ndarray, weight: np.ndarray | None = None
) -> float:
    """The "user states values" threshold, tuned jointly with the l3 threshold for human l3 micro-F1.

    Why not for the gate's own F1: the gate exists to serve the value sets (and the response
    follows them). On the 400-fold CV this, together with no longer forcing a cluster onto
    every gated conversation, lifted human l3 F1 from 0.45 to 0.50 (variant chosen on that CV).
    """
    Y3 = np.stack([Y2[:, L3_OF == k].max(axis=1) for k in range(len(L3S))], axis=1)
    e3 = l3_scores(s2, s3)
    best = (-1.0, 0.5)
    for g in np.round(np.arange(0.1, 0.8, 0.05), 3):
        for t3 in np.round(np.arange(0.05, 0.8, 0.025), 3):
            f = micro_f1((e3 >= t3) & (gate >= g)[:, None], Y3, weight)
            if f > best[0] + 1e-12:
                best = (f, float(g))
    return best[1]


def _tune_logit(scores: np.ndarray, y: np.ndarray) -> float:
    """Log-odds threshold maximising accuracy on out-of-fold scores (ties: the one nearest 0)."""
    grid = np.round(np.arange(-2.0, 2.01, 0.1), 2)
    acc = np.array([((scores >= t) == (y > 0)).mean() for t in grid])
    best = np.where(acc >= acc.max() - 1e-12)[0]
    return float(grid[best[np.argmin(np.abs(grid[best]))]])
