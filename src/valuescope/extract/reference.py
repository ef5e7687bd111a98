"""The reference extractor: judgments made elsewhere, joined by conversation id.

Reads a JSONL file in the annotation format of GUIDELINES.md (protocol v1) —
from human annotators, another pipeline, or the shared reference set — so
every later stage (taxonomy, analyses, report, evaluate) can run on them.
A conversation with no annotation is quarantined, not guessed.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from valuescope.errors import ValuescopeError
from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig
from valuescope.records import Conversation, Extraction, Judgment, ValueMention


class LabelsError(ValuescopeError, ValueError):
    """A labels file that cannot be read; the message names the file and line."""


def annotation_to_extraction(rec: dict[str, Any], extractor: str) -> Extraction:
    judgment = Judgment(
        id=rec["id"],
        subjective=bool(rec["subjective"]),
        task=rec.get("task", ""),
        task_category=rec.get("task_category", "other"),
        response=rec.get("response", "no_human_values"),
        harmful_score=1.0 if rec.get("harmful_compliance") else 0.0,
        extractor=extractor,
    )
    values = [
        ValueMention(id=rec["id"], side="ai", value=v["value"], explicit=v.get("explicit"), l2_hint=v.get("l2"))
        for v in rec.get("ai_values", [])
    ] + [
        ValueMention(id=rec["id"], side="human", value=v["value"], l2_hint=v.get("l2"))
        for v in rec.get("human_values", [])
    ]
    return Extraction(id=rec["id"], judgment=judgment, values=values)


class LabelsIndex:
    """Where each id's label lies in a JSONL file: 16 bytes per label (sorted id hashes + byte offsets).

    A labels file as large as the corpus (one judgment per conversation) then costs each worker
    about 16 MB per million labels instead of the parsed records (several GB); lookups seek and
    parse only the lines a batch needs. The last line of a repeated id wins.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        hashes, offsets = array("Q"), array("q")  # flat machine words, not Python ints
        with open(path, "rb") as fh:
            n, offset = 0, 0
            for raw in fh:
                n += 1
                if raw.strip():
                    rec = _parse_line(path, n, raw)
                    hashes.append(_id_hash(rec["id"]))
                    offsets.append(offset)
                offset += len(raw)
        h = np.frombuffer(hashes, dtype=np.uint64) if hashes else np.zeros(0, np.uint64)
        o = np.frombuffer(offsets, dtype=np.int64) if offsets else np.zeros(0, np.int64)
        order = np.lexsort((o, h))
        self.hashes, self.offsets = h[order], o[order]

    def __len__(self) -> int:
        return len(self.hashes)

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """id -> annotation for the ids that have one (reads only their lines)."""
        wanted: list[tuple[int, str]] = []
        for id_ in ids:
            h = np.uint64(_id_hash(id_))
            lo = int(np.searchsorted(self.hashes, h, side="left"))
            hi = int(np.searchsorted(self.hashes, h, side="right"))
            wanted.extend((int(self.offsets[k]), id_) for k in range(lo, hi))  # a hash collision: >1 line
        out: dict[str, dict[str, Any]] = {}
        with open(self.path, "rb") as fh:
            for offset, id_ in sorted(wanted):  # file order: the last occurrence of an id wins
                fh.seek(offset)
                rec = json.loads(fh.readline())
                if rec["id"] == id_:
                    out[id_] = rec
        return out


def load_annotations(path: str | Path) -> dict[str, dict[str, Any]]:
    """id -> annotation, the whole file in memory (a reference set of a few thousand labels: tests,
    benchmarks); the extractor itself uses :class:`LabelsIndex`. Errors name `path:line`."""
    path = Path(path)
    out: dict[str, dict[str, Any]] = {}
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if raw.strip():
                rec = _parse_line(path, n, raw)
                out[rec["id"]] = rec
    return out


def _id_hash(id_: str) -> int:
    return int.from_bytes(hashlib.blake2b(id_.encode("utf-8"), digest_size=8).digest(), "little")


def _parse_line(path: Path, n: int, raw: bytes) -> dict[str, Any]:
    try:
        rec = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise LabelsError(f"{path}: the labels file is not UTF-8 ({exc.reason} at line {n})") from None
    except json.JSONDecodeError as exc:
        raise LabelsError(f"{path}:{n}: bad JSON in the labels file: {exc.msg} (column {exc.colno})") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
        raise LabelsError(f'{path}:{n}: a label must be a JSON object with a string "id"')
    return rec


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ReferenceExtractor(Extractor):
    batch_size = 1000

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__(config)
        if not config.reference:
            raise ValueError("the reference extractor needs a labels file (--reference LABELS.jsonl)")
        self.path = Path(config.reference)
        if not self.path.is_file():
            raise FileNotFoundError(f"reference labels not found: {self.path}")
        self._index: LabelsIndex | None = LabelsIndex(self.path)  # bad file: error now, not in a worker
        self._sha = _file_sha256(self.path)

    @property
    def name(self) -> str:
        return f"reference:{self.path.name}"

    def cache_config(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self._sha}

    def load(self) -> None:
        if self._index is None:
            self._index = LabelsIndex(self.path)

    def extract(self, conversations: list[Conversation]) -> list[Extraction]:
        assert self._index is not None, "load() first"
        labels = self._index.get_many([c.id for c in conversations])
        out = []
        for conv in conversations:
            rec = labels.get(conv.id)
            if rec is None:
                out.append(Extraction(id=conv.id, error=f"no annotation for this id in {self.path.name}"))
            else:
                try:
                    out.append(annotation_to_extraction(rec, self.name))
                except (KeyError, ValueError) as exc:
                    out.append(Extraction(id=conv.id, error=f"invalid annotation: {exc}"))
        return out
