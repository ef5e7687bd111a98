"""Shipped weights: provenance matches the shared data, and training is bit-for-bit reproducible.

The full check (retrain all 600 and compare with the shipped model.npz) is
``scripts/train_offline.py --out /tmp/x`` + comparing sha256; here a
deterministic subset is trained twice from scratch (CI budget).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

import valuescope
from training.offline.data import load_labelled, sha256_file
from training.offline.train import build
from valuescope.extract.offline import bundle as B
from valuescope.extract.offline.heads import load_arrays, save_arrays


def test_shipped_bundle_provenance(shared_dir: Path) -> None:
    b = B.load()
    folder = B.default_dir()
    assert hashlib.sha256((folder / "model.npz").read_bytes()).hexdigest() == b.meta["weights_sha256"]
    package = Path(valuescope.__file__).resolve().parents[1]
    for rel, sha in b.meta["trained_on"]["inputs_sha256"].items():
        path = package / rel if rel.startswith("valuescope/") else shared_dir / "data" / rel
        assert sha256_file(path) == sha, f"{rel} changed since the weights were trained"
    files = b.meta["trained_on"]["files"]
    assert b.meta["trained_on"]["n"] == len(load_labelled(shared_dir, tuple(files))[1])
    assert "sharegpt" in " ".join(files + list(b.meta["trained_on"]["inputs_sha256"]))  # ordinary traffic is in
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert b.meta["weights_sha256"] in readme


def test_shipped_bundle_carries_its_measured_agreement() -> None:
    ag = B.load().meta["agreement"]
    assert "cross-validation" in ag["method"] and ag["n"] > 0
    assert "ShareGPT" in ag["by_corpus"]
    for scope in [ag["overall"], *ag["by_corpus"].values()]:
        assert 0.0 <= scope["subjective_accuracy"] <= 1.0


def test_training_is_bit_for_bit_reproducible(shared_dir: Path, tmp_path: Path) -> None:
    metas = [build(shared_dir, ("dev",), tmp_path / name, limit=16, threads=1) for name in ("a", "b")]
    a, b = (tmp_path / n / "model.npz" for n in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert metas[0]["weights_sha256"] == metas[1]["weights_sha256"]
    assert json.loads((tmp_path / "a" / "model.json").read_text()) == json.loads(
        (tmp_path / "b" / "model.json").read_text()
    )


def test_array_store_roundtrip_is_deterministic(tmp_path: Path) -> None:
    arrays = {"w": np.arange(12, dtype=np.float64).reshape(3, 4), "names": np.array(["x", "yz"])}
    save_arrays(tmp_path / "1.npz", arrays)
    save_arrays(tmp_path / "2.npz", dict(reversed(list(arrays.items()))))
    assert (tmp_path / "1.npz").read_bytes() == (tmp_path / "2.npz").read_bytes()
    back = load_arrays(tmp_path / "1.npz")
    assert np.array_equal(back["w"], arrays["w"]) and list(back["names"]) == ["x", "yz"]


def test_shipped_ngram_vocabularies_are_plain_arrays() -> None:
    from valuescope.extract.offline import features as F

    a = load_arrays(B.default_dir() / "model.npz")  # allow_pickle=False
    for name in F.TFIDF_SPECS:
        terms, idf = a[f"model_tfidf_terms_{name}"], a[f"model_tfidf_idf_{name}"]
        assert terms.dtype.kind == "U" and idf.dtype == np.float64 and len(terms) == len(idf) > 0
        assert list(terms) == sorted(terms)
    m = B.load().model
    views = [F.conversation_views_of_text(t) for t in ("", "x" * 50000, "日本語のテキスト", "def f():\n    return {};")]
    Xt = m.text_matrix(views, len(views))
    assert Xt.shape[0] == 4 and np.isfinite(Xt).all()


def test_attaching_agreement_keeps_the_weights(tmp_path: Path) -> None:
    import shutil

    from training.offline.train import agreement_from_cv, attach_agreement

    for name in ("model.npz", "model.json"):
        shutil.copy(B.default_dir() / name, tmp_path / name)
    before = (tmp_path / "model.npz").read_bytes()
    scope = {"subjective_accuracy": 0.91, "ai_l3_micro_f1": 0.7, "benign_as_harmful": 0.004}
    cv_json = {
        "files": ["dev", "dev3"],
        "extra": ["labels-a1"],
        "folds": 5,
        "n": 700,
        "methods": {
            "offline": {**scope, "by_corpus": {"ShareGPT": {"n": 300, **scope, "subjective_accuracy": 0.85}}},
            "main": {**scope, "subjective_accuracy": 0.1, "by_corpus": {}},
        },
    }
    meta = attach_agreement(tmp_path, agreement_from_cv(cv_json))
    assert (tmp_path / "model.npz").read_bytes() == before
    back = B.load(tmp_path).meta
    assert back == meta and back["weights_sha256"] == hashlib.sha256(before).hexdigest()
    ag = back["agreement"]
    assert ag["overall"]["subjective_accuracy"] == 0.91  # this model's figures, not main's
    assert ag["by_corpus"]["ShareGPT"] == {
        "n": 300,
        **{k: None for k in ag["overall"]},
        **scope,
        "subjective_accuracy": 0.85,
    }
    assert "700" in ag["measured_on"] and "labels-a1" in ag["measured_on"]
