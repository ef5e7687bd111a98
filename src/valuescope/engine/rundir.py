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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

MANIFEST = "manifest.json"
QUARANTINE = "quarantine.jsonl"
DUCKDB_FILE = "valuescope.duckdb"
CACHE_DIR = ".cache"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    def read_df(self, name: str, columns: list[str] | None = None):
        return self.read_table(name, columns).to_pandas()

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

    # -- SQL ------------------------------------------------------------------
    def refresh_duckdb(self) -> Path:
        """(Re)create views over every table so users can query the run with SQL."""
        import duckdb

        db_path = self.path / DUCKDB_FILE
        con = duckdb.connect(str(db_path))
        try:
            for name in self.tables():
                view = name.replace("/", "_").replace("-", "_")
                target = self.table_path(name).resolve().as_posix().replace("'", "''")
                con.execute(f"CREATE OR REPLACE VIEW \"{view}\" AS SELECT * FROM read_parquet('{target}')")
            if self.quarantine_path.is_file() and self.quarantine_path.stat().st_size > 0:
                target = self.quarantine_path.resolve().as_posix().replace("'", "''")
                con.execute(
                    f"CREATE OR REPLACE VIEW quarantine AS SELECT * FROM read_json_auto('{target}', format='newline_delimited')"
                )
        finally:
            con.close()
        return db_path
