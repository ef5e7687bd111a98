"""The run directory: the product's storage and its contract.

A run is a folder of Parquet tables plus ``manifest.json``, ``quarantine.jsonl``
and ``valuescope.duckdb`` (views over every table). Every write is atomic
(temp file + rename) so a run killed at any moment never leaves a half table.
See docs/run-directory.md for the table schemas.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import BaseModel

try:
    import fcntl
except ImportError:  # Windows: msvcrt's byte-range lock plays the same role
    fcntl = None  # type: ignore[assignment]
    import msvcrt

from valuescope.engine import dataset
from valuescope.engine.dataset import fsync_dir, naming
from valuescope.errors import ValuescopeError

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"
QUARANTINE = "quarantine.jsonl"
DUCKDB_FILE = "valuescope.duckdb"
CACHE_DIR = ".cache"
LOCK_FILE = ".lock"
# tables joined into another table's view of valuescope.duckdb: view -> (table, join key, columns)
JOINED_VIEWS = {"judgments": ("anomaly_scores", "id", ("anomaly_score",))}


class RunLockedError(ValuescopeError, RuntimeError):
    """Another process is working in this run directory."""


_HELD: dict[Path, list[int]] = {}  # run path -> [fd, depth]: locks this process holds (re-entrant)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write, fsync, rename over `path`, fsync the folder: a crash leaves the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        named = naming(exc, path)
        if named is exc:
            raise
        raise named from exc
    fsync_dir(path.parent)


def to_table(rows: pa.Table | Sequence[BaseModel] | Sequence[dict] | Any, schema: pa.Schema | None = None) -> pa.Table:
    """Accept an Arrow table, a pandas DataFrame, pydantic records or dicts."""
    if isinstance(rows, pa.Table):
        return rows
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas
        return pa.Table.from_pandas(rows, preserve_index=False, schema=schema)
    dicts = [r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in rows]
    if schema is not None:
        return pa.Table.from_pylist(dicts, schema=schema)
    if not dicts:
        return pa.table({})
    return pa.Table.from_pylist(dicts)


class RunDir:
    """Typed access to one run folder."""

    def __init__(self, path: str | os.PathLike[str], create: bool = True) -> None:
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_dir():
            raise FileNotFoundError(f"no run directory at {self.path}")

    # -- tables ---------------------------------------------------------------
    # A table is a folder of Parquet shards (engine/dataset.py); nothing outside RunDir builds a table's path.
    def table_path(self, name: str) -> Path:
        """`judgments` -> RUN/judgments/ (a folder of part-NNNNNN.parquet shards); `analysis/context` -> RUN/analysis/context/."""
        return self.path / name

    def shards(self, name: str) -> list[Path]:
        """The table's shard files in row order; [] when the table does not exist."""
        folder = self.table_path(name)
        if folder.is_dir():
            return sorted(folder.glob(dataset.SHARD_GLOB))
        legacy = self.path / f"{name}.parquet"  # a run written before tables were sharded
        return [legacy] if legacy.is_file() else []

    def has_table(self, name: str) -> bool:
        return bool(self.shards(name))

    def write_table(self, name: str, rows: Any, schema: pa.Schema | None = None) -> Path:
        """Replace table `name` whole (one shard); row-level stages stream shards through :meth:`table_writer`."""
        table = to_table(rows, schema)
        with self.table_writer(name, schema or table.schema) as writer:
            writer.write(table)
        return self.table_path(name)

    def write_batches(self, name: str, parts: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema) -> Path:
        """Replace table `name` from a stream of parts (cast to `schema`) without holding it: shards are cut
        as the parts arrive (taxonomy and analysis write their row-level tables this way)."""
        with self.table_writer(name, schema) as writer:
            writer.write_parts(parts)
        return self.table_path(name)

    def table_writer(self, name: str, schema: pa.Schema | None = None) -> dataset.TableWriter:
        """Write table `name` shard by shard; it replaces the old table atomically when the `with` block ends."""
        return dataset.TableWriter(self.table_path(name), schema)

    def drop_table(self, name: str) -> None:
        dataset.drop(self.table_path(name))

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        shards = self.shards(name)
        if not shards:
            raise FileNotFoundError(f"run {self.path} has no table {name!r} (expected {self.table_path(name)}/)")
        return dataset.read_shards(shards, columns)

    def read_df(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return self.read_table(name, columns).to_pandas()

    def num_rows(self, name: str) -> int:
        """Rows of a table, from the shards' Parquet footers (nothing else is read)."""
        return dataset.num_rows(self.shards(name))

    def table_digest(self, name: str) -> str | None:
        """Fingerprint of a table's exact bytes (over its shards); None for an absent table."""
        return dataset.shards_digest(self.shards(name))

    def parquet_source(self, name: str) -> str:
        """A DuckDB table expression reading table `name` where it lies (a glob over its shards).

        Code that aggregates a table out of core (analysis, taxonomy, views) reads through this, never a
        path of its own, so the storage layout of a table can change in one place.
        """
        folder = self.table_path(name)
        if folder.is_dir() or not self.has_table(name):
            target = (folder.resolve() / dataset.SHARD_GLOB).as_posix()
        else:
            target = self.shards(name)[0].resolve().as_posix()
        return "read_parquet('" + target.replace("'", "''") + "', union_by_name = true)"

    def tables(self) -> list[str]:
        """Every table of the run: folders holding shards, and single files of the layout before shards."""
        out = set()
        for folder, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # checkpoints, half-written tables
            rel = Path(folder).relative_to(self.path)
            for f in files:
                if not f.endswith(".parquet") or f.startswith("."):
                    continue
                if dataset.is_shard(f) and rel.parts:
                    out.add(rel.as_posix())
                else:
                    out.add((rel / f).with_suffix("").as_posix())
        return sorted(out)

    # -- manifest -------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            return {}
        return json.loads(self.manifest_path.read_text("utf-8"))

    def update_manifest(self, **sections: Any) -> dict[str, Any]:
        """Merge top-level sections (dicts are merged one level deep)."""
        manifest = self.read_manifest()
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(manifest.get(key), dict):
                manifest[key] = {**manifest[key], **value}
            else:
                manifest[key] = value
        atomic_write_bytes(
            self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True, default=str).encode("utf-8")
        )
        return manifest

    # -- quarantine -----------------------------------------------------------
    @property
    def quarantine_path(self) -> Path:
        return self.path / QUARANTINE

    def write_quarantine(self, stage: str, records: Iterable[BaseModel | dict]) -> int:
        """Replace this stage's quarantine records (idempotent on rerun), streaming: never all in memory."""
        path = self.quarantine_path
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{path.name}.", suffix=".tmp")
        count = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                if path.is_file():
                    with path.open(encoding="utf-8") as fh:
                        for line in fh:
                            if line.strip() and json.loads(line).get("stage") != stage:
                                out.write(line if line.endswith("\n") else line + "\n")
                for r in records:
                    row = r.model_dump(mode="json") if isinstance(r, BaseModel) else dict(r)
                    row.setdefault("stage", stage)
                    out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                    count += 1
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            named = naming(exc, path)
            if named is exc:
                raise
            raise named from exc
        fsync_dir(self.path)
        return count

    def read_quarantine(self) -> list[dict[str, Any]]:
        if not self.quarantine_path.is_file():
            return []
        with self.quarantine_path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    # -- cache ----------------------------------------------------------------
    def cache_dir(self, stage: str) -> Path:
        path = self.path / CACHE_DIR / stage
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- lock -------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run directory's OS lock (RUN/.lock) for the duration; fail at once if another process holds it.

        A POSIX record lock (lockf): released by the kernel when the holder dies, even by kill -9,
        and not inherited by worker processes, so an orphaned worker never blocks a rerun.
        Re-entrant within one process.
        """
        key = self.path.resolve()
        if key in _HELD:
            _HELD[key][1] += 1
            try:
                yield
            finally:
                _HELD[key][1] -= 1
            return
        path = self.path / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _try_lock(fd)
        except OSError:
            os.close(fd)
            holder = _lock_holder(path)
            raise RunLockedError(
                f"run directory {self.path} is in use by another valuescope process ({holder}); "
                "wait for it to finish or choose another --out"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            _HELD[key] = [fd, 1]
            yield
        finally:
            _HELD.pop(key, None)
            os.close(fd)  # releases the lock; the file stays (deleting it would race a waiting process)

    def holder(self) -> str | None:
        """'pid N' when another process holds the lock now, else None (also when that cannot be checked)."""
        try:
            with self.lock():
                return None
        except RunLockedError:
            return _lock_holder(self.path / LOCK_FILE)
        except OSError:
            return None

    # -- SQL ------------------------------------------------------------------
    def create_views(self, con: Any) -> None:
        """A view per table (`analysis/context` -> `analysis_context`) and `quarantine`, on a DuckDB connection.

        Tables listed in JOINED_VIEWS add their columns to another table's view (judgments gets
        anomaly_score from anomaly_scores.parquet) without any stage rewriting that table.
        """
        tables = self.tables()

        source = self.parquet_source
        for name in tables:
            view = name.replace("/", "_").replace("-", "_")
            joined = JOINED_VIEWS.get(name)
            if joined and joined[0] in tables:
                other, key, cols = joined
                extra = ", ".join(f'x."{c}"' for c in cols)
                sql = f'SELECT t.*, {extra} FROM {source(name)} t LEFT JOIN {source(other)} x USING ("{key}")'
            else:
                sql = f"SELECT * FROM {source(name)}"
            con.execute(f'CREATE OR REPLACE VIEW "{view}" AS {sql}')
        if self.quarantine_path.is_file() and self.quarantine_path.stat().st_size > 0:
            target = self.quarantine_path.resolve().as_posix().replace("'", "''")
            con.execute(
                f"CREATE OR REPLACE VIEW quarantine AS SELECT * FROM read_json_auto('{target}', format='newline_delimited')"
            )

    def refresh_duckdb(self) -> Path:
        """Build valuescope.duckdb (views only) under a temporary name, then rename it into place.

        A reader holding the old file open (a notebook, `valuescope serve`) keeps its copy and
        never blocks a rerun; the new file appears whole or not at all.
        """
        import duckdb

        db_path = self.path / DUCKDB_FILE
        fd, tmp_name = tempfile.mkstemp(dir=self.path, prefix=f".{DUCKDB_FILE}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        tmp.unlink()  # DuckDB creates the file itself
        wal = Path(f"{tmp}.wal")
        try:
            try:
                con = duckdb.connect(str(tmp))
                try:
                    self.create_views(con)
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            except duckdb.IOException as exc:  # a full or read-only disk: report it like any other OSError
                raise OSError(f"cannot write {db_path}: {str(exc).splitlines()[0]}") from exc
            wal.unlink(missing_ok=True)
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, db_path)
        finally:
            tmp.unlink(missing_ok=True)
            wal.unlink(missing_ok=True)
        fsync_dir(self.path)
        return db_path


def _try_lock(fd: int) -> None:
    """Take the exclusive lock on an open lock file without waiting; OSError if another process has it."""
    if fcntl is not None:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _lock_holder(path: Path) -> str:
    """'pid N' of the process holding the lock, as it wrote in the lock file."""
    try:
        pid = path.read_text("ascii").strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"
