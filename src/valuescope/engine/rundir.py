"""The run directory: the product's storage and its contract.

A run is a folder of Parquet tables plus ``manifest.json``, ``quarantine.jsonl``
and ``valuescope.duckdb`` (views over every table). Every write is atomic
(temp file + rename) so a run killed at any moment never leaves a half table.
See docs/run-directory.md for the table schemas.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

try:
    import fcntl
except ImportError:  # Windows: msvcrt's byte-range lock plays the same role
    fcntl = None  # type: ignore[assignment]
    import msvcrt

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


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        named = _naming(exc, path)
        if named is exc:
            raise
        raise named from exc
    fsync_dir(path.parent)


def _naming(exc: BaseException, path: Path) -> BaseException:
    """An OSError that names the file being written (a failed write or fsync names none)."""
    if isinstance(exc, OSError) and not exc.filename and exc.errno:
        return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))
    return exc


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """A Parquet file written like atomic_write_bytes: durable before it is visible under its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        named = _naming(exc, path)
        if named is exc:
            raise
        raise named from exc
    fsync_dir(path.parent)


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes, None when it does not exist (absence is a state too)."""
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    def table_path(self, name: str) -> Path:
        """`judgments` -> RUN/judgments.parquet; `analysis/context` -> RUN/analysis/context.parquet."""
        return self.path / f"{name}.parquet"

    def has_table(self, name: str) -> bool:
        return self.table_path(name).is_file()

    def write_table(self, name: str, rows: Any, schema: pa.Schema | None = None) -> Path:
        path = self.table_path(name)
        write_parquet_atomic(path, to_table(rows, schema))
        return path

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        path = self.table_path(name)
        if not path.is_file():
            raise FileNotFoundError(f"run {self.path} has no table {name!r} (expected {path})")
        return pq.read_table(path, columns=columns)

    def read_df(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return self.read_table(name, columns).to_pandas()

    def parquet_source(self, name: str) -> str:
        """A DuckDB table expression reading table `name` where it lies (``read_parquet('…')``).

        Code that aggregates a table out of core (analysis, taxonomy, views) reads through this, never a
        path of its own, so the storage layout of a table can change in one place.
        """
        return "read_parquet('" + self.table_path(name).resolve().as_posix().replace("'", "''") + "')"

    def tables(self) -> list[str]:
        out = []
        for p in sorted(self.path.rglob("*.parquet")):
            rel = p.relative_to(self.path)
            if rel.parts[0].startswith("."):
                continue
            out.append(str(rel.with_suffix("")))
        return out

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
        """Replace this stage's quarantine records (idempotent on rerun)."""
        keep = [r for r in self.read_quarantine() if r.get("stage") != stage]
        new = [r.model_dump(mode="json") if isinstance(r, BaseModel) else dict(r) for r in records]
        for r in new:
            r.setdefault("stage", stage)
        lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in keep + new]
        atomic_write_bytes(self.quarantine_path, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))
        return len(new)

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
