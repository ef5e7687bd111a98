"""Duplicate conversation ids across all chunks, found out of core: the first occurrence (input order) wins.

DuckDB reads only the id and origin columns of the chunks' shards and spills to disk when it must, so
finding duplicates among millions of conversations needs neither the corpus nor its ids in Python.
"""

from __future__ import annotations

from typing import Any

from valuescope.engine.checkpoint import Checkpoint
from valuescope.records import QuarantineRecord

TABLE = "conversations"


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def duplicate_rows(
    checkpoints: list[Checkpoint], stage: str = "ingest"
) -> tuple[dict[int, set[int]], dict[int, list[QuarantineRecord]]]:
    """Per chunk index: the rows to drop and their quarantine records (pointing at the first occurrence)."""
    files = [(k, str(path)) for k, cp in enumerate(checkpoints) if (path := cp.table_file(TABLE)) is not None]
    files = [(k, p) for k, p in files if checkpoints[k].num_rows(TABLE)]
    if not files:
        return {}, {}
    import duckdb

    con = duckdb.connect()
    try:  # what does not fit in memory spills beside the checkpoints (the run's own disk), not into the cwd
        spill = checkpoints[files[0][0]].folder.parent / "dedup.tmp"
        con.execute(f"SET temp_directory = '{spill.as_posix().replace(chr(39), chr(39) * 2)}'")
        con.execute("CREATE TEMP TABLE chunk_of (filename VARCHAR, k INTEGER)")
        con.executemany("INSERT INTO chunk_of VALUES (?, ?)", [(p, k) for k, p in files])
        rows: list[Any] = con.execute(
            f"""
            WITH t AS (
                SELECT k, file_row_number AS row, id, source_file, source_line
                FROM read_parquet({_sql_list([p for _, p in files])}, filename = true, file_row_number = true)
                JOIN chunk_of USING (filename)
            ), ranked AS (
                SELECT *, row_number() OVER w AS n,
                       first_value(source_file) OVER w AS first_file, first_value(source_line) OVER w AS first_line
                FROM t WINDOW w AS (PARTITION BY id ORDER BY k, row)
            )
            SELECT k, row, id, source_file, source_line, first_file, first_line FROM ranked WHERE n > 1 ORDER BY k, row
            """
        ).fetchall()
    finally:
        con.close()
    drops: dict[int, set[int]] = {}
    records: dict[int, list[QuarantineRecord]] = {}
    for k, row, cid, src, line, first_file, first_line in rows:
        drops.setdefault(k, set()).add(row)
        records.setdefault(k, []).append(
            QuarantineRecord(
                stage=stage,
                source=src,
                line=line,
                record_id=cid,
                reason=f"duplicate id {cid!r} (first seen at {first_file}:{first_line})",
            )
        )
    return drops, records
