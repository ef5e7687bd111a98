"""The engine: runs stages in order, checkpointing every batch and chunk; local processes or Ray do the work.

Resume contract: a unit of work (a batch of an input table's rows, a chunk of input files) is keyed by
the stage key (name, version, config) and the unit's content key, and its checkpoint is written
atomically with a marker last, by the process that computed it. A run killed with ``kill -9`` and
started again recomputes only units with no marker, then assembles the output tables from all
checkpoints in input order, so its tables are identical to an uninterrupted run's.

Streaming: a batch stage plans its batches from the input table's Parquet footers (shard, row offset,
length); each worker reads its own rows; the driver links each checkpoint's shard into the output
table and streams quarantine records to disk. No process holds a whole row-level table. Which
processes compute the units is the :class:`Executor`'s business (here: a local process pool;
engine/ray.py: Ray Data); the tables do not depend on it.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from valuescope.engine.checkpoint import DONE, Checkpoint, save_checkpoint, summed_stats
from valuescope.engine.dataset import RowRange, file_digest, naming, plan_ranges
from valuescope.engine.rundir import RunDir
from valuescope.engine.stage import BatchResult, BatchStage, SourceStage, Stage, TableStage
from valuescope.records import stable_hash


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


# -- computing units of work ----------------------------------------------------------------


def process_unit(stage: BatchStage | SourceStage, work: Any, resource: Any) -> BatchResult:
    """One unit: a chunk for a source stage, a RowRange (read here, by the worker) for a batch stage."""
    if isinstance(stage, SourceStage):
        return stage.process_chunk(work, resource)
    return stage.process_batch(work.read() if isinstance(work, RowRange) else work, resource)


def compute_unit(stage: BatchStage | SourceStage, work: Any, folder: Path, resource: Any) -> None:
    """Compute and checkpoint one unit unless another attempt already finished it (a retried task)."""
    if not (folder / DONE).is_file():
        save_checkpoint(folder, process_unit(stage, work, resource))


class Executor(Protocol):
    """Computes the units of work that have no checkpoint marker; returns the indices it computed."""

    name: str

    def compute(
        self, stage: BatchStage | SourceStage, work: list[Any], folders: list[Path], quiet: bool
    ) -> list[int]: ...


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


def _worker_run(work: Any, folder: str) -> str:
    compute_unit(_WORKER["stage"], work, Path(folder), _WORKER["resource"])
    return folder


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))


def pending_units(folders: list[Path]) -> list[int]:
    return [i for i, f in enumerate(folders) if not (f / DONE).is_file()]


class LocalExecutor:
    """A pool of local processes (the stage's resource loaded once in each), or this process alone."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def compute(self, stage: BatchStage | SourceStage, work: list[Any], folders: list[Path], quiet: bool) -> list[int]:
        pending = pending_units(folders)
        workers = self.workers or default_workers()
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
                    compute_unit(stage, work[i], folders[i], resource)
                    bar.advance(task)
        return pending


# -- batch and source stages ----------------------------------------------------------------


def assemble_table(run: RunDir, name: str, checkpoints: list[Checkpoint], schema: Any = None) -> int:
    """Table `name` from the checkpoints' shards in order (linked, not read); its row count."""
    with run.table_writer(name, schema) as writer:
        for c in checkpoints:
            path = c.table_file(name)
            if path is not None:
                writer.add_file(path)
    return writer.rows


def run_batch_stage(
    run: RunDir,
    stage: BatchStage,
    workers: int | None = None,
    quiet: bool = False,
    prepared: bool = False,
    executor: Executor | None = None,
) -> dict[str, float]:
    if not prepared:
        stage.prepare(run)
    ranges = plan_ranges(run.shards(stage.input), max(1, stage.batch_size))
    stage_key = stage.key()
    folders = [run.cache_dir(stage.name) / stable_hash([stage_key, r.digest, r.offset, r.length]) for r in ranges]
    computed = (executor or LocalExecutor(workers)).compute(stage, ranges, folders, quiet)
    checkpoints = [Checkpoint(f) for f in folders]
    stats: dict[str, float] = {
        "batches": len(ranges),
        "batches_computed": len(computed),
        "rows_in": sum(r.length for r in ranges),
    }
    for name in stage.outputs:
        stats[f"rows_out:{name}"] = assemble_table(run, name, checkpoints, stage.output_schema(name))
    stats["quarantined"] = run.write_quarantine(stage.name, (q for c in checkpoints for q in c.quarantine()))
    for k, v in summed_stats(checkpoints).items():
        stats[k] = stats.get(k, 0) + v
    return stats


def run_source_stage(
    run: RunDir,
    stage: SourceStage,
    workers: int | None = None,
    quiet: bool = False,
    executor: Executor | None = None,
) -> dict[str, float]:
    """Plan chunks, compute those without a checkpoint, then let the stage merge all of them in order."""
    stage.prepare(run)
    chunks = stage.plan()
    stage_key = stage.key()
    folders = [run.cache_dir(stage.name) / stable_hash([stage_key, stage.chunk_key(c)]) for c in chunks]
    computed = (executor or LocalExecutor(workers)).compute(stage, chunks, folders, quiet)
    stats = dict(stage.finalize(run, chunks, [Checkpoint(f) for f in folders]) or {})
    stats.update({"chunks": len(chunks), "chunks_computed": len(computed)})
    return stats


# -- freshness ------------------------------------------------------------------


def _digests(run: RunDir, tables: tuple[str, ...], files: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Digest of the exact bytes of each table (over its shards) and plain file, None for an absent one."""
    out = {name: run.table_digest(name) for name in tables}
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


def run_stages(
    run: RunDir,
    stages: list[Stage],
    workers: int | None = None,
    quiet: bool = False,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run stages in order, recording timings, stats and the bytes each read and wrote in the manifest.

    `executor` computes batches and chunks (default: local processes); table stages run in this process.

    A stage is marked done (its manifest entry written) only after every output is durable on disk;
    a stage that fails leaves its previous entry, whose digests then no longer match, so it reruns.
    """
    executor = executor or LocalExecutor(workers)
    for stage in stages:
        try:
            _run_stage(run, stage, executor, quiet)
        except OSError as exc:  # a full disk met by a stage's own writer (a CSV, a model file) names the run at least
            named = naming(exc, run.path)
            if named is exc:
                raise
            raise named from exc
    run.refresh_duckdb()
    return run.read_manifest()


def _run_stage(run: RunDir, stage: Stage, executor: Executor, quiet: bool) -> None:
    """One stage: skipped when fresh, else computed and recorded in the manifest."""
    started = time.perf_counter()
    if isinstance(stage, SourceStage):
        stats: dict[str, Any] | None = run_source_stage(run, stage, quiet=quiet, executor=executor)
        inputs: dict[str, str | None] = {}
    else:
        stage.prepare(run)
        inputs = _digests(run, stage.inputs)
        if _is_fresh(run, stage, inputs):
            return
        if isinstance(stage, BatchStage):
            stats = run_batch_stage(run, stage, quiet=quiet, prepared=True, executor=executor)
        else:
            stats = run_table_stage(run, stage, force=True, quiet=quiet)  # type: ignore[arg-type]
    run.update_manifest(
        stages={
            stage.name: {
                "key": stage.key(),
                "version": stage.version,
                "config": stage.config(),
                "engine": executor.name if not isinstance(stage, TableStage) else "local",
                "inputs": inputs,
                "outputs": _digests(run, stage.outputs, stage.output_files),
                "seconds": round(time.perf_counter() - started, 3),
                "finished": time.time(),  # orders stages in `valuescope stats`
                "stats": stats,
            }
        }
    )
