"""Cached embeddings of taxonomy texts (leaf names, cluster descriptions).

Embedding the 3,307 published leaves takes tens of seconds on two cores, so
their vectors ship in package data (``data/taxonomy/<embedder>.npy``, float16)
with a sidecar JSON naming the embedder, the tree sha and the texts. A text's
vector depends only on the text and the embedder, so any tree (a held-out
copy, a user's own tree) reuses the cached rows it shares and embeds only the
rest. A cache whose embedder differs is ignored; ``build_bundled_cache``
recomputes it when the bundled tree changes.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from valuescope import registry
from valuescope.embed import Embedder, get_embedder
from valuescope.embed.base import l2_normalise
from valuescope.taxonomy.reference import Tree, bundled_dir, published_tree


def tree_sha(tree: Tree) -> str:
    """Content hash of a tree's structure and texts (not its file path)."""
    h = hashlib.sha256()
    for n in sorted(tree.nodes.values(), key=lambda n: n.cluster_id):
        h.update("\x1f".join([n.cluster_id, n.name, str(n.level), n.parent_id or "", n.description]).encode())
        h.update(b"\x1e")
    return h.hexdigest()[:16]


def node_text(tree: Tree, cluster_id: str) -> str:
    """What we embed for a cluster: its name and description."""
    node = tree.nodes[cluster_id]
    return f"{node.name}: {node.description}" if node.description else node.name


def bundled_texts(tree: Tree) -> list[str]:
    leaves = [n.name for n in tree.leaves]
    clusters = [node_text(tree, n.cluster_id) for n in tree.nodes.values() if n.level > 0]
    return list(dict.fromkeys(leaves + clusters))


def _cache_dir() -> Path:
    return Path(str(resources.files("valuescope.data") / "taxonomy"))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@lru_cache(maxsize=4)
def _load_cache(embedder_name: str) -> dict[str, np.ndarray]:
    d = _cache_dir()
    meta_path, vec_path = d / f"{_safe(embedder_name)}.json", d / f"{_safe(embedder_name)}.npy"
    if not (meta_path.is_file() and vec_path.is_file()):
        return {}
    meta = json.loads(meta_path.read_text("utf-8"))
    if meta.get("embedder") != embedder_name:
        return {}
    vecs = np.load(vec_path).astype(np.float32)
    if len(vecs) != len(meta["texts"]):
        return {}
    return dict(zip(meta["texts"], vecs, strict=True))


class TextVectors:
    """Text -> vector, backed by the bundled cache plus an in-memory store."""

    def __init__(self, embedder: Embedder | str | None = None) -> None:
        self.embedder = get_embedder(embedder) if isinstance(embedder, str) else (embedder or get_embedder())
        self.store: dict[str, np.ndarray] = dict(_load_cache(self.embedder.name))
        self.computed = 0

    @property
    def name(self) -> str:
        return self.embedder.name

    def __call__(self, texts: list[str], batch: int = 4096) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.store))
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            for text, vec in zip(chunk, self.embedder.embed(chunk), strict=True):
                self.store[text] = vec
            self.computed += len(chunk)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return l2_normalise(np.stack([self.store[t] for t in texts]))


def build_bundled_cache(embedder_name: str | Embedder | None = None) -> Path:
    """(Re)compute the shipped vectors of the bundled tree for one embedder (a registry name or an instance)."""
    tree = published_tree()
    if isinstance(embedder_name, Embedder):
        embedder = embedder_name
    else:
        embedder = get_embedder(embedder_name) if embedder_name else get_embedder()
    texts = bundled_texts(tree)
    vecs = embedder.embed(texts).astype(np.float16)
    d = _cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / f"{_safe(embedder.name)}.npy", vecs)
    meta = {
        "embedder": embedder.name,
        "tree_sha": tree_sha(tree),
        "tree_source": str((bundled_dir() / "values_tree.csv").name),
        "dtype": "float16",
        "texts": texts,
    }
    (d / f"{_safe(embedder.name)}.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    _load_cache.cache_clear()
    return d / f"{_safe(embedder.name)}.npy"


def bundled_cache_is_current(embedder_name: str | None = None) -> bool:
    """True when the shipped vectors match the bundled tree and embedder (a registry or embedder name)."""
    if embedder_name and embedder_name not in registry.names("embedder"):
        name = embedder_name
    else:
        name = get_embedder(embedder_name).name if embedder_name else get_embedder().name
    meta_path = _cache_dir() / f"{_safe(name)}.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text("utf-8"))
    return meta.get("embedder") == name and meta.get("tree_sha") == tree_sha(published_tree())
