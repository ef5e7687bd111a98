"""One unit of work's checkpoint: RUN/.cache/STAGE/KEY/ with a shard per output table, quarantine, stats, DONE.

Written by whichever process computed the unit (a local worker, a Ray actor), atomically, the marker
last; read by the driver only when it assembles tables, one checkpoint at a time. The KEY is the
stage key plus the unit's content key, so a unit with a marker is never computed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from valuescope.engine.dataset import write_parquet_atomic
from valuescope.engine.rundir import atomic_write_bytes
from valuescope.engine.stage import BatchResult
from valuescope.records import QuarantineRecord

DONE = "DONE"


def _file(name: str) -> str:
    return f"{name.replace('/', '__')}.parquet"


def save_checkpoint(folder: Path, result: BatchResult) -> None:
    """Write a unit's result; the DONE marker goes last, so a marker means every file is whole."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in result.tables.items():
        write_parquet_atomic(folder / _file(name), table)
    quarantine = [q.model_dump(mode="json") for q in result.quarantine]
    atomic_write_bytes(folder / "quarantine.json", json.dumps(quarantine).encode("utf-8"))
    atomic_write_bytes(folder / "stats.json", json.dumps(result.stats).encode("utf-8"))
    atomic_write_bytes(folder / DONE, b"")


@dataclass(frozen=True)
class Checkpoint:
    """A finished unit's files, read lazily (the driver never loads all units at once)."""

    folder: Path

    @property
    def done(self) -> bool:
        return (self.folder / DONE).is_file()

    def table_file(self, name: str) -> Path | None:
        path = self.folder / _file(name)
        return path if path.is_file() else None

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table | None:
        path = self.table_file(name)
        return pq.read_table(path, columns=columns) if path is not None else None

    def num_rows(self, name: str) -> int:
        path = self.table_file(name)
        return pq.read_metadata(path).num_rows if path is not None else 0

    def quarantine(self) -> list[QuarantineRecord]:
        return [QuarantineRecord(**q) for q in json.loads((self.folder / "quarantine.json").read_text("utf-8"))]

    def stats(self) -> dict[str, float]:
        return json.loads((self.folder / "stats.json").read_text("utf-8"))


def summed_stats(checkpoints: list[Checkpoint]) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in checkpoints:
        for k, v in c.stats().items():
            out[k] = out.get(k, 0) + v
    return out
