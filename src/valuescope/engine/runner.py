"""Local engine: runs stages in order, checkpointing every batch.

Resume contract: a batch's checkpoint is keyed by the stage key (name, version,
config) and the hash of the batch's rows, and is written atomically with a
marker last. A run killed with ``kill -9`` and started again recomputes only
batches with no marker, then concatenates all checkpoints in input order, so
its tables are identical to an uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from valuescope.engine.rundir import RunDir, atomic_write_bytes, file_digest, write_parquet_atomic
from valuescope.engine.stage import BatchResult, BatchStage, SourceStage, Stage, TableStage
from valuescope.records import QuarantineRecord, stable_hash

DONE = "DONE"


def table_digest(table: pa.Table) -> str:
    """Content hash of an Arrow table (schema + rows), stable across processes."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:20]


def progress_bar(disable: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=disable,
        transient=False,
        console=Console(stderr=True),  # stdout stays clean for piping
    )


# -- batch checkpoints ----------------------------------------------------------


def _checkpoint_dir(run: RunDir, stage: BatchStage | SourceStage, batch_key: str) -> Path:
    return run.cache_dir(stage.name) / batch_key


def _save_checkpoint(folder: Path, result: BatchResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in result.tables.items():
        write_parquet_atomic(folder / f"{name.replace('/', '__')}.parquet", table)
    quarantine = [q.model_dump(mode="json") for q in result.quarantine]
    atomic_write_bytes(folder / "quarantine.json", json.dumps(quarantine).encode("utf-8"))
    atomic_write_bytes(folder / "stats.json", json.dumps(result.stats).encode("utf-8"))
    atomic_write_bytes(folder / DONE, b"")


def _load_checkpoint(folder: Path, outputs: tuple[str, ...]) -> BatchResult:
    tables = {}
    for name in outputs:
        path = folder / f"{name.replace('/', '__')}.parquet"
        if path.is_file():
            tables[name] = pq.read_table(path)
    quarantine = [QuarantineRecord(**q) for q in json.loads((folder / "quarantine.json").read_text())]
    stats = json.loads((folder / "stats.json").read_text())
    return BatchResult(tables=tables, quarantine=quarantine, stats=stats)


# Worker-process state: the resource is loaded once per process.
_WORKER: dict[str, Any] = {}


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when the engine process dies (kill -9), instead of lingering as an orphan."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_init(stage: BatchStage | SourceStage) -> None:
    _die_with_parent()
    _WORKER["stage"] = stage
    _WORKER["resource"] = stage.load_resource()


def _process(stage: BatchStage | SourceStage, work: Any, resource: Any) -> BatchResult:
    if isinstance(stage, SourceStage):
        return stage.process_chunk(work, resource)
    return stage.process_batch(work, resource)


def _worker_run(work: Any, folder: str) -> str:
    _save_checkpoint(Path(folder), _process(_WORKER["stage"], work, _WORKER["resource"]))
    return folder


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))


def _compute(
    stage: BatchStage | SourceStage, work: list[Any], folders: list[Path], workers: int | None, quiet: bool
) -> list[int]:
    """Compute every unit of work without a checkpoint marker; return the indices computed."""
    pending = [i for i, f in enumerate(folders) if not (f / DONE).is_file()]
    workers = workers or default_workers()
    workers = min(workers, stage.max_workers or workers)
    use_pool = stage.parallel and workers > 1 and len(pending) > 1
    with progress_bar(disable=quiet) as bar:
        task = bar.add_task(stage.name, total=len(work), completed=len(work) - len(pending))
        if use_pool:
            with ProcessPoolExecutor(
                max_workers=min(workers, len(pending)), initializer=_worker_init, initargs=(stage,)
            ) as pool:
                futures = [pool.submit(_worker_run, work[i], str(folders[i])) for i in pending]
                try:
                    for fut in as_completed(futures):
                        fut.result()
                        bar.advance(task)
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
        elif pending:
            resource = stage.load_resource()
            for i in pending:
                _save_checkpoint(folders[i], _process(stage, work[i], resource))
                bar.advance(task)
    return pending


def run_batch_stage(
    run: RunDir, stage: BatchStage, workers: int | None = None, quiet: bool = False, prepared: bool = False
) -> dict[str, float]:
    if not prepared:
        stage.prepare(run)
    table = run.read_table(stage.input)
    size = max(1, stage.batch_size)
    batches = [table.slice(i, size) for i in range(0, table.num_rows, size)]
    stage_key = stage.key()
    folders = [_checkpoint_dir(run, stage, stable_hash([stage_key, table_digest(b)])) for b in batches]
    pending = _compute(stage, batches, folders, workers, quiet)

    results = [_load_checkpoint(f, stage.outputs) for f in folders]
    stats: dict[str, float] = {"batches": len(batches), "batches_computed": len(pending), "rows_in": table.num_rows}
    for name in stage.outputs:
        parts = [r.tables[name] for r in results if name in r.tables and r.tables[name].num_rows]
        if parts:
            out = pa.concat_tables(parts, promote_options="default")
        else:
            schema = stage.output_schema(name)
            out = schema.empty_table() if schema is not None else pa.table({})
        run.write_table(name, out)
        stats[f"rows_out:{name}"] = out.num_rows
    quarantined = [q for r in results for q in r.quarantine]
    stats["quarantined"] = run.write_quarantine(stage.name, quarantined)
    for r in results:
        for k, v in r.stats.items():
            stats[k] = stats.get(k, 0) + v
    return stats


def run_source_stage(
    run: RunDir, stage: SourceStage, workers: int | None = None, quiet: bool = False
) -> dict[str, float]:
    """Plan chunks, compute those without a checkpoint, then let the stage merge all of them in order."""
    stage.prepare(run)
    chunks = stage.plan()
    stage_key = stage.key()
    folders = [_checkpoint_dir(run, stage, stable_hash([stage_key, stage.chunk_key(c)])) for c in chunks]
    pending = _compute(stage, chunks, folders, workers, quiet)
    results = [_load_checkpoint(f, stage.outputs) for f in folders]
    stats = dict(stage.finalize(run, chunks, results) or {})
    stats.update({"chunks": len(chunks), "chunks_computed": len(pending)})
    return stats


# -- freshness ------------------------------------------------------------------


def _digests(run: RunDir, tables: tuple[str, ...], files: tuple[str, ...] = ()) -> dict[str, str | None]:
    """sha256 of the exact bytes of each table (and plain file), None for an absent one."""
    out = {name: file_digest(run.table_path(name)) for name in tables}
    out.update({name: file_digest(run.path / name) for name in files})
    return out


def _is_fresh(run: RunDir, stage: Stage, inputs: dict[str, str | None]) -> bool:
    """Up to date iff the manifest records this stage's key over these exact input bytes,
    and its outputs still hold the exact bytes it wrote (none rewritten, lost or half-written since)."""
    previous = run.read_manifest().get("stages", {}).get(stage.name, {})
    if previous.get("key") != stage.key() or previous.get("inputs") != inputs or "outputs" not in previous:
        return False
    return previous["outputs"] == _digests(run, stage.outputs, stage.output_files)


def run_table_stage(run: RunDir, stage: TableStage, force: bool = False, quiet: bool = True) -> dict[str, float] | None:
    """Run unless fresh (see _is_fresh); None when nothing was done."""
    if not force and _is_fresh(run, stage, _digests(run, stage.inputs)):
        return None
    with progress_bar(disable=quiet) as bar:  # one step, shown so a long stage is visibly alive
        task = bar.add_task(stage.name, total=1)
        stats = stage.run(run) or {}
        bar.advance(task)
    return stats


# -- the pipeline -----------------------------------------------------------------


def run_stages(run: RunDir, stages: list[Stage], workers: int | None = None, quiet: bool = False) -> dict[str, Any]:
    """Run stages in order, recording timings, stats and the bytes each read and wrote in the manifest.

    A stage is marked done (its manifest entry written) only after every output is durable on disk;
    a stage that fails leaves its previous entry, whose digests then no longer match, so it reruns.
    """
    for stage in stages:
        started = time.perf_counter()
        if isinstance(stage, SourceStage):
            stats: dict[str, Any] | None = run_source_stage(run, stage, workers=workers, quiet=quiet)
            inputs: dict[str, str | None] = {}
        else:
            stage.prepare(run)
            inputs = _digests(run, stage.inputs)
            if _is_fresh(run, stage, inputs):
                continue
            if isinstance(stage, BatchStage):
                stats = run_batch_stage(run, stage, workers=workers, quiet=quiet, prepared=True)
            else:
                stats = run_table_stage(run, stage, force=True, quiet=quiet)  # type: ignore[arg-type]
        run.update_manifest(
            stages={
                stage.name: {
                    "key": stage.key(),
                    "version": stage.version,
                    "config": stage.config(),
                    "inputs": inputs,
                    "outputs": _digests(run, stage.outputs, stage.output_files),
                    "seconds": round(time.perf_counter() - started, 3),
                    "finished": time.time(),  # orders stages in `valuescope stats`
                    "stats": stats,
                }
            }
        )
    run.refresh_duckdb()
    return run.read_manifest()
