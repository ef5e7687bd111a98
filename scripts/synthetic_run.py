"""A large run for memory measurements: a real run's judgments, mentions, values and conversation metadata
replicated with new ids (conversation ``X`` becomes ``X#k``; user ``U`` becomes ``U#k``) up to N conversations.

    python scripts/synthetic_run.py SOURCE_RUN OUT_RUN --conversations 1000000

Written replica by replica (the generator never holds more than one copy of the source), through RunDir.
Only the conversations' metadata columns the analyses read are kept (no text).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from valuescope.engine.rundir import RunDir

TABLES = ("judgments", "mentions", "values", "conversations")
CONV_COLUMNS = ["id", "model", "context", "user_id", "timestamp", "source"]


def suffixed(table: pa.Table, column: str, k: int) -> pa.Table:
    if column not in table.schema.names:
        return table
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pc.binary_join_element_wise(table[column], pa.scalar(f"#{k}"), ""))


def replicate(source: RunDir, out: RunDir, n: int) -> dict[str, int]:
    base = source.read_table("judgments")
    reps = -(-n // base.num_rows)
    rows = {}
    for name in TABLES:
        if not source.has_table(name):
            continue
        cols = None
        if name == "conversations":
            cols = [c for c in CONV_COLUMNS if c in source.read_table(name).schema.names]
        t = source.read_table(name, columns=cols)
        ids = set(base["id"].to_pylist())
        t = t.filter(pc.is_in(t["id"], pa.array(sorted(ids))))
        path = out.table_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        written = 0
        with pq.ParquetWriter(tmp, t.schema) as writer:
            for k in range(reps):
                part = suffixed(suffixed(t, "id", k), "user_id", k)
                if name == "judgments" or name == "conversations":
                    part = part.slice(0, max(0, min(part.num_rows, n - k * base.num_rows)))
                else:  # keep the mentions of the conversations kept
                    keep = n - k * base.num_rows
                    if keep < base.num_rows:
                        kept = pc.binary_join_element_wise(base["id"].slice(0, keep), pa.scalar(f"#{k}"), "")
                        part = part.filter(pc.is_in(part["id"], kept))
                writer.write_table(part)
                written += part.num_rows
        tmp.replace(path)
        rows[name] = written
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--conversations", type=int, required=True)
    a = ap.parse_args()
    print(replicate(RunDir(a.source, create=False), RunDir(a.out), a.conversations))


if __name__ == "__main__":
    main()
