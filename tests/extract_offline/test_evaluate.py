"""valuescope.evaluate: metric definitions on the real reference labels, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuescope.cli import app
from valuescope.engine.rundir import RunDir
from valuescope.evaluate import L2_TO_L3, compute_metrics, evaluate_run, load_labels, set_micro_f1
from valuescope.extract.reference import annotation_to_extraction


def _rows(labels: dict) -> tuple[list[dict], list[dict]]:
    judgments, mentions = [], []
    for rec in labels.values():
        ex = annotation_to_extraction(rec, "reference")
        judgments.append(ex.judgment.model_dump())
        mentions.extend(v.model_dump() for v in ex.values)
    return judgments, mentions


@pytest.fixture(scope="module")
def dev(reference_dir: Path) -> dict:
    return load_labels(reference_dir / "dev.jsonl")


def test_labels_against_themselves_score_perfectly(dev: dict) -> None:
    judgments, mentions = _rows(dev)
    m = compute_metrics(judgments, mentions, dev, l2_column="l2_hint")
    assert m["n_matched"] == len(dev) == 400
    for key in (
        "subjective_accuracy",
        "task_category_accuracy",
        "response_macro_f1",
        "harmful_auroc",
        "ai_l2_micro_f1",
        "ai_l3_micro_f1",
        "human_l2_micro_f1",
        "human_l3_micro_f1",
    ):
        assert m[key] == pytest.approx(1.0), key


def test_dropping_values_lowers_recall_exactly(dev: dict) -> None:
    """Remove the first AI value row of every conversation: TP/FN move by the counts we can compute."""
    judgments, mentions = _rows(dev)
    seen, kept = set(), []
    for r in mentions:
        if r["side"] == "ai" and r["id"] not in seen:
            seen.add(r["id"])
            continue
        kept.append(r)
    ref = {i: {v["l2"] for v in rec["ai_values"]} for i, rec in dev.items()}
    pred: dict[str, set] = {}
    for r in kept:
        if r["side"] == "ai":
            pred.setdefault(r["id"], set()).add(r["l2_hint"])
    expected = set_micro_f1(pred, ref, dev)
    assert expected["fn"] > 0 and expected["fp"] == 0
    m = compute_metrics(judgments, kept, dev, l2_column="l2_hint")
    assert m["ai_l2_micro_f1"] == pytest.approx(expected["f1"])
    assert m["ai_l2_precision"] == 1.0 and m["ai_l2_recall"] < 1.0
    assert m["ai_l3_micro_f1"] >= m["ai_l2_micro_f1"]  # coarser sets can only agree more


def test_unknown_l2_and_unmatched_ids_count_as_nothing(dev: dict) -> None:
    judgments, mentions = _rows(dev)
    bogus = [{**r, "l2_hint": "Not a cluster"} for r in mentions]
    m = compute_metrics(judgments[:100], bogus, dev, l2_column="l2_hint")
    assert m["n_matched"] == 100
    assert m["ai_l2_recall"] == 0.0 and m["ai_l2_micro_f1"] == 0.0
    assert set(L2_TO_L3) and len(L2_TO_L3) == 26


def test_cli_evaluate_writes_json(tmp_path: Path, dev: dict, reference_dir: Path) -> None:
    judgments, mentions = _rows(dev)
    run = RunDir(tmp_path / "run")
    run.write_table("judgments", judgments)
    run.write_table("mentions", mentions)
    out = tmp_path / "eval.json"
    res = CliRunner().invoke(
        app, ["evaluate", str(run.path), "--reference", str(reference_dir / "dev.jsonl"), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["values_source"] == "mentions.l2_hint"
    assert data["ai_l2_micro_f1"] == pytest.approx(1.0)
    # values.parquet wins over mentions when present (placed l2, not the hint)
    run.write_table("values", [{**r, "l2": None} for r in mentions])
    assert evaluate_run(run.path, reference_dir / "dev.jsonl")["ai_l2_micro_f1"] == 0.0


def test_cli_evaluate_bad_labels_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "subjective": true}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_labels(bad)
    run = RunDir(tmp_path / "run")
    run.write_table("judgments", [{"id": "y", "subjective": True}])
    res = CliRunner().invoke(app, ["evaluate", str(run.path), "--reference", str(bad)])
    assert res.exit_code != 0
