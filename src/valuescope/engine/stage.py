"""Stage interfaces: how a piece of the pipeline plugs into the engine.

Two kinds, both declaring what they read and write:

* :class:`BatchStage` — a pure transform over batches of rows of one input
  table, given a resource loaded once per worker (a model, a client). The
  engine checkpoints every batch, so a killed run resumes, and the same code
  runs locally or under Ray Data's ``map_batches``.
* :class:`TableStage` — a whole-table step (clustering, statistics, a report),
  rerun only when its inputs or config change.
* :class:`SourceStage` — reads something outside the run (input files) in
  chunks it plans itself, checkpointed per chunk like batches, then merges
  the chunks' checkpoints into tables (ingest, probe).

Batches and chunks are computed by an executor (local processes or Ray, see
runner.py and ray.py) which writes each unit's checkpoint itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from valuescope.engine.rundir import RunDir
from valuescope.records import QuarantineRecord, stable_hash

if TYPE_CHECKING:
    from valuescope.engine.checkpoint import Checkpoint


@dataclass
class BatchResult:
    """What one batch produced: rows per output table, plus quarantined rows."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)  # summed across batches into the manifest


class Stage(ABC):
    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the stage's output for the same input changes
    inputs: tuple[str, ...] = ()  # table names (valuescope.tables); the pipeline orders stages by them
    outputs: tuple[str, ...] = ()  # tables it writes; no other stage may write them
    output_files: ClassVar[tuple[str, ...]] = ()  # other files it writes (relative to the run), e.g. report.html

    def config(self) -> dict[str, Any]:
        """Everything that changes the output; part of every cache key."""
        return {}

    def key(self) -> str:
        return stable_hash({"stage": self.name, "version": self.version, "config": self.config()})

    def prepare(self, run: RunDir) -> None:
        """Bind to a run before anything else is called (e.g. read the run's secret salt)."""


class BatchStage(Stage):
    batch_size: int = 256
    parallel: bool = True  # may the local engine run batches in several processes?
    max_workers: int | None = None  # at most this many processes (e.g. an LLM stage's share of a request budget)

    @property
    def input(self) -> str:
        return self.inputs[0]

    def load_resource(self) -> Any:
        """Load the heavy thing (model, client) once per worker."""
        return None

    @abstractmethod
    def process_batch(self, batch: pa.Table, resource: Any) -> BatchResult: ...

    def output_schema(self, table: str) -> pa.Schema | None:
        """Schema of an output table, used when every batch is empty."""
        return None


class TableStage(Stage):
    @abstractmethod
    def run(self, run: RunDir) -> dict[str, float]:
        """Read inputs from the RunDir, write outputs, return stats for the manifest."""


class SourceStage(Stage):
    """Work the stage splits itself: plan chunks, process each (checkpointed), merge."""

    parallel: bool = True
    max_workers: int | None = None

    @abstractmethod
    def plan(self) -> list[Any]:
        """Picklable chunk descriptors, in output order."""

    @abstractmethod
    def chunk_key(self, chunk: Any) -> str:
        """Content key of one chunk (e.g. file sha256 + chunk index); the stage key is added by the engine."""

    def load_resource(self) -> Any:
        return None

    @abstractmethod
    def process_chunk(self, chunk: Any, resource: Any) -> BatchResult: ...

    @abstractmethod
    def finalize(self, run: RunDir, chunks: list[Any], checkpoints: list[Checkpoint]) -> dict[str, float]:
        """Merge the chunks' checkpoints (in plan order) into tables, quarantine and manifest; return stats.

        Read them one at a time (``Checkpoint.read``, ``table_file``, ``quarantine``): at scale they do not
        fit in memory together; ``runner.assemble_table`` links their shards into a table unread.
        """
