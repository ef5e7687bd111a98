"""Corpus-balanced training option (model.corpus_weights): each corpus group weighs the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.offline.data import load_labelled
from valuescope.extract.offline import decide
from valuescope.extract.offline import model as M
from valuescope.extract.offline.corpora import corpus_of


def test_corpus_groups_get_equal_total_weight(shared_dir: Path) -> None:
    _, labels, _ = load_labelled(shared_dir, ("dev", "dev3"))
    w = M.corpus_weights(labels)
    groups = np.array([M.CORPUS_GROUP[corpus_of(str(r["id"]))] for r in labels])
    totals = {g: w[groups == g].sum() for g in set(groups)}
    assert set(totals) == {"red-team", "benchmark", "ShareGPT"}
    assert np.allclose(list(totals.values()), len(w) / 3)
    assert abs(w.mean() - 1.0) < 1e-12
    # ShareGPT (300 of dev3) is down-weighted against the 400 dev rows split over two groups
    assert w[groups == "ShareGPT"].max() < w[groups == "red-team"].min()


def test_weighted_micro_f1_equals_repeated_rows() -> None:
    rng = np.random.default_rng(0)
    pred, ref = rng.random((30, 5)) < 0.4, (rng.random((30, 5)) < 0.3).astype(int)
    k = rng.integers(1, 4, 30)
    rep = np.repeat(np.arange(30), k)
    assert np.isclose(decide.micro_f1(pred, ref, k.astype(float)), decide.micro_f1(pred[rep], ref[rep]))
    assert decide.micro_f1(pred, ref, np.ones(30)) == decide.micro_f1(pred, ref)


def test_balancing_changes_only_the_balanced_heads(shared_dir: Path) -> None:
    _, labels, _ = load_labelled(shared_dir, ("dev", "dev3"))
    labels = labels[:60] + labels[-60:]  # red-team/benchmark rows and ShareGPT rows
    X = np.random.default_rng(1).normal(size=(len(labels), M.ENGINEERED + 8))
    plain, balanced = (M.fit(X, labels, balance_corpora=b, harm_margin=0.0) for b in (False, True))
    for h in ("subjective", "task", "ai_l2", "ai_l3", "human_l2", "human_l3", "explicit"):
        assert np.array_equal(plain.W[h], balanced.W[h]), h
    for h in ("harmful", "human_any", "direction"):
        assert not np.allclose(plain.W[h], balanced.W[h]), h
