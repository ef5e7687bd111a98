"""Labelled training data: reference annotations joined to the shared corpora by id.

Used by scripts/train_offline.py, benchmarks/offline_cv.py and the tests; the
shared folder is always an argument (default ``../shared`` beside the repo).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import valuescope
from valuescope.evaluate import load_labels
from valuescope.records import Conversation, Message

CORPORA = ("hh_rlhf_harmless_base_test", "jailbreakbench", "mt_bench", "alpaca_eval", "sharegpt")
# Extra protocol-v1 label files kept in the repo (ShareGPT conversations annotated for this
# extractor; provenance in labels/README.md). A ``--files`` entry naming one of these is read
# from here instead of the shared reference-annotations folder.
REPO_LABELS = Path(valuescope.__file__).resolve().parent / "data" / "offline" / "labels"


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
                    id=rec["id"],
                    source=rec.get("source"),
                    model=rec.get("model"),
                    context=rec.get("context"),
                    messages=[Message(role=m["role"], content=m["content"] or "") for m in rec["messages"]],
                )
            )
    return out


def label_path(shared: str | Path, name: str) -> tuple[Path, str]:
    """(path, provenance key) of a label file: shared reference annotations, else the repo's labels/."""
    path = Path(shared) / "data" / "reference-annotations" / f"{name}.jsonl"
    if path.is_file():
        return path, f"reference-annotations/{name}.jsonl"
    own = REPO_LABELS / f"{name}.jsonl"
    if own.is_file():
        return own, f"valuescope/data/offline/labels/{name}.jsonl"
    raise FileNotFoundError(f"labels not found: {path} nor {own} (is --shared the shared data folder?)")


def heldout_ids(shared: str | Path) -> set[str]:
    path = Path(shared) / "data" / "reference-annotations" / "heldout_ids.txt"
    return set(path.read_text(encoding="utf-8").split()) if path.is_file() else set()


def load_labelled(
    shared: str | Path, files: tuple[str, ...] = ("dev",)
) -> tuple[list[Conversation], list[dict[str, Any]], dict[str, str]]:
    """(conversations, labels, sha256 of every input file) in label-file order.

    A later file never overrides an id of an earlier one, and an id listed in
    heldout_ids.txt is an error: held-out conversations must never be trained on.
    """
    root = Path(shared) / "data"
    labels: dict[str, dict[str, Any]] = {}
    hashes: dict[str, str] = {}
    held = heldout_ids(shared)
    for name in files:
        path, key = label_path(shared, name)
        recs = load_labels(path)
        bad = sorted(set(recs) & held)
        if bad:
            raise ValueError(f"{path}: {len(bad)} held-out ids (never train on them), e.g. {bad[:3]}")
        for i, r in recs.items():
            labels.setdefault(i, r)
        hashes[key] = sha256_file(path)
    convs: dict[str, Conversation] = {}
    for corpus in CORPORA:
        path = root / "conversations" / f"{corpus}.jsonl"
        if not path.is_file():
            continue
        hashes[f"conversations/{corpus}.jsonl"] = sha256_file(path)
        for c in read_corpus(path, set(labels)):
            convs[c.id] = c
    missing = [i for i in labels if i not in convs]
    if missing:
        raise ValueError(f"{len(missing)} labelled ids have no conversation in the shared corpora, e.g. {missing[:3]}")
    ids = list(labels)
    return [convs[i] for i in ids], [labels[i] for i in ids], hashes
