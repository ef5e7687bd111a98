"""The offline extractor through the real extract stage, then `evaluate` on the run."""

from __future__ import annotations

from pathlib import Path

from training.offline.data import read_corpus
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_batch_stage
from valuescope.evaluate import evaluate_run, load_labels
from valuescope.extract.config import ExtractConfig
from valuescope.extract.stage import ExtractStage
from valuescope.ingest.table import conversations_to_table


def test_stage_writes_documented_columns_and_evaluates(
    tmp_path: Path, conversations_dir: Path, reference_dir: Path
) -> None:
    labels = load_labels(reference_dir / "dev.jsonl")
    ids = {i for i in labels if i.startswith(("hh-harmless-test:", "jbb:"))}
    convs = [c for c in read_corpus(conversations_dir / "hh_rlhf_harmless_base_test.jsonl", ids)][:12]
    run = RunDir(tmp_path / "run")
    run.write_table("conversations", conversations_to_table(convs))
    run_batch_stage(run, ExtractStage(ExtractConfig(extractor="offline")), workers=1, quiet=True)
    j = run.read_table("judgments")
    assert set(j.column_names) >= {
        "id",
        "subjective",
        "task",
        "task_category",
        "response",
        "harmful_score",
        "extractor",
    }
    assert sorted(j.column("id").to_pylist()) == sorted(c.id for c in convs)
    m = run.read_table("mentions")
    assert set(m.column_names) >= {"id", "side", "value", "explicit", "l2_hint", "confidence"}
    metrics = evaluate_run(run.path, reference_dir / "dev.jsonl")
    assert metrics["n_matched"] == len(convs)
    assert metrics["values_source"] == "mentions.l2_hint"
    assert 0.0 <= metrics["ai_l3_micro_f1"] <= 1.0
