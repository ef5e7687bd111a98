"""The local engine: batch stages checkpoint and skip finished work; analyze runs the stages that exist."""

from __future__ import annotations

import pyarrow as pa
import pytest

from valuescope import api
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.engine.stage import BatchResult, BatchStage


class Upper(BatchStage):
    """Upper-cases every conversation id; counts its calls in a file (workers are other processes)."""

    name = "upper"
    inputs = ("conversations",)
    outputs = ("upper",)
    batch_size = 100

    def __init__(self, log: str, suffix: str = "") -> None:
        self.log, self.suffix = log, suffix

    def config(self) -> dict:
        return {"suffix": self.suffix}

    def process_batch(self, batch: pa.Table, resource) -> BatchResult:
        with open(self.log, "a") as fh:
            fh.write("x")
        ids = [i.upper() + self.suffix for i in batch["id"].to_pylist()]
        return BatchResult(tables={"upper": pa.table({"id": ids})}, stats={"n": len(ids)})


def test_batch_stage_checkpoints_and_reruns(tmp_path):
    run = api.ingest([api.sample_path()], tmp_path / "run", api.apply_overrides(api.RunConfig(), scrub="off"))
    assert len(run["conversations"]) == 400
    log = tmp_path / "calls"
    rd = RunDir(run.path)
    run_stages(rd, [Upper(str(log))], workers=2, quiet=True)
    first = rd.read_table("upper")
    assert first["id"].to_pylist() == [i.upper() for i in run["conversations"]["id"]]
    assert len(log.read_text()) == 4  # 400 rows / 100 per batch
    finished = rd.read_manifest()["stages"]["upper"]["finished"]
    manifest = run_stages(rd, [Upper(str(log))], quiet=True)  # fresh: same key, same input and output bytes
    assert len(log.read_text()) == 4 and manifest["stages"]["upper"]["finished"] == finished
    rd.drop_table("upper")  # a lost output: reassembled from the checkpoints, nothing recomputed
    manifest = run_stages(rd, [Upper(str(log))], quiet=True)
    assert len(log.read_text()) == 4 and manifest["stages"]["upper"]["stats"]["batches_computed"] == 0
    assert rd.read_table("upper").equals(first)
    run_stages(rd, [Upper(str(log), suffix="!")], workers=1, quiet=True)  # new config: recomputed
    assert len(log.read_text()) == 8 and rd.read_table("upper")["id"][0].as_py().endswith("!")
    assert api.load_run(run.path).sql("select count(*) as n from upper")["n"][0] == first.num_rows


def test_a_missing_stage_module_is_an_error_not_a_skipped_stage(monkeypatch, reference_dir):
    """Before #16 a missing valuescope.* module turned into a yellow "stage skipped" note and exit 0."""
    import importlib
    import sys

    cfg = api.apply_overrides(api.RunConfig(), extractor="reference", reference=str(reference_dir / "dev.jsonl"))
    assert [s.name for s in api.build_stages(cfg, None)][-1] == "report"
    monkeypatch.setitem(sys.modules, "valuescope.report.stage", None)  # as if the module were not there
    monkeypatch.delitem(sys.modules, "valuescope.pipeline")
    with pytest.raises(ImportError, match="valuescope.report.stage"):
        importlib.import_module("valuescope.pipeline")


def test_stages_run_in_the_order_their_tables_demand(reference_dir):
    from valuescope.errors import ConfigError
    from valuescope.pipeline import in_data_order

    cfg = api.apply_overrides(api.RunConfig(), extractor="reference", reference=str(reference_dir / "dev.jsonl"))
    stages = api.build_stages(cfg, None)
    assert in_data_order(stages) == stages  # the built-in order is already a data order
    reordered = in_data_order(stages[::-1])
    pos = {s.name: i for i, s in enumerate(reordered)}
    writer = {table: s.name for s in stages for table in s.outputs}
    for stage in reordered:  # every stage after the writers of what it reads
        assert all(pos[writer[t]] < pos[stage.name] for t in stage.inputs if t in writer), stage.name
    assert reordered[0].name == "extract"  # (the report reads nothing taxonomy_build writes: either may be last)
    assert [s.name for s in stages[:3]] == ["extract", "taxonomy_place", "taxonomy_build"]
    with pytest.raises(ConfigError, match="'judgments' is written by both extract and extract"):
        in_data_order([stages[0], stages[0]])


def test_apply_overrides_rejects_unknown():
    cfg = api.apply_overrides(api.RunConfig(), scrub="off", extractor="reference", workers=1)
    assert (cfg.privacy.scrub, cfg.extract.extractor, cfg.workers) == ("off", "reference", 1)
    with pytest.raises(ValueError, match="unknown setting"):
        api.apply_overrides(api.RunConfig(), nonsense=1)
    assert api.apply_overrides(api.RunConfig(), **{"ingest.batch_size": 7}).ingest.batch_size == 7
    data = api.RunConfig().model_dump()
    shared = next(
        (
            k
            for s in data.values()
            if isinstance(s, dict)
            for k in s
            if sum(k in t for t in data.values() if isinstance(t, dict)) > 1
        ),
        None,
    )
    if shared:  # a field name two sections share must be qualified
        with pytest.raises(ValueError, match="ambiguous setting"):
            api.apply_overrides(api.RunConfig(), **{shared: 1})


def test_engine_ray_without_ray_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    import sys

    from valuescope.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    out = tmp_path / "run"
    monkeypatch.setattr(
        sys, "argv", ["valuescope", "ingest", str(api.sample_path()), "--out", str(out), "--engine", "ray", "-q"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == "error: --engine ray needs Ray: pip install 'valuescope[ray]'"
    assert not (out / "conversations").exists()
    monkeypatch.setattr(
        sys,
        "argv",
        ["valuescope", "ingest", str(api.sample_path()), "--out", str(out), "--engine", "local", "--address", "auto"],
    )
    with pytest.raises(SystemExit):
        main()
    assert "--address and --ray-workers go with --engine ray" in capsys.readouterr().err
