"""Build the shipped bundle from the shared data (called by scripts/train_offline.py).

Deterministic: fixed fold seeds, one embedding thread, sorted inputs and a
zip writer with fixed timestamps — so the same shared data and package
versions give byte-identical ``model.npz`` (checked by the tests).
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np

from training.offline import data as D
from training.offline import vocab as V
from valuescope.extract.offline import bundle as B
from valuescope.extract.offline import features as F
from valuescope.extract.offline import model as M
from valuescope.records import Conversation
from valuescope.taxonomy.reference import published_tree


def prototypes(embedders: dict, tree) -> dict[str, np.ndarray]:  # noqa: ANN001
    e = embedders["aall"]
    return {"l2": e.embed(V.l2_texts(tree)), "l3": e.embed(V.l3_texts(tree)), "task": e.embed(V.task_texts())}


def view_embeddings(convs: list[Conversation], embedders: dict, cache: Path | None = None) -> dict[str, np.ndarray]:
    """View embeddings of ``convs``; ``cache`` (an .npz of ids + one array per view) is looked up
    by id, so any superset of the conversations serves, and only the missing ones are embedded
    (then added to the cache)."""
    ids = [c.id for c in convs]
    have: dict[str, int] = {}
    stored: dict[str, np.ndarray] = {}
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            stored = {v: z[v] for v in F.VIEWS}
            have = {str(i): k for k, i in enumerate(z["ids"])}
    missing = [c for c in convs if c.id not in have]
    if missing:
        new = F.embed_views(missing, embedders)
        base = len(have)
        for k, c in enumerate(missing):
            have[c.id] = base + k
        stored = {v: np.vstack([stored[v], new[v]]) if stored else new[v] for v in F.VIEWS}
        if cache is not None:
            order = sorted(have, key=have.get)
            np.savez(cache, ids=np.array(order), **stored)
    rows = [have[i] for i in ids]
    return {v: stored[v][rows] for v in F.VIEWS}


def featurize(
    convs: list[Conversation], embedders: dict, protos: dict[str, np.ndarray], cache: Path | None = None
) -> np.ndarray:
    """Features (view embeddings reused from ``cache`` when it has them, see view_embeddings)."""
    return F.assemble(view_embeddings(convs, embedders, cache), F.lexical_matrix(convs), protos)


AGREEMENT_KEYS = (
    "subjective_accuracy",
    "ai_l3_micro_f1",
    "ai_l2_micro_f1",
    "human_l3_micro_f1",
    "human_l2_micro_f1",
    "response_macro_f1",
    "task_category_accuracy",
    "benign_as_harmful",
    "ai_l2_profile_spearman",
    "harmful_auroc",
)


def agreement_from_cv(cv_json: dict[str, Any], method: str = "offline") -> dict[str, Any]:
    """The measured agreement stored with the weights, from benchmarks/offline_cv.py --json-out:
    the out-of-fold figures of ``method`` (the column matching the shipped decisions: "offline" =
    tuned harmful margin, "main" = the same heads with a plain-argmax task decision), overall and
    per corpus, and what they were measured on."""
    res = cv_json["methods"][method]
    keep = lambda d: {k: (None if d.get(k) is None else round(float(d[k]), 4)) for k in AGREEMENT_KEYS}  # noqa: E731
    files = "+".join(cv_json["files"]) + (
        f" (+{'+'.join(cv_json['extra'])} in every training fold)" if cv_json.get("extra") else ""
    )
    return {
        "method": f"{cv_json['folds']}-fold cross-validation (out-of-fold predictions, thresholds tuned on inner folds)",
        "measured_on": f"{cv_json['n']} conversations with protocol-v1 reference annotations ({files})",
        "n": cv_json["n"],
        "files": cv_json["files"],
        "extra": cv_json.get("extra", []),
        "overall": keep(res),
        "by_corpus": {c: {"n": v["n"], **keep(v)} for c, v in res["by_corpus"].items()},
    }


def build(
    shared: str | Path,
    files: tuple[str, ...],
    out: Path,
    embedder: str = "minilm",
    limit: int | None = None,
    threads: int = 1,
    cache: Path | None = None,
    agreement: dict[str, Any] | None = None,
    harm_margin: float | None = None,
    balance_corpora: bool | None = None,
) -> dict[str, Any]:
    """Train on ``files`` (optionally the first ``limit`` records) and write the bundle to ``out``;
    ``agreement`` (see agreement_from_cv) is stored in model.json for the report's methods section."""
    convs, labels, hashes = D.load_labelled(shared, files)
    if limit:
        convs, labels = convs[:limit], labels[:limit]
    embedders = B.view_embedders(embedder, threads=threads)
    tree = published_tree()
    protos = prototypes(embedders, tree)
    X = featurize(convs, embedders, protos, cache)
    balance = M.BALANCE_CORPORA if balance_corpora is None else balance_corpora
    model = M.fit(
        X, labels, views=[F.conversation_views(c) for c in convs], harm_margin=harm_margin, balance_corpora=balance
    )
    leaves = V.candidate_leaves(tree)
    phrases = V.task_phrase_list()
    leaf_emb = embedders["aall"].embed([n for n, _, _ in leaves])
    phrase_emb = embedders["user"].embed([p for _, p in phrases])
    meta = {
        "embedder": embedder,
        "view_tokens": F.VIEW_TOKENS,
        "features": int(X.shape[1]),
        "leaves": [list(x) for x in leaves],
        "phrases": [list(x) for x in phrases],
        "params": model.params,
        "harm_margin": "tuned" if harm_margin is None else float(harm_margin),
        "balance_corpora": bool(balance),
        "trained_on": {"files": list(files), "n": len(labels), "limit": limit, "inputs_sha256": hashes},
        "python": platform.python_version(),
    }
    if agreement is not None:
        meta["agreement"] = agreement
    bundle = B.Bundle(model, protos, leaf_emb, phrase_emb, meta)
    B.save(bundle, out)
    return bundle.meta


def attach_agreement(folder: Path, agreement: dict[str, Any]) -> dict[str, Any]:
    """Store ``agreement`` in an existing bundle's model.json (model.npz, and so the weights'
    sha256, are untouched: it is what ``build(..., agreement=...)`` would have written)."""
    meta = B.load(folder).meta
    meta["agreement"] = agreement
    B.write_meta(folder, meta)
    return meta
