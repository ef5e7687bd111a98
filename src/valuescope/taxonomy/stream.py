"""Out-of-core table access for the whole-table stages (taxonomy, analysis): DuckDB over the run's
Parquet tables, results streamed in record batches, tables written batch by batch.

The driver's memory is bounded by a batch and by what the stage keeps per *distinct* value, never by
the corpus: DuckDB aggregates with a memory limit and spills to the run's cache folder beyond it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from valuescope.engine.rundir import RunDir, fsync_dir

BATCH_ROWS = 65_536
MEMORY_LIMIT = "1GB"  # DuckDB's own limit (it spills beyond it): a fixed ceiling, whatever the corpus


def connect(run: RunDir | None = None, memory_limit: str = MEMORY_LIMIT) -> Any:
    """An in-memory DuckDB connection that keeps scan order and spills into RUN/.cache/duckdb."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_limit}'")
    con.execute("SET preserve_insertion_order=true")
    if run is not None:
        spill = run.cache_dir("duckdb").resolve().as_posix().replace("'", "''")
        con.execute(f"SET temp_directory='{spill}'")
    return con


def columns(con: Any, source: str) -> list[str]:
    """Column names of a table expression (an empty table written bare has none)."""
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]


def batches(con: Any, sql: str, rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The result of a query as record batches, in the query's order."""
    reader = con.sql(sql).to_arrow_reader(rows)
    yield from reader


def write_batches(run: RunDir, name: str, parts: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema) -> int:
    """Write table `name` from batches without holding it: the RunDir's own streaming writer when it has one,
    else one Parquet file written to a temporary name, fsynced and renamed into RunDir's place for the table.
    Returns the number of rows."""
    own = getattr(run, "write_batches", None)
    if own is not None:
        counted = _Counted(parts)
        own(name, counted, schema)
        return counted.rows
    path = Path(run.table_path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    n = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            with pq.ParquetWriter(fh, schema) as writer:
                for part in parts:
                    table = part if isinstance(part, pa.Table) else pa.Table.from_batches([part])
                    writer.write_table(table.select(schema.names).cast(schema))
                    n += table.num_rows
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return n


class _Counted:
    """Iterates `parts`, counting rows on the way."""

    def __init__(self, parts: Iterable[pa.RecordBatch | pa.Table]) -> None:
        self.parts, self.rows = parts, 0

    def __iter__(self) -> Iterator[pa.RecordBatch | pa.Table]:
        for part in self.parts:
            self.rows += part.num_rows
            yield part
