"""Build small, real run directories for the analysis tests (no model, no network).

Conversations come from the shared corpora; judgments and values come from the
reference annotations (dev.jsonl + dev2.jsonl) through the real extract stage.
Values are "placed" from the annotators' l2 labels, as the analyses do when no
taxonomy stage has run.
"""

from __future__ import annotations

import json
from pathlib import Path

from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.extract.config import ExtractConfig
from valuescope.extract.stage import ExtractStage
from valuescope.ingest.table import conversations_to_table
from valuescope.privacy.ids import UserIdHasher
from valuescope.records import Conversation

FILES = ("hh_rlhf_harmless_base_test.jsonl", "jailbreakbench.jsonl", "mt_bench.jsonl", "alpaca_eval.jsonl")


def annotated_ids(reference_dir: Path) -> dict[str, Path]:
    out = {}
    for name in ("dev.jsonl", "dev2.jsonl"):
        with open(reference_dir / name, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    out[json.loads(line)["id"]] = reference_dir / name
    return out


def load_conversations(conversations_dir: Path, ids: set[str]) -> list[Conversation]:
    convs = []
    for name in FILES:
        with open(conversations_dir / name, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec["id"] in ids:
                    convs.append(Conversation(**{k: v for k, v in rec.items() if k in Conversation.model_fields}))
    return convs


def merged_labels(reference_dir: Path, out: Path) -> Path:
    """dev.jsonl + dev2.jsonl as one labels file for the reference extractor."""
    text = "".join((reference_dir / n).read_text("utf-8") for n in ("dev.jsonl", "dev2.jsonl"))
    out.write_text(text, "utf-8")
    return out


def build_reference_run(
    path: Path, conversations_dir: Path, reference_dir: Path, ids: set[str] | None = None, users: int = 0
) -> RunDir:
    """A run with conversations + judgments + mentions for annotated conversations.

    With ``users`` > 0, conversation i belongs to user i mod ``users`` (salted hash, as ingest stores it).
    """
    run = RunDir(path)
    all_ids = set(annotated_ids(reference_dir))
    convs = load_conversations(conversations_dir, ids & all_ids if ids else all_ids)
    if users:
        hasher = UserIdHasher(b"analysis-tests-salt-0123456789abcdef")
        convs = [c.model_copy(update={"user_id": hasher(f"user-{i % users}")}) for i, c in enumerate(convs)]
    run.write_table("conversations", conversations_to_table(convs))
    labels = merged_labels(reference_dir, path / "labels.jsonl")
    run_stages(run, [ExtractStage(ExtractConfig(extractor="reference", reference=str(labels)))], workers=1, quiet=True)
    return run


def tiny_run(path: Path, judgments: list[dict], values: list[tuple], conversations: list[dict] | None = None) -> RunDir:
    """A hand-made run: judgments rows, values as (id, side, value_norm, l2, explicit) tuples."""
    import pandas as pd

    from valuescope.analysis.data import L2_TO_L3

    run = RunDir(path)
    base = {
        "subjective": True,
        "task": "",
        "task_category": "other",
        "response": "no_human_values",
        "harmful_score": 0.0,
        "extractor": "test",
    }
    run.write_table("judgments", pd.DataFrame([{**base, **j} for j in judgments], columns=[*base, "id"]))
    rows = [
        {
            "id": i,
            "side": s,
            "value": v,
            "explicit": e,
            "l2_hint": l2,
            "confidence": None,
            "value_norm": v,
            "leaf": None,
            "l1": None,
            "l2": l2,
            "l3": L2_TO_L3.get(l2),
            "score": 1.0,
            "is_new": False,
        }
        for i, s, v, l2, e in values
    ]
    cols = [
        "id",
        "side",
        "value",
        "explicit",
        "l2_hint",
        "confidence",
        "value_norm",
        "leaf",
        "l1",
        "l2",
        "l3",
        "score",
        "is_new",
    ]
    run.write_table(
        "values", pd.DataFrame(rows, columns=cols).astype({"id": str, "side": str, "value": str, "value_norm": str})
    )
    if conversations is not None:
        cols = ["id", "model", "context", "user_id", "timestamp", "source"]
        run.write_table("conversations", pd.DataFrame(conversations, columns=cols).astype(dict.fromkeys(cols, object)))
    return run
