"""Labelled training data: reference annotations joined to the shared corpora by id.

Used by scripts/train_offline.py, benchmarks/offline_cv.py and the tests; the
shared folder is always an argument (default ``../shared`` beside the repo).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from valuescope.evaluate import load_labels
from valuescope.records import Conversation, Message

CORPORA = ("hh_rlhf_harmless_base_test", "jailbreakbench", "mt_bench", "alpaca_eval")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_corpus(path: Path, ids: set[str] | None = None) -> list[Conversation]:
    """Conversations of one shared JSONL corpus (optionally only ``ids``), in file order."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            rec = json.loads(line)
            if ids is not None and rec["id"] not in ids:
                continue
            out.append(
                Conversation(
                    id=rec["id"], source=rec.get("source"), model=rec.get("model"), context=rec.get("context"),
                    messages=[Message(role=m["role"], content=m["content"] or "") for m in rec["messages"]],
                )
            )
    return out


def load_labelled(shared: str | Path, files: tuple[str, ...] = ("dev",)) -> tuple[list[Conversation], list[dict[str, Any]], dict[str, str]]:
    """(conversations, labels, sha256 of every input file) in label-file order."""
    root = Path(shared) / "data"
    labels: dict[str, dict[str, Any]] = {}
    hashes: dict[str, str] = {}
    for name in files:
        path = root / "reference-annotations" / f"{name}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"labels not found: {path} (is --shared the shared data folder?)")
        labels.update(load_labels(path))
        hashes[f"reference-annotations/{name}.jsonl"] = sha256_file(path)
    convs: dict[str, Conversation] = {}
    for corpus in CORPORA:
        path = root / "conversations" / f"{corpus}.jsonl"
        hashes[f"conversations/{corpus}.jsonl"] = sha256_file(path)
        for c in read_corpus(path, set(labels)):
            convs[c.id] = c
    missing = [i for i in labels if i not in convs]
    if missing:
        raise ValueError(f"{len(missing)} labelled ids have no conversation in the shared corpora, e.g. {missing[:3]}")
    ids = list(labels)
    return [convs[i] for i in ids], [labels[i] for i in ids], hashes
