"""k-fold cross-validation of the offline model, scored by valuescope.evaluate.

Out-of-fold predictions are turned into the same rows the extractor writes
(judgments + values with their l2), then scored by
``evaluate.compute_metrics`` — the function behind ``valuescope evaluate`` —
so CV numbers and run-level numbers share one definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from valuescope.evaluate import compute_metrics
from valuescope.extract.offline import model as M


def prediction_rows(ids: list[str], pred: dict[str, np.ndarray]) -> tuple[list[dict], list[dict]]:
    """Judgment rows and value rows (l2 only) from model predictions."""
    judgments, values = [], []
    for i, cid in enumerate(ids):
        judgments.append({
            "id": cid, "subjective": bool(pred["subjective"][i]), "task_category": str(pred["task_category"][i]),
            "response": str(pred["response"][i]), "harmful_score": float(pred["harmful_score"][i]),
        })
        for side in ("ai", "human"):
            for j in np.where(pred[f"{side}_sets"][i])[0]:
                values.append({"id": cid, "side": side, "l2": M.L2S[j]})
    return judgments, values


def cross_validate(
    X: np.ndarray, labels: list[dict[str, Any]], k: int = 5, seed: int = 0, alpha: dict[str, float] | None = None,
    extra: tuple[np.ndarray, list[dict[str, Any]]] | None = None,
    views: list[dict[str, str]] | None = None, extra_views: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Metrics of out-of-fold predictions (each conversation predicted by a model that never saw it).

    ``extra`` (e.g. dev2) joins every training fold and is never scored, so
    the numbers remain k-fold CV on ``labels``. ``views`` (and ``extra_views``) turn on the
    TF-IDF n-gram heads, whose vocabulary is fitted on each training fold only.
    """
    T = M.label_arrays(labels)
    strat = T["subjective"] * 2 + T["harmful"]
    ids = [str(r["id"]) for r in labels]
    merged: dict[str, np.ndarray] = {}
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, strat):
        Xtr, Ltr = X[tr], [labels[i] for i in tr]
        if extra is not None:
            Xtr, Ltr = np.vstack([Xtr, extra[0]]), Ltr + list(extra[1])
        Vtr = Vte = None
        if views is not None:
            Vtr = [views[i] for i in tr] + list(extra_views or [])
            Vte = [views[i] for i in te]
        model = M.fit(Xtr, Ltr, alpha=alpha, seed=seed, views=Vtr)
        pred = model.predict(X[te], Vte)
        for key, v in pred.items():
            if key not in merged:
                merged[key] = np.zeros((len(ids),) + v.shape[1:], dtype=v.dtype)
            merged[key][te] = v
    judgments, values = prediction_rows(ids, merged)
    out = compute_metrics(judgments, values, {r["id"]: r for r in labels})
    out["folds"] = k
    out["seed"] = seed
    out["extra_training"] = 0 if extra is None else len(extra[1])
    return out
