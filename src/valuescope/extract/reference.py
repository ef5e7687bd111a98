"""The reference extractor: judgments made elsewhere, joined by conversation id.

Reads a JSONL file in the annotation format of GUIDELINES.md (protocol v1) —
from human annotators, another pipeline, or the shared reference set — so
every later stage (taxonomy, analyses, report, evaluate) can run on them.
A conversation with no annotation is quarantined, not guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from valuescope.errors import ValuescopeError
from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig
from valuescope.records import Conversation, Extraction, Judgment, ValueMention, stable_hash


class LabelsError(ValuescopeError, ValueError):
    """A labels file that cannot be read; the message names the file and line."""


def load_annotations(path: str | Path) -> dict[str, dict[str, Any]]:
    """id -> annotation. Raises LabelsError naming `path:line` for bad JSON, a non-object or a missing id."""
    out = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise LabelsError(
                        f"{path}:{n}: bad JSON in the labels file: {exc.msg} (column {exc.colno})"
                    ) from None
                if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                    raise LabelsError(f'{path}:{n}: a label must be a JSON object with a string "id"')
                out[rec["id"]] = rec
    except UnicodeDecodeError as exc:
        raise LabelsError(f"{path}: the labels file is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return out


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


class ReferenceExtractor(Extractor):
    batch_size = 1000

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__(config)
        if not config.reference:
            raise ValueError("the reference extractor needs a labels file (--reference LABELS.jsonl)")
        self.path = Path(config.reference)
        if not self.path.is_file():
            raise FileNotFoundError(f"reference labels not found: {self.path}")
        self._labels: dict[str, dict[str, Any]] | None = load_annotations(
            self.path
        )  # bad file: error now, not in a worker

    @property
    def name(self) -> str:
        return f"reference:{self.path.name}"

    def cache_config(self) -> dict[str, Any]:
        return {"name": self.name, "sha": stable_hash(self.path.read_bytes().decode("utf-8", "replace"))}

    def load(self) -> None:
        if self._labels is None:
            self._labels = load_annotations(self.path)

    def extract(self, conversations: list[Conversation]) -> list[Extraction]:
        assert self._labels is not None, "load() first"
        out = []
        for conv in conversations:
            rec = self._labels.get(conv.id)
            if rec is None:
                out.append(Extraction(id=conv.id, error=f"no annotation for this id in {self.path.name}"))
            else:
                try:
                    out.append(annotation_to_extraction(rec, self.name))
                except (KeyError, ValueError) as exc:
                    out.append(Extraction(id=conv.id, error=f"invalid annotation: {exc}"))
        return out
