"""Agreement between a run's tables and a labelled set (GUIDELINES.md, protocol v1).

Any extractor (offline, LLM, reference) is validated the same way: the metrics
are computed from ``judgments`` plus ``values`` (or, before the taxonomy stage,
``mentions`` with ``l2_hint``) joined to the labels by conversation id. The
offline extractor's cross-validation calls the same functions on its
out-of-fold predictions, so reported CV numbers and ``valuescope evaluate``
numbers mean exactly the same thing (definitions in docs/evaluate.md).

Value metrics: for every matched conversation and side, the *set* of l2
clusters present (reference ``l2`` fields vs the run's placed ``l2``) and the
set of l3 categories derived from them through ``records.L3_TO_L2``;
micro-F1 = 2·ΣTP / (2·ΣTP + ΣFP + ΣFN) summed over conversations. They are
reported under two constructs of the reference (``constructs``): as annotated,
and tree-consistent (labelled values that are published leaves take the
tree's l2), so numbers made under different constructs are never compared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from valuescope.engine.rundir import RunDir
from valuescope.records import L3_TO_L2, RESPONSE_TYPES, TASK_CATEGORIES

L2_TO_L3: dict[str, str] = {l2: l3 for l3, l2s in L3_TO_L2.items() for l2 in l2s}
Sets = dict[str, set[str]]  # conversation id -> set of categories


def load_labels(path: str | Path) -> dict[str, dict[str, Any]]:
    """Labelled conversations by id; a malformed line is an error naming its line number."""
    out: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                rec["id"], rec["subjective"]  # noqa: B018 - required keys
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a protocol-v1 label record ({exc})") from None
            out[str(rec["id"])] = rec
    if not out:
        raise ValueError(f"{path}: no label records")
    return out


def label_value_sets(labels: Mapping[str, Mapping[str, Any]], side: str) -> Sets:
    key = "ai_values" if side == "ai" else "human_values"
    return {i: {v["l2"] for v in (r.get(key) or []) if v.get("l2") in L2_TO_L3} for i, r in labels.items()}


def run_value_sets(rows: Iterable[Mapping[str, Any]], side: str, l2_column: str = "l2") -> Sets:
    """Per-conversation l2 sets from values/mentions rows (unplaced or unknown l2 count as nothing)."""
    out: Sets = {}
    for r in rows:
        if r.get("side") != side:
            continue
        l2 = r.get(l2_column)
        if l2 in L2_TO_L3:
            out.setdefault(str(r["id"]), set()).add(l2)
    return out


def to_l3(sets: Sets) -> Sets:
    return {i: {L2_TO_L3[c] for c in s} for i, s in sets.items()}


def set_micro_f1(pred: Sets, ref: Sets, ids: Iterable[str]) -> dict[str, float]:
    """Micro-averaged precision/recall/F1 of per-conversation category sets over ``ids``."""
    tp = fp = fn = 0
    for i in ids:
        p, r = pred.get(i, set()), ref.get(i, set())
        tp += len(p & r)
        fp += len(p - r)
        fn += len(r - p)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return {"precision": prec, "recall": rec, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def _auc(y: list[bool], s: list[float]) -> float | None:
    return float(roc_auc_score(y, s)) if len(set(y)) == 2 else None


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error with equal-width bins: is harmful_score a probability?"""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(
        sum(abs(y[idx == b].mean() - p[idx == b].mean()) * (idx == b).mean() for b in range(bins) if (idx == b).any())
    )


def compute_metrics(
    judgments: Iterable[Mapping[str, Any]],
    values: Iterable[Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, Any]],
    l2_column: str = "l2",
) -> dict[str, Any]:
    """All metrics for judgments/values rows against labels; only ids present in both are scored."""
    jud = {str(j["id"]): j for j in judgments}
    ids = sorted(set(jud) & set(labels))
    out: dict[str, Any] = {"n_labels": len(labels), "n_run": len(jud), "n_matched": len(ids)}
    if not ids:
        return out
    ref = [labels[i] for i in ids]
    got = [jud[i] for i in ids]
    out["subjective_accuracy"] = float(
        accuracy_score([bool(r["subjective"]) for r in ref], [bool(g["subjective"]) for g in got])
    )
    tc_ref = [r.get("task_category", "other") for r in ref]
    tc_got = [g.get("task_category", "other") for g in got]
    out["task_category_accuracy"] = float(accuracy_score(tc_ref, tc_got))
    out["task_category_macro_f1"] = float(
        f1_score(tc_ref, tc_got, average="macro", labels=sorted(set(tc_ref) | set(tc_got)), zero_division=0)
    )
    rs_ref = [r.get("response", "no_human_values") for r in ref]
    rs_got = [g.get("response", "no_human_values") for g in got]
    rs_labels = [x for x in RESPONSE_TYPES if x in set(rs_ref) | set(rs_got)]
    out["response_macro_f1"] = float(f1_score(rs_ref, rs_got, average="macro", labels=rs_labels, zero_division=0))
    out["response_accuracy"] = float(accuracy_score(rs_ref, rs_got))
    y = [bool(r.get("harmful_compliance")) for r in ref]
    s = [float(g.get("harmful_score") or 0.0) for g in got]
    out["harmful_auroc"] = _auc(y, s)
    out["harmful_brier"] = float(np.mean((np.array(s) - np.array(y, dtype=float)) ** 2))
    out["harmful_ece"] = _ece(np.array(y, dtype=float), np.clip(np.array(s), 0, 1))
    rows = list(values)
    for side in ("ai", "human"):
        pred2, ref2 = run_value_sets(rows, side, l2_column), label_value_sets(labels, side)
        for level, p, r in (("l2", pred2, ref2), ("l3", to_l3(pred2), to_l3(ref2))):
            m = set_micro_f1(p, r, ids)
            out[f"{side}_{level}_micro_f1"] = m["f1"]
            out[f"{side}_{level}_precision"] = m["precision"]
            out[f"{side}_{level}_recall"] = m["recall"]
    out["unknown_task_categories"] = sorted({c for c in tc_got if c not in TASK_CATEGORIES})
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


VALUE_METRICS = [
    f"{side}_{level}_{m}"
    for side in ("ai", "human")
    for level in ("l2", "l3")
    for m in ("micro_f1", "precision", "recall")
]
CONSTRUCTS = ("as_annotated", "tree_consistent")


def _run_tree(run: RunDir) -> Any:
    """The tree the run's taxonomy stage placed values in (its config), else the published one."""
    from valuescope.taxonomy.reference import load_tree, published_tree

    tree = ((run.read_manifest().get("config") or {}).get("taxonomy") or {}).get("tree")
    return load_tree(tree) if tree and Path(tree).is_file() else published_tree()


def source_of(run: RunDir, ids: Iterable[str]) -> dict[str, str]:
    """Source/corpus per conversation: conversations.source when set, else the id's prefix before ':'."""
    known: dict[str, str] = {}
    if run.has_table("conversations"):
        names = run.read_table("conversations").schema.names
        if "source" in names:
            for r in run.read_table("conversations", columns=["id", "source"]).to_pylist():
                if r["source"]:
                    known[str(r["id"])] = str(r["source"])
    return {i: known.get(i) or (i.split(":", 1)[0] if ":" in i else "(none)") for i in ids}


def scored(
    judgments: list[dict[str, Any]],
    values: list[dict[str, Any]],
    labels: dict[str, dict[str, Any]],
    tree_labels: dict[str, dict[str, Any]],
    col: str,
) -> dict[str, Any]:
    """All metrics (value metrics as annotated) plus ``constructs``: the value metrics under both constructs."""
    out = compute_metrics(judgments, values, labels, l2_column=col)
    tc = compute_metrics(judgments, values, tree_labels, l2_column=col)
    out["constructs"] = {
        "as_annotated": {k: out.get(k) for k in VALUE_METRICS},
        "tree_consistent": {k: tc.get(k) for k in VALUE_METRICS},
    }
    return out


def evaluate_run(run_path: str | Path, labels_path: str | Path, by: str | None = None) -> dict[str, Any]:
    """Metrics for a run directory: values.parquet if present, else mentions.parquet + l2_hint.

    Value metrics are given under both constructs (``constructs``): the labels' l2 as annotated, and
    tree-consistent (a labelled value that is a published leaf takes the tree's l2; taxonomy/readings.py).
    ``by="source"`` adds every metric per source/corpus (``by_source``).
    """
    from valuescope.taxonomy.readings import hint_agreement, tree_consistent_labels

    if by not in (None, "source"):
        raise ValueError(f"--by {by!r}: only 'source' is supported")
    run = RunDir(run_path, create=False)
    labels = load_labels(labels_path)
    tree = _run_tree(run)
    tree_labels = tree_consistent_labels(labels, tree)
    judgments = run.read_table("judgments").to_pylist()
    if run.has_table("values"):
        values, source, col = run.read_table("values").to_pylist(), "values.l2", "l2"
    elif run.has_table("mentions"):
        values, source, col = run.read_table("mentions").to_pylist(), "mentions.l2_hint", "l2_hint"
    else:
        values, source, col = [], "none", "l2"
    metrics = scored(judgments, values, labels, tree_labels, col)
    readings = hint_agreement(pd.DataFrame(values), {n.name for n in tree.at_level(2)}) if source == "values.l2" else {}
    if by == "source":
        src = source_of(run, set(labels) | {str(j["id"]) for j in judgments})
        groups: dict[str, Any] = {}
        for name in sorted(set(src.values())):
            keep = {i for i, s in src.items() if s == name}
            groups[name] = scored(
                [j for j in judgments if str(j["id"]) in keep],
                [v for v in values if str(v["id"]) in keep],
                {i: r for i, r in labels.items() if i in keep},
                {i: r for i, r in tree_labels.items() if i in keep},
                col,
            )
        metrics["by_source"] = groups
    extractors = sorted({str(j.get("extractor") or "") for j in judgments})
    return {
        "run": str(run_path),
        "labels": str(labels_path),
        "values_source": source,
        "extractors": extractors,
        "trained_on_labels": trained_on_labels(extractors, labels_path),
        **readings,
        **metrics,
    }


def trained_on_labels(extractors: list[str], labels_path: str | Path) -> bool:
    """Was the run's offline extractor (the bundled model) trained on exactly this labels file?

    Then its scores are training-set scores (near perfect), not a measure of accuracy: the
    bundled model.json lists the sha256 of every file it was trained on.
    """
    import hashlib

    from valuescope.extract.offline.bundle import default_dir

    meta_path = default_dir() / "model.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text("utf-8"))
    tag = str(meta.get("weights_sha256", ""))[:8]
    if not tag or not any(e.startswith("offline:") and e.endswith(tag) for e in extractors):
        return False
    trained = set(((meta.get("trained_on") or {}).get("inputs_sha256") or {}).values())
    return hashlib.sha256(Path(labels_path).read_bytes()).hexdigest() in trained
