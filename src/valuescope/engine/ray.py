"""The Ray engine: the same units of work as the local engine, computed by Ray Data actors.

Ray is optional (``pip install 'valuescope[ray]'``). The driver plans the units exactly as the local
engine does (batches as shard/offset/length, ingest chunks as file/position), keeps those that have
no checkpoint marker, and hands their small descriptors to ``ray.data.from_items(...).map_batches``
with an actor class: each actor loads the stage's resource once (a model, an LLM client) and, per
unit, reads its own input rows, computes, and writes the unit's checkpoint into the run directory
itself. Only a tiny metadata row per unit travels back; the driver streams them (no ``take_all``) and
then assembles the tables from the checkpoints like the local engine, so the tables are identical.

The run directory must be on a filesystem every node sees at the same path (NFS, a shared volume),
and so must the input files of an ingest. A killed driver or a lost worker loses only units without
a marker: a rerun recomputes those and nothing else (``batches_computed`` / ``chunks_computed``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from valuescope.engine.runner import compute_unit, pending_units, progress_bar
from valuescope.engine.stage import BatchStage, SourceStage
from valuescope.errors import ConfigError

ADDRESS_HELP = "auto (a running cluster) | ray://HOST:PORT | none: a local Ray instance"


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'valuescope[ray]'") from None
    return ray


class _UnitActor:
    """Ray Data callable class: the stage's resource loaded once per actor; one checkpoint per unit."""

    def __init__(self, stage_blob: bytes) -> None:
        import cloudpickle

        self.stage = cloudpickle.loads(stage_blob)
        self.resource = self.stage.load_resource()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import pickle

        done = []
        for index, folder, work in zip(batch["index"], batch["folder"], batch["work"], strict=True):
            compute_unit(self.stage, pickle.loads(work), Path(str(folder)), self.resource)
            done.append(int(index))
        return {"index": done}


def _local_import_path() -> str:
    """The driver's own import path minus the interpreter's, so workers import what the driver imported
    (a source checkout, a plugin, a test module) on a local instance."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    keep = [p for p in sys.path if p and Path(p).is_dir() and not any(p.startswith(x) for x in prefixes)]
    return os.pathsep.join(dict.fromkeys([*keep, *os.environ.get("PYTHONPATH", "").split(os.pathsep)]))


class RayExecutor:
    """Computes units on Ray; use as a context manager (connects, and shuts down only what it started).

    `address`: None starts a local instance with `workers` CPUs; "auto" or "ray://HOST:PORT" joins a
    cluster. `workers`: how many actors a stage runs at most (default: the cluster's CPUs); an LLM
    stage is further capped by its own ``max_workers`` and a stage that is not ``parallel`` gets one.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self.started = False

    def __enter__(self) -> RayExecutor:
        ray = import_ray()
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            else:  # workers inherit the environment of the instance: our import path goes with it
                saved = os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = _local_import_path()
                try:
                    ray.init(
                        num_cpus=self.workers or 2,
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.WARNING,
                    )
                finally:
                    if saved is None:
                        os.environ.pop("PYTHONPATH", None)
                    else:
                        os.environ["PYTHONPATH"] = saved
            self.started = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            import_ray().shutdown()
            self.started = False

    def slots(self, stage: BatchStage | SourceStage) -> int:
        ray = import_ray()
        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if not stage.parallel:
            return 1
        return max(1, min(n, stage.max_workers or n))

    def compute(self, stage: BatchStage | SourceStage, work: list[Any], folders: list[Path], quiet: bool) -> list[int]:
        import pickle

        import cloudpickle

        ray = import_ray()
        pending = pending_units(folders)
        if not pending:
            return []
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours below counts units, not Ray's blocks
        ctx.print_on_execution_start = False
        ctx.raise_original_map_exception = True  # a stage's own error (bad labels, a fatal LLM error) stays itself
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # one line per dataset otherwise
        items = [{"index": i, "folder": str(folders[i]), "work": pickle.dumps(work[i])} for i in pending]
        # Ray Data replaces a lost actor and retries its unit (max_restarts / max_task_retries default to -1)
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _UnitActor,
            fn_constructor_args=(cloudpickle.dumps(stage),),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=min(self.slots(stage), len(items))),
            num_cpus=1,
        )
        with progress_bar(disable=quiet) as bar:
            task = bar.add_task(f"{stage.name} (ray)", total=len(work), completed=len(work) - len(pending))
            try:
                for _ in ds.iter_batches(batch_size=1, prefetch_batches=0):
                    bar.advance(task)
            except ray.exceptions.RayTaskError as exc:  # the stage's error as raised on the worker, not Ray's wrapper
                cause = getattr(exc, "cause", None)
                if isinstance(cause, Exception):
                    raise cause from None
                raise
        return pending
