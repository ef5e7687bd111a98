"""k-fold cross-validation of the offline model, scored by valuescope.evaluate.

Out-of-fold predictions are turned into the same rows the extractor writes
(judgments + values with their l2), then scored by
``evaluate.compute_metrics`` — the function behind ``valuescope evaluate`` —
so CV numbers and run-level numbers share one definition. Scores are given
overall and per source corpus (ShareGPT behaves unlike the red-team corpora),
with two figures evaluate does not have: the share of benign conversations
called "harmful or illicit request" and the Spearman correlation of the
predicted and reference AI l2 profiles (what the report's charts show).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.model_selection import StratifiedKFold

from valuescope.evaluate import compute_metrics
from valuescope.extract.offline import model as M
from valuescope.extract.offline.corpora import corpus_of

HARMFUL_CATEGORY = "harmful or illicit request"


def prediction_rows(ids: list[str], pred: dict[str, np.ndarray]) -> tuple[list[dict], list[dict]]:
    """Judgment rows and value rows (l2 only) from model predictions."""
    judgments, values = [], []
    for i, cid in enumerate(ids):
        judgments.append(
            {
                "id": cid,
                "subjective": bool(pred["subjective"][i]),
                "task_category": str(pred["task_category"][i]),
                "response": str(pred["response"][i]),
                "harmful_score": float(pred["harmful_score"][i]),
            }
        )
        for side in ("ai", "human"):
            for j in np.where(pred[f"{side}_sets"][i])[0]:
                values.append({"id": cid, "side": side, "l2": M.L2S[j]})
    return judgments, values


def benign_as_harmful(pred_cats: np.ndarray, labels: list[dict[str, Any]]) -> float | None:
    """Share of conversations whose reference task category is not harmful that were called harmful."""
    benign = np.array([r.get("task_category") != HARMFUL_CATEGORY for r in labels])
    if not benign.any():
        return None
    return float((np.asarray(pred_cats)[benign] == HARMFUL_CATEGORY).mean())


def profile_spearman(pred_sets: np.ndarray, labels: list[dict[str, Any]], side: str = "ai") -> float | None:
    """Spearman rank correlation, over the 26 l2 clusters, of how many conversations each is
    predicted in vs labelled in: does the aggregate profile a report shows keep its order?"""
    ref = M.label_arrays(labels)[f"{side}_l2"].sum(axis=0)
    got = np.asarray(pred_sets).sum(axis=0)
    if ref.std() == 0 or got.std() == 0:
        return None
    return float(spearmanr(got, ref).statistic)


def score(ids: list[str], pred: dict[str, np.ndarray], labels: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics of predictions (rows follow ``ids``/``labels``): overall and per corpus."""

    def one(rows: np.ndarray) -> dict[str, Any]:
        sub_ids = [ids[i] for i in rows]
        sub_pred = {k: v[rows] for k, v in pred.items()}
        sub_labels = [labels[i] for i in rows]
        j, v = prediction_rows(sub_ids, sub_pred)
        out = compute_metrics(j, v, {r["id"]: r for r in sub_labels})
        out["benign_as_harmful"] = benign_as_harmful(sub_pred["task_category"], sub_labels)
        out["ai_l2_profile_spearman"] = profile_spearman(sub_pred["ai_sets"], sub_labels)
        return out

    corpora = np.array([corpus_of(i) for i in ids])
    out = one(np.arange(len(ids)))
    out["by_corpus"] = {
        c: {"n": int((corpora == c).sum()), **one(np.where(corpora == c)[0])} for c in sorted(set(corpora))
    }
    # the four older corpora pooled: dev+dev2 (half red-team), whose numbers must hold
    older = np.where(corpora != "ShareGPT")[0]
    if len(older) and len(older) < len(ids):
        out["older_corpora"] = {"n": len(older), **one(older)}
    return out


def folds(labels: list[dict[str, Any]], k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified by corpus × subjective × harmful (the same folds for every method compared)."""
    T = M.label_arrays(labels)
    corpora = np.array([corpus_of(str(r["id"])) for r in labels])
    strat = np.char.add(corpora, (T["subjective"] * 2 + T["harmful"]).astype(str))
    # a stratum smaller than k cannot be split: it joins its corpus's largest stratum
    values, counts = np.unique(strat, return_counts=True)
    size = dict(zip(values, counts, strict=True))
    largest = {c: max((s for s in values if s.startswith(c)), key=lambda s: (size[s], s)) for c in set(corpora)}
    strat = np.array([largest[c] if size[s] < k else s for s, c in zip(strat, corpora, strict=True)])
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(labels)), strat))


def extra_rows(n_extra: int, limit: int | None, seed: int) -> np.ndarray:
    """Which rows of the training-only (``--extra``) files join every training fold: all, or a seeded
    random ``limit`` of them, in file order. Same seed, growing limit: nested subsets (360 inside
    720), so a learning curve adds labels instead of swapping them."""
    if limit is None or limit >= n_extra:
        return np.arange(n_extra)
    return np.sort(np.random.default_rng(seed).permutation(n_extra)[: max(limit, 0)])


Fitter = Callable[[list[int], list[int]], dict[str, np.ndarray]]


_JOB: tuple[Fitter, list[tuple[np.ndarray, np.ndarray]]] | None = None


def _run_fold(k: int) -> dict[str, np.ndarray]:
    assert _JOB is not None
    fit_predict, splits = _JOB
    tr, te = splits[k]
    return fit_predict(list(tr), list(te))


def out_of_fold(
    n: int, splits: list[tuple[np.ndarray, np.ndarray]], fit_predict: Fitter, jobs: int = 1
) -> dict[str, np.ndarray]:
    """Merge per-fold predictions: ``fit_predict(train_rows, test_rows)`` -> predictions of test rows.

    ``jobs`` > 1 runs folds in forked processes (same results: each fold is deterministic)."""
    global _JOB
    if jobs > 1:
        import multiprocessing

        _JOB = (fit_predict, splits)
        try:
            with multiprocessing.get_context("fork").Pool(min(jobs, len(splits))) as pool:
                results = pool.map(_run_fold, range(len(splits)))
        finally:
            _JOB = None
    else:
        results = [fit_predict(list(tr), list(te)) for tr, te in splits]
    merged: dict[str, np.ndarray] = {}
    for (_tr, te), pred in zip(splits, results, strict=True):
        for key, v in pred.items():
            if key not in merged:
                merged[key] = np.zeros((n,) + v.shape[1:], dtype=v.dtype)
            merged[key][te] = v
    return merged


def cross_validate(
    X: np.ndarray,
    labels: list[dict[str, Any]],
    k: int = 5,
    seed: int = 0,
    alpha: dict[str, float] | None = None,
    extra: tuple[np.ndarray, list[dict[str, Any]]] | None = None,
    views: list[dict[str, str]] | None = None,
    extra_views: list[dict[str, str]] | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    **fit_options: Any,
) -> dict[str, Any]:
    """Metrics of out-of-fold predictions (each conversation predicted by a model that never saw it).

    ``extra`` (e.g. dev2) joins every training fold and is never scored, so
    the numbers remain k-fold CV on ``labels``. ``views`` (and ``extra_views``) turn on the
    TF-IDF n-gram heads, whose vocabulary is fitted on each training fold only.
    ``fit_options`` go to ``model.fit`` (e.g. ``tune_harm_margin=False`` = the 3bf7a2f model).
    """
    ids = [str(r["id"]) for r in labels]

    def fit_predict(tr: list[int], te: list[int]) -> dict[str, np.ndarray]:
        Xtr, Ltr = X[tr], [labels[i] for i in tr]
        if extra is not None:
            Xtr, Ltr = np.vstack([Xtr, extra[0]]), Ltr + list(extra[1])
        Vtr = Vte = None
        if views is not None:
            Vtr = [views[i] for i in tr] + list(extra_views or [])
            Vte = [views[i] for i in te]
        model = M.fit(Xtr, Ltr, alpha=alpha, seed=seed, views=Vtr, **fit_options)
        return model.predict(X[te], Vte)

    merged = out_of_fold(len(ids), splits or folds(labels, k, seed), fit_predict)
    out = score(ids, merged, labels)
    out["folds"] = k
    out["seed"] = seed
    out["extra_training"] = 0 if extra is None else len(extra[1])
    return out
