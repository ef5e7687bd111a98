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

from valuescope.extract.offline import bundle as B
from valuescope.extract.offline import data as D
from valuescope.extract.offline import features as F
from valuescope.extract.offline import model as M
from valuescope.extract.offline import vocab as V
from valuescope.records import Conversation
from valuescope.taxonomy.reference import published_tree


def prototypes(embedders: dict, tree) -> dict[str, np.ndarray]:  # noqa: ANN001
    e = embedders["aall"]
    return {"l2": e.embed(V.l2_texts(tree)), "l3": e.embed(V.l3_texts(tree)), "task": e.embed(V.task_texts())}


def featurize(convs: list[Conversation], embedders: dict, protos: dict[str, np.ndarray], cache: Path | None = None) -> np.ndarray:
    """Features; ``cache`` (an .npz of ids + one array per view) skips re-embedding when its ids match."""
    ids = [c.id for c in convs]
    emb = None
    if cache is not None and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        if list(z["ids"]) == ids:
            emb = {v: z[v] for v in F.VIEWS}
    if emb is None:
        emb = F.embed_views(convs, embedders)
        if cache is not None:
            np.savez(cache, ids=np.array(ids), **emb)
    return F.assemble(emb, F.lexical_matrix(convs), protos)


def build(shared: str | Path, files: tuple[str, ...], out: Path, embedder: str = "minilm", limit: int | None = None, threads: int = 1, cache: Path | None = None) -> dict[str, Any]:
    """Train on ``files`` (optionally the first ``limit`` records) and write the bundle to ``out``."""
    convs, labels, hashes = D.load_labelled(shared, files)
    if limit:
        convs, labels = convs[:limit], labels[:limit]
    embedders = B.view_embedders(embedder, threads=threads)
    tree = published_tree()
    protos = prototypes(embedders, tree)
    X = featurize(convs, embedders, protos, cache)
    model = M.fit(X, labels, views=[F.conversation_views(c) for c in convs])
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
        "trained_on": {"files": list(files), "n": len(labels), "limit": limit, "inputs_sha256": hashes},
        "python": platform.python_version(),
    }
    bundle = B.Bundle(model, protos, leaf_emb, phrase_emb, meta)
    B.save(bundle, out)
    return bundle.meta
