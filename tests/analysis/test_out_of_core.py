"""The taxonomy placement and the analyses never read a row-level table whole: they aggregate it in DuckDB
(issue #18), so the driver's memory does not grow with the corpus."""

from __future__ import annotations

import pytest
from analysis_helpers import build_reference_run
from reference_config import ANALYSIS, PRIVACY, TAXONOMY

from valuescope.analysis import context
from valuescope.analysis.data import SUBJECTIVE, load
from valuescope.analysis.stage import analysis_stages
from valuescope.engine.rundir import RunDir
from valuescope.taxonomy.stage import PlaceStage

ROW_TABLES = {"judgments", "mentions", "values", "conversations", "anomaly_scores"}


@pytest.fixture(scope="module")
def run(tmp_path_factory, conversations_dir, reference_dir):
    return build_reference_run(tmp_path_factory.mktemp("ooc"), conversations_dir, reference_dir, users=150)


@pytest.mark.slow
def test_no_stage_reads_a_row_table_into_memory(run, monkeypatch):
    read = RunDir.read_table

    def guarded(self, name, columns=None):
        assert name not in ROW_TABLES, f"a stage read the row-level table {name!r} whole"
        return read(self, name, columns)

    monkeypatch.setattr(RunDir, "read_table", guarded)
    for stage in [PlaceStage(TAXONOMY), *analysis_stages(ANALYSIS, PRIVACY)]:
        stage.run(run)  # directly: the runner's own bookkeeping is not what is tested
    assert run.has_table("values") and run.has_table("anomaly_scores") and run.has_table("analysis/context")


def test_task_clusters_beyond_the_fit_sample_label_every_distinct_task(run, monkeypatch):
    """Past TASK_FIT_ROWS subjective conversations, k-means is fitted on a sample and every task is assigned."""
    data = load(run)
    n_subj = data.scalar(f"SELECT count(*) FROM conv WHERE {SUBJECTIVE}")
    full = context.task_cluster_labels(data, ANALYSIS, PRIVACY)
    monkeypatch.setattr(context, "TASK_FIT_ROWS", n_subj // 3)
    sampled = context.task_cluster_labels(data, ANALYSIS, PRIVACY)
    tasks = set(data.df(f"SELECT DISTINCT coalesce(task, '') AS t FROM conv WHERE {SUBJECTIVE}")["t"])
    assert set(full["task"]) == set(sampled["task"]) == tasks and sampled["task"].is_unique
    assert sampled["label"].notna().all() and sampled["label"].nunique() <= ANALYSIS.task_clusters
    # below the limit, the labels are task_clusters' over every subjective conversation, task by task
    rows = data.df(f"SELECT coalesce(task, '') AS task, user_id FROM conv WHERE {SUBJECTIVE} ORDER BY _row")
    direct = context.task_clusters(
        rows["task"], ANALYSIS.task_clusters, ANALYSIS.embedder, ANALYSIS.seed, rows["user_id"], PRIVACY
    )
    assert rows["task"].map(full.set_index("task")["label"]).tolist() == direct.tolist()
