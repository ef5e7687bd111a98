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


@pytest.mark.xfail(
    strict=False,
    reason="flaky: in 2 of 2 full clean-clone CI runs ingest left 1 shard, not 3; passes alone and in a rerun "
    "of the same files; cause not found yet (issue #18)",
)
def test_batch_and_source_stages_never_read_a_whole_table_in_the_driver(tmp_path, monkeypatch):
    """Streaming: batches are planned from Parquet footers, read by the worker, and their shards linked into the output."""
    from valuescope.engine import dataset, rundir

    def whole_table(*_a, **_k):
        raise AssertionError("a whole table was read")

    monkeypatch.setattr(rundir.RunDir, "read_table", whole_table)
    monkeypatch.setattr(dataset, "read_shards", whole_table)
    cfg = api.apply_overrides(api.RunConfig(), scrub="off", **{"ingest.batch_size": 150})
    run = api.ingest([api.sample_path()], tmp_path / "run", cfg, quiet=True)
    rd = RunDir(run.path)
    assert [p.name for p in rd.shards("conversations")] == [f"part-00000{i}.parquet" for i in range(3)]  # 150+150+100
    run_stages(rd, [Upper(str(tmp_path / "calls"))], workers=1, quiet=True)
    shards = rd.shards("upper")
    # batches of 100 within shards of 150, 150 and 100 rows: 100+50, 100+50, 100
    assert len(shards) == 5 and rd.num_rows("upper") == 400
    assert all(s.stat().st_nlink == 2 for s in shards)  # each shard is its checkpoint's file, linked, never copied
    monkeypatch.undo()
    assert rd.read_table("upper")["id"].to_pylist() == [
        i.upper() for i in rd.read_table("conversations")["id"].to_pylist()
    ]


def test_repeated_ids_across_chunks_and_files_keep_the_first(tmp_path):
    """Ingest's one global step (dedup) over many chunks: first occurrence in input order wins, shard by shard."""
    import gzip
    import json

    records = [json.loads(line) for line in gzip.open(api.sample_path(), "rt", encoding="utf-8")][:30]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in records[:20]), "utf-8")
    again = [records[3], records[25], records[17], records[25], records[0]]  # two from a.jsonl, one new repeated
    b.write_text("".join(json.dumps(r) + "\n" for r in [*records[20:25], *again]), "utf-8")
    cfg = api.apply_overrides(api.RunConfig(), scrub="off", **{"ingest.batch_size": 4})
    run = api.ingest([a, b], tmp_path / "run", cfg)
    stats = run.manifest["stages"]["ingest"]["stats"]
    # 5 + 3 chunks of 4 lines; b.jsonl's last chunk holds only repeats, so its shard is left out
    assert stats["chunks"] == 8 and len(RunDir(run.path).shards("conversations")) == 7
    kept = [r["id"] for r in records[:26]]
    assert run["conversations"]["id"].tolist() == kept
    q = run.quarantine
    assert q["line"].tolist() == [6, 8, 9, 10] and (q["source"] == str(b)).all()
    first = {
        records[3]["id"]: f"{a}:4",
        records[17]["id"]: f"{a}:18",
        records[25]["id"]: f"{b}:7",
        records[0]["id"]: f"{a}:1",
    }
    for rid, reason in zip(q["record_id"], q["reason"], strict=True):
        assert reason == f"duplicate id {rid!r} (first seen at {first[rid]})"
    per_file = [(f["read"], f["ok"], f["quarantined"]) for f in run.manifest["inputs"]]
    assert per_file == [(20, 20, 0), (10, 6, 4)]


def test_write_batches_streams_a_table_into_shards_of_bounded_size(tmp_path, monkeypatch):
    from valuescope.engine import dataset

    monkeypatch.setattr(dataset, "SHARD_ROWS", 1000)
    schema = pa.schema([("id", pa.string()), ("n", pa.int64())])
    parts = (
        pa.table({"n": list(range(i, i + 300)), "id": [f"c{j}" for j in range(i, i + 300)]})
        for i in range(0, 3000, 300)
    )
    rd = RunDir(tmp_path / "run")
    rd.write_batches("values", parts, schema)
    assert [dataset.num_rows([s]) for s in rd.shards("values")] == [1200, 1200, 600]
    table = rd.read_table("values")
    assert table.schema.equals(schema) and table["n"].to_pylist() == list(range(3000))
    rd.write_batches("values", iter(()), schema)  # an empty stream: an empty table that keeps its schema
    assert rd.read_table("values").schema.equals(schema) and rd.num_rows("values") == 0
    assert len(rd.shards("values")) == 1


def test_a_stage_that_writes_nothing_now_drops_its_old_tables(tmp_path):
    """Tables are folders: a stage removing its stale outputs must remove the folder, not a .parquet file."""
    from valuescope.analysis.pressure import TABLES, PressureStage

    rd = RunDir(tmp_path / "run")
    rd.write_table("conversations", pa.table({"id": ["a"]}))  # not a probe run: no `meta`
    for t in TABLES:
        rd.write_table(f"analysis/{t}", pa.table({"key": ["x"]}))
    assert PressureStage().run(rd) == {"probe_records": 0}
    assert [t for t in rd.tables() if t.startswith("analysis/")] == []
