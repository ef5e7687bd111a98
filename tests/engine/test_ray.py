"""Ray Data engine: a BatchStage gives the same tables under map_batches as under the local engine."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from valuescope import api
from valuescope.engine.ray import decode_result, encode_result
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.engine.stage import BatchResult, BatchStage
from valuescope.records import QuarantineRecord


class Lengths(BatchStage):
    name = "lengths"
    inputs = ("conversations",)
    outputs = ("lengths",)
    batch_size = 64

    def load_resource(self) -> int:
        return 1000

    def process_batch(self, batch: pa.Table, resource: int) -> BatchResult:
        ids, msgs = batch["id"].to_pylist(), batch["messages"].to_pylist()
        n = [sum(len(m["content"]) for m in ms) for ms in msgs]
        keep = [i for i, x in enumerate(n) if x < resource * 4]
        quarantine = [
            QuarantineRecord(stage=self.name, source="conversations", record_id=ids[i], reason="long")
            for i, x in enumerate(n)
            if x >= resource * 4
        ]
        return BatchResult(
            tables={"lengths": pa.table({"id": [ids[i] for i in keep], "chars": [n[i] for i in keep]})},
            quarantine=quarantine,
            stats={"rows": len(ids)},
        )


def test_result_codec_round_trip():
    result = Lengths().process_batch(
        pa.table(
            {
                "id": ["a", "b"],
                "messages": [[{"role": "user", "content": "x" * 5000}], [{"role": "user", "content": "hi"}]],
            }
        ),
        1000,
    )
    back = decode_result(encode_result(7, result, ("lengths",)).to_pylist()[0], ("lengths",))
    assert back.tables["lengths"].equals(result.tables["lengths"])
    assert back.quarantine == result.quarantine and back.stats == result.stats


def test_ray_matches_local_engine(tmp_path):
    if os.environ.get("CI"):  # `make test` installs the [ray] extra: missing Ray in CI is a failure
        import ray.data  # noqa: F401
    else:
        pytest.importorskip("ray.data")
    import ray

    from valuescope.engine.ray import run_batch_stage_ray

    cfg = api.apply_overrides(api.RunConfig(), scrub="off")
    local = api.ingest([api.sample_path()], tmp_path / "local", cfg)
    remote = api.ingest([api.sample_path()], tmp_path / "ray", cfg)
    run_stages(RunDir(local.path), [Lengths()], workers=1, quiet=True)
    here = str(Path(__file__).parent)  # workers unpickle Lengths from this test module
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        ignore_reinit_error=True,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}},
    )
    try:
        stats = run_batch_stage_ray(RunDir(remote.path), Lengths(), concurrency=2)
    finally:
        ray.shutdown()
    assert remote["lengths"].equals(local["lengths"])
    assert stats["rows"] == 400 and stats["quarantined"] == len(local.quarantine.query("stage == 'lengths'"))
