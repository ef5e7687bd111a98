"""`valuescope evaluate`: value metrics under both constructs, and every metric per source (--by source)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuescope.cli import app
from valuescope.engine.rundir import RunDir
from valuescope.evaluate import compute_metrics, evaluate_run, load_labels
from valuescope.extract.reference import annotation_to_extraction
from valuescope.taxonomy.readings import tree_consistent_labels
from valuescope.taxonomy.reference import published_tree


@pytest.fixture(scope="module")
def dev(reference_dir: Path) -> dict:
    return load_labels(reference_dir / "dev.jsonl")


def _run(tmp_path: Path, labels: dict) -> RunDir:
    """A run holding the labels themselves as values, each value's l2 the *annotated* one."""
    judgments, values = [], []
    for rec in labels.values():
        ex = annotation_to_extraction(rec, "reference")
        judgments.append(ex.judgment.model_dump())
        values.extend({**v.model_dump(), "l2": v.l2_hint, "tree_l2": None} for v in ex.values)
    run = RunDir(tmp_path / "run")
    run.write_table("judgments", judgments)
    run.write_table("values", values)
    # two sources: mt-bench ids say so in the conversations table, the rest fall back to the id prefix
    run.write_table("conversations", [{"id": i, "source": "MT" if i.startswith("mt-bench:") else None} for i in labels])
    return run


def test_tree_consistent_labels_take_the_tree_l2_of_published_leaves(dev: dict) -> None:
    tree = published_tree()
    tc = tree_consistent_labels(dev, tree)
    changed = kept = 0
    for cid, rec in dev.items():
        for before, after in zip(rec["ai_values"], tc[cid]["ai_values"], strict=True):
            if tree.has_leaf(before["value"]):
                assert after["l2"] == tree.leaf_path(before["value"])["l2"]
                changed += before["l2"] != after["l2"]
            else:
                kept += before["l2"] == after["l2"]
    assert changed > 50 and kept > 100
    assert dev != tc and all(isinstance(r, dict) for r in tc.values())


def test_evaluate_reports_both_constructs_and_by_source(tmp_path: Path, dev: dict, reference_dir: Path) -> None:
    run = _run(tmp_path, dev)
    m = evaluate_run(run.path, reference_dir / "dev.jsonl", by="source")
    assert m["constructs"]["as_annotated"]["ai_l2_micro_f1"] == pytest.approx(1.0)
    assert m["constructs"]["tree_consistent"]["ai_l2_micro_f1"] < 0.9  # the annotated l2 is not the tree's
    assert set(m["by_source"]) == {"MT", "hh-harmless-test", "alpaca-eval", "jbb"}
    assert sum(g["n_matched"] for g in m["by_source"].values()) == m["n_matched"] == 400
    alpaca = {i: r for i, r in dev.items() if i.startswith("alpaca-eval:")}
    rows = run.read_table("values").to_pylist()
    want = compute_metrics(
        [j for j in run.read_table("judgments").to_pylist() if j["id"] in alpaca],
        [v for v in rows if v["id"] in alpaca],
        tree_consistent_labels(alpaca),
    )
    assert m["by_source"]["alpaca-eval"]["constructs"]["tree_consistent"]["ai_l3_micro_f1"] == want["ai_l3_micro_f1"]
    assert m["by_source"]["alpaca-eval"]["subjective_accuracy"] == 1.0

    res = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["evaluate", str(run.path), "--reference", str(reference_dir / "dev.jsonl"), "--by", "source"]
    )
    assert res.exit_code == 0, res.output
    assert "as annotated / tree-consistent" in res.output and "by source" in res.output and "alpaca-eval" in res.output
    assert "l2_hint_disagreement" in res.output
    printed = json.loads(res.output.strip().splitlines()[-1])
    assert printed["tree_consistent"]["ai_l2_micro_f1"] == m["constructs"]["tree_consistent"]["ai_l2_micro_f1"]
    bad = CliRunner().invoke(
        app, ["evaluate", str(run.path), "--reference", str(reference_dir / "dev.jsonl"), "--by", "model"]
    )
    assert bad.exit_code != 0 and "only 'source'" in str(bad.exception)
