"""How one table lies on disk: a folder of Parquet shards, replaced whole or not at all.

``RUN/judgments/part-000000.parquet, part-000001.parquet, ...``: shards in row order, each a
plain Parquet file. A table is read shard by shard (no reader needs the whole table in memory),
written through a :class:`TableWriter` that builds the new folder under a hidden name and renames
it into place, and fingerprinted by the digests of its shards. A folder always holds at least one
shard, so an empty table still has its schema. ``RUN/name.parquet`` (the layout before shards) is
still read, never written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SHARD_GLOB = "part-*.parquet"
SHARD_ROWS = 131_072  # rows per shard of a table written from a stream (RunDir.write_batches)


def is_shard(filename: str) -> bool:
    return filename.startswith("part-") and filename.endswith(".parquet")


def shard_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


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


def naming(exc: BaseException, path: Path) -> BaseException:
    """An OSError that names the file being written (a failed write or fsync names none)."""
    if isinstance(exc, OSError) and not exc.filename and exc.errno:
        return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))
    return exc


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """A Parquet file durable before it is visible under its name (temp file, fsync, rename)."""
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
        named = naming(exc, path)
        if named is exc:
            raise
        raise named from exc
    fsync_dir(path.parent)


# -- digests ----------------------------------------------------------------------------------

_DIGESTS: dict[str, tuple[tuple[int, int, int], str]] = {}  # path -> (inode, size, mtime), sha256


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes, None when it does not exist (absence is a state too).

    Remembered per (inode, size, mtime) in this process: files here are only ever replaced by a
    rename (a new inode), so a shard is hashed once however often freshness is checked.
    """
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    known = _DIGESTS.get(str(path))
    if known is not None and known[0] == stamp:
        return known[1]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    _DIGESTS[str(path)] = (stamp, digest)
    return digest


def shards_digest(shards: list[Path]) -> str | None:
    """One digest over a table's shards (names and bytes); None for an absent table."""
    if not shards:
        return None
    if len(shards) == 1 and shards[0].suffix == ".parquet" and not shards[0].name.startswith("part-"):
        return file_digest(shards[0])  # the single-file layout: the file's own digest
    h = hashlib.sha256()
    for shard in shards:
        h.update(f"{shard.name}:{file_digest(shard)}\n".encode())
    return h.hexdigest()


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowRange:
    """Rows [offset, offset + length) of one shard: a batch, planned from Parquet metadata alone."""

    shard: str  # absolute path
    digest: str  # sha256 of the shard's bytes: the batch's content key
    offset: int
    length: int

    def read(self) -> pa.Table:
        """Read only the row groups holding the range."""
        pf = pq.ParquetFile(self.shard)
        groups, first, start = [], None, 0
        for i in range(pf.num_row_groups):
            n = pf.metadata.row_group(i).num_rows
            if start + n > self.offset and start < self.offset + self.length:
                groups.append(i)
                first = start if first is None else first
            start += n
        if not groups:
            return pf.schema_arrow.empty_table()
        return pf.read_row_groups(groups).slice(self.offset - (first or 0), self.length)


def plan_ranges(shards: list[Path], size: int) -> list[RowRange]:
    """Batches of at most `size` rows, shard by shard, in row order (a batch never spans two shards)."""
    out = []
    for shard in shards:
        rows = pq.read_metadata(shard).num_rows
        digest = file_digest(shard) or ""
        out += [RowRange(str(shard), digest, off, min(size, rows - off)) for off in range(0, rows, size)]
    return out


def read_shards(shards: list[Path], columns: list[str] | None = None) -> pa.Table:
    """The whole table (for the callers that need it); schemas that differ are unified by name."""
    parts = [pq.read_table(s, columns=columns) for s in shards]
    if len(parts) == 1:
        return parts[0]
    return pa.concat_tables(parts, promote_options="default")


def num_rows(shards: list[Path]) -> int:
    return sum(pq.read_metadata(s).num_rows for s in shards)


# -- writing ----------------------------------------------------------------------------------


class TableWriter:
    """Build a table's new folder shard by shard under a hidden name; :meth:`commit` swaps it in.

    A crash before the swap leaves the old table; during it (between two renames), no table, which
    every reader treats as missing and the engine recomputes. Never half a table, never two mixed.
    """

    def __init__(self, target: Path, schema: pa.Schema | None = None) -> None:
        self.target = target
        self.schema = schema
        self.count = 0
        self.rows = 0
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target)
        self.tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))

    def _next(self) -> Path:
        path = self.tmp / shard_name(self.count)
        self.count += 1
        return path

    def write(self, table: pa.Table) -> None:
        """Append one shard (an empty table is skipped unless it is the only one, see commit)."""
        if table.num_rows == 0:
            self.schema = self.schema or table.schema
            return
        write_parquet_atomic(self._next(), table)
        self.rows += table.num_rows

    def write_parts(self, parts: Iterable[pa.RecordBatch | pa.Table], shard_rows: int | None = None) -> None:
        """Append streamed parts (cast to the writer's schema), cut into shards of about `shard_rows` rows;
        memory holds one shard at most."""
        shard_rows = shard_rows or SHARD_ROWS
        buffered: list[pa.Table] = []
        rows = 0
        for part in parts:
            table = part if isinstance(part, pa.Table) else pa.Table.from_batches([part])
            if self.schema is not None:
                table = table.select(self.schema.names).cast(self.schema)
            buffered.append(table)
            rows += table.num_rows
            if rows >= shard_rows:
                self.write(pa.concat_tables(buffered))
                buffered, rows = [], 0
        if rows:
            self.write(pa.concat_tables(buffered))

    def add_file(self, path: Path) -> None:
        """Append an existing, durable Parquet file as a shard without reading it (hard link, else copy)."""
        rows = pq.read_metadata(path).num_rows
        if rows == 0:
            self.schema = self.schema or pq.read_schema(path)
            return
        dest = self._next()
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)
        self.rows += rows

    def commit(self) -> None:
        if self.count == 0:  # an empty table keeps its schema in one empty shard
            schema = self.schema if self.schema is not None else pa.schema([])
            write_parquet_atomic(self._next(), schema.empty_table())
        fsync_dir(self.tmp)
        old = None
        if self.target.exists():
            old = Path(tempfile.mkdtemp(dir=self.target.parent, prefix=f".{self.target.name}.old-"))
            os.rmdir(old)
            os.replace(self.target, old)
        os.replace(self.tmp, self.target)
        fsync_dir(self.target.parent)
        legacy = self.target.with_name(self.target.name + ".parquet")
        legacy.unlink(missing_ok=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def clean_leftovers(target: Path) -> None:
    """Remove hidden folders a killed writer of `target` left behind."""
    if not target.parent.is_dir():
        return
    for pattern in (f".{target.name}.new-*", f".{target.name}.old-*"):
        for left in target.parent.glob(pattern):
            shutil.rmtree(left, ignore_errors=True)


def drop(target: Path) -> None:
    """Delete a table in either layout."""
    if target.is_dir():
        shutil.rmtree(target)
    target.with_name(target.name + ".parquet").unlink(missing_ok=True)
    clean_leftovers(target)
