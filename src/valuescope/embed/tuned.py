"""MiniLM fine-tuned on the published taxonomy (int8 ONNX in package data), run by onnxruntime.

Why: placement's frozen encoders judge surface similarity; this one was trained
(``training/tuned_train.py``, ``scripts/train_place_encoder.py``) to predict every
published leaf's l1/l2/l3 cluster, so its heads' log-probabilities are
evidence the placer adds to its path score. The heads only mean something for
the tree the model was trained on (the sidecar JSON records its sha and class
ids); the embedding works for any text. Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from valuescope.embed.base import Embedder, l2_normalise
from valuescope.embed.minilm import bundled_tokenizer, cpu_session, token_batches

MAX_TOKENS = 64


def bundled_path() -> Path:
    return Path(str(resources.files("valuescope.data") / "taxonomy" / "place-encoder-minilm-tuned.int8.onnx"))


class TunedEmbedder(Embedder):
    """Embeddings and level log-probabilities from one fine-tuned ONNX file (default: the bundled one)."""

    name = "minilm-l6-v2-tuned-int8"
    dim = 384

    def __init__(self, path: str | Path | None = None, batch_size: int = 64, threads: int | None = None) -> None:
        self.path = Path(path) if path else bundled_path()
        self.meta = json.loads(self.path.with_suffix(".json").read_text("utf-8"))
        self.classes = [np.array(self.meta["classes"][f"l{k}"]) for k in (1, 2, 3)]
        self.tree_sha = self.meta.get("tree_sha", "")
        if path:  # a model trained elsewhere (e.g. per hold-out seed) gets a distinct cache key
            self.name = f"{TunedEmbedder.name}-{self.meta['model_sha256'][:12]}"
        self.tokenizer = bundled_tokenizer(MAX_TOKENS)
        self.threads, self.batch_size, self._session = threads, batch_size, None

    @property
    def session(self) -> Any:
        """Loaded on first use: runs whose values all match a published leaf never pay for it."""
        if self._session is None:
            self._session = cpu_session(str(self.path), self.threads)
        return self._session

    def run(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(n, 384) normalised embeddings and the l1/l2/l3 log-probabilities (n, n_classes) each."""
        emb = np.zeros((len(texts), self.dim), dtype=np.float32)
        logp = [np.zeros((len(texts), len(c)), dtype=np.float32) for c in self.classes]
        for idx, ids, mask in token_batches(self.tokenizer, texts, self.batch_size):
            out = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            emb[idx] = out[0]
            for k in range(3):
                z = out[k + 1] - out[k + 1].max(axis=1, keepdims=True)
                logp[k][idx] = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return l2_normalise(emb), logp

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.run(texts)[0]

    def path_scores(self, texts: list[str], paths: list[list[str]], weights: tuple[float, float, float]) -> np.ndarray:
        """(n, len(paths)) weighted sum of the heads' log-probabilities along each [l1, l2, l3] cluster-id path;
        a cluster the model never saw gets its level's lowest log-probability."""
        _, logp = self.run(texts)
        out = np.zeros((len(texts), len(paths)), dtype=np.float32)
        for k, w in enumerate(weights):
            if not w:
                continue
            pos = {c: i for i, c in enumerate(self.classes[k])}
            floor = logp[k].min(axis=1)
            cols = np.stack([logp[k][:, pos[p[k]]] if len(p) > k and p[k] in pos else floor for p in paths], axis=1)
            out += w * cols
        return out


def default_tuned(tree_sha: str, enabled: bool = True) -> TunedEmbedder | None:
    """The bundled tuned model when it was trained on this very tree (its heads name that tree's clusters),
    else None. ``taxonomy.place_tuned = false`` (``VALUESCOPE_PLACE_TUNED=off`` at the CLI) opts out."""
    if not enabled:
        return None
    path = bundled_path()
    if not path.is_file():
        return None
    meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
    if meta.get("tree_sha") != tree_sha:
        return None
    return _bundled()


@lru_cache(maxsize=1)
def _bundled() -> TunedEmbedder:
    return TunedEmbedder()
