"""Run a BatchStage on Ray Data (``map_batches``) — the same stage code as the local engine.

Ray is optional (``pip install 'valuescope[ray]'``). The stage's resource is
loaded once per actor; each batch's ``BatchResult`` travels back as one row
(Arrow IPC bytes per output table, quarantine and stats as JSON) tagged with
the batch's first row number, so results are reassembled in input order and
the run directory ends up exactly as after the local engine.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from valuescope.engine.rundir import RunDir
from valuescope.engine.stage import BatchResult, BatchStage
from valuescope.records import QuarantineRecord

ROW = "__vs_row"


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def encode_result(first_row: int, result: BatchResult, outputs: tuple[str, ...]) -> pa.Table:
    """One row: the batch's position and everything it produced."""
    row: dict[str, Any] = {
        ROW: [first_row],
        "quarantine": [json.dumps([q.model_dump(mode="json") for q in result.quarantine])],
        "stats": [json.dumps(result.stats)],
    }
    for name in outputs:
        row[f"out:{name}"] = [_ipc(result.tables[name]) if name in result.tables else None]
    return pa.table(row)


def decode_result(row: dict[str, Any], outputs: tuple[str, ...]) -> BatchResult:
    tables = {name: _from_ipc(row[f"out:{name}"]) for name in outputs if row.get(f"out:{name}") is not None}
    quarantine = [QuarantineRecord(**q) for q in json.loads(row["quarantine"])]
    return BatchResult(tables=tables, quarantine=quarantine, stats=json.loads(row["stats"]))


class _StageActor:
    """Ray Data callable class: loads the stage's resource once, then maps batches."""

    def __init__(self, stage: BatchStage) -> None:
        self.stage = stage
        self.resource = stage.load_resource()

    def __call__(self, batch: pa.Table) -> pa.Table:
        first_row = batch[ROW][0].as_py()
        result = self.stage.process_batch(batch.drop_columns([ROW]), self.resource)
        return encode_result(first_row, result, self.stage.outputs)


def run_batch_stage_ray(run: RunDir, stage: BatchStage, concurrency: int = 2, **map_kwargs: Any) -> dict[str, float]:
    """Ray equivalent of ``runner.run_batch_stage`` (no per-batch checkpoints: Ray retries failed tasks)."""
    import ray.data

    from valuescope.engine.runner import _digests

    stage.prepare(run)
    inputs = _digests(run, stage.inputs)
    table = run.read_table(stage.input)
    indexed = table.append_column(ROW, pa.array(range(table.num_rows), type=pa.int64()))
    ds = ray.data.from_arrow(indexed).map_batches(
        _StageActor,
        fn_constructor_args=(stage,),
        batch_size=max(1, stage.batch_size),
        batch_format="pyarrow",
        concurrency=concurrency,
        zero_copy_batch=True,
        **map_kwargs,
    )
    rows = sorted(ds.take_all(), key=lambda r: r[ROW])
    results = [decode_result(r, stage.outputs) for r in rows]
    stats: dict[str, float] = {"batches": len(results), "rows_in": table.num_rows}
    for name in stage.outputs:
        parts = [r.tables[name] for r in results if name in r.tables and r.tables[name].num_rows]
        schema = stage.output_schema(name)
        out = (
            pa.concat_tables(parts, promote_options="default")
            if parts
            else (schema.empty_table() if schema is not None else pa.table({}))
        )
        run.write_table(name, out)
        stats[f"rows_out:{name}"] = out.num_rows
    stats["quarantined"] = run.write_quarantine(stage.name, [q for r in results for q in r.quarantine])
    for r in results:
        for k, v in r.stats.items():
            stats[k] = stats.get(k, 0) + v
    run.update_manifest(
        stages={
            stage.name: {
                "key": stage.key(),
                "version": stage.version,
                "config": stage.config(),
                "engine": "ray",
                "stats": stats,
                "inputs": inputs,
                "outputs": _digests(run, stage.outputs, stage.output_files),
            }
        }
    )
    run.refresh_duckdb()
    return stats
