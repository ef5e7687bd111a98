"""Input files: expand paths, hash and plan chunks, and read one chunk into raw items.

A chunk is the unit of work and of checkpointing: a run of lines of a JSONL
file (found by byte offset in the uncompressed stream, so a chunk reads only
its own lines), a range of rows of a table, or a whole JSON / text file.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valuescope.ingest import inspect_log, openai_batch, tabular
from valuescope.ingest.archive import INPUT_SUFFIXES
from valuescope.ingest.draft import Draft, InputError, RecordError, redact_user_ids
from valuescope.ingest.formats import GZIP_MAGIC, JSON_READERS, detect, is_gzip, open_text_stream
from valuescope.ingest.transcript import parse as parse_transcript



@dataclass(frozen=True)
class Chunk:
    file: int  # index into the plan's files
    index: int  # chunk number within the file
    start: int  # byte offset (jsonl) or row index (tables)
    count: int  # lines or rows; 0 = the whole file
    first_line: int  # 1-based line (or row / item) number of the chunk's first record


@dataclass
class InputFile:
    path: str  # as given by the user
    sha256: str
    bytes: int
    format: str
    container: str
    gzip: bool
    columns: dict[str, str] = field(default_factory=dict)  # tables: our field -> column
    chunks: list[Chunk] = field(default_factory=list)
    location: str | None = None  # where the bytes are, when not at `path` (an archive member's temporary copy)

    @property
    def local(self) -> Path:
        return Path(self.location or self.path)

    @property
    def stem(self) -> str:
        name = Path(self.path).name
        for suffix in (".gz", *INPUT_SUFFIXES):
            name = name.removesuffix(suffix)
        return name

    def manifest(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "format": self.format,
                "container": self.container, "gzip": self.gzip, "chunks": len(self.chunks)}


@dataclass
class Item:
    """One record as read: drafts to validate, or the reason it has none."""

    line: int
    drafts: list[Draft] | None = None
    error: str | None = None
    raw: str | None = None  # the offending text (raw ids masked), for quarantine
    blank: bool = False  # a blank line: counted, not a record
    joined: bool = False  # a batch request whose answer (another file's line) carries it: counted, not a record


class _HashingReader:
    """File wrapper that hashes every byte read through it (sha256 of the file as stored)."""

    def __init__(self, fh) -> None:
        self.fh, self.sha = fh, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.sha.update(data)
        return data

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return self.sha.hexdigest()


def _line_chunks(path: Path, index: int, lines_per_chunk: int) -> tuple[str, list[Chunk]]:
    import gzip

    chunks: list[Chunk] = []
    with path.open("rb") as raw:
        hashing = _HashingReader(raw)
        gz = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=hashing, mode="rb") if gz else None
        lines = stream if stream is not None else iter(lambda: _readline(hashing), b"")
        offset, n = 0, 0
        for line in lines:
            if n % lines_per_chunk == 0:
                chunks.append(Chunk(index, len(chunks), offset, lines_per_chunk, n + 1))
            offset += len(line)
            n += 1
        if chunks:
            last = chunks[-1]
            chunks[-1] = Chunk(index, last.index, last.start, n - last.first_line + 1, last.first_line)
        return hashing.drain(), chunks


def _readline(hashing: _HashingReader) -> bytes:
    line = hashing.fh.readline()
    hashing.sha.update(line)
    return line


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


@functools.lru_cache(maxsize=2)
def _read_table_cached(path: str, sha256: str):
    """A table input, read once per process (chunks of the same file share it)."""
    return _read_table(Path(path))


def _read_table(path: Path):
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    try:
        with path.open("rb") as fh:
            magic = fh.read(6)
        if magic[:4] == b"PAR1":
            return pq.read_table(path)
        if magic == b"ARROW1":
            return pa.ipc.open_file(path).read_all()
        if magic[:4] == b"\xff\xff\xff\xff":  # the IPC stream format, as datasets' save_to_disk writes it
            with pa.OSFile(str(path)) as fh:
                return pa.ipc.open_stream(fh).read_all()
        tsv = path.name.lower().removesuffix(".gz").endswith(".tsv")
        parse = pcsv.ParseOptions(delimiter="\t" if tsv else ",")
        try:
            return pcsv.read_csv(path, parse_options=parse)
        except pa.ArrowInvalid as exc:
            if "UTF8" not in str(exc):
                raise
            # Some cells are not valid UTF-8: read every column as bytes; rows are checked one by one.
            with open_text_stream(path) as fh:
                header = next(csv.reader([fh.readline().decode("utf-8", "replace")], delimiter=parse.delimiter))
            binary = pcsv.ConvertOptions(column_types={name: pa.binary() for name in header})
            return pcsv.read_csv(path, parse_options=parse, convert_options=binary)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"cannot read table {path}: {str(exc).splitlines()[0]}") from None


def plan_file(
    path: Path, index: int, forced: str | None, lines_per_chunk: int, column_map: dict[str, str], shown: str | None = None
) -> InputFile:
    """Detect and chunk one file; ``shown`` names it in messages and the manifest (default: its path)."""
    shown = shown or str(path)
    try:
        return _plan_file(path, index, forced, lines_per_chunk, column_map, shown)
    except InputError as exc:
        raise InputError(str(exc).replace(str(path), shown)) from None


def _plan_file(path: Path, index: int, forced: str | None, lines_per_chunk: int, column_map: dict[str, str], shown: str) -> InputFile:
    try:
        fmt, container = detect(path, forced)
        if container == "jsonl":
            sha, chunks = _line_chunks(path, index, lines_per_chunk)
        else:
            sha, chunks = _sha256(path), []
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a corrupt / truncated gzip
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    columns: dict[str, str] = {}
    if container in ("parquet", "csv", "arrow"):
        table = _read_table(path)
        try:
            columns = tabular.resolve_columns(table.column_names, column_map)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        chunks = [Chunk(index, i, start, min(lines_per_chunk, table.num_rows - start), start + 1)
                  for i, start in enumerate(range(0, table.num_rows, lines_per_chunk))]
    elif container in ("json", "text", inspect_log.NAME):
        chunks = [Chunk(index, 0, 0, 0, 1)]
    return InputFile(shown, sha, path.stat().st_size, fmt, container, is_gzip(path), columns, chunks,
                     location=None if shown == str(path) else str(path))


# -- reading a chunk ---------------------------------------------------------------


def _raw_text(obj: Any, limit: int = 4000) -> str:
    text = obj if isinstance(obj, str) else json.dumps(redact_user_ids(obj), ensure_ascii=False)
    return text[:limit]


def _parse(reader, obj: Any, line: int, batch: openai_batch.BatchIndex | None = None) -> Item:
    try:
        if reader is openai_batch:
            if batch is not None and openai_batch.is_request(obj) and obj.get("custom_id") in batch.answered:
                return Item(line, joined=True)
            return Item(line, drafts=openai_batch.parse(obj, batch))
        return Item(line, drafts=reader.parse(obj))
    except RecordError as exc:
        return Item(line, error=str(exc), raw=_raw_text(obj))


def read_chunk(
    f: InputFile, chunk: Chunk, max_record_bytes: int, batch: openai_batch.BatchIndex | None = None
) -> Iterator[Item]:
    path = f.local
    if f.container == "jsonl":
        reader = JSON_READERS[f.format]
        with open_text_stream(path) as fh:
            fh.seek(chunk.start)
            for n in range(chunk.count):
                data = fh.readline()
                line = chunk.first_line + n
                if not data:
                    break
                yield from _jsonl_item(reader, data, line, max_record_bytes, batch)
    elif f.container == "text":
        data = path.read_bytes() if not f.gzip else open_text_stream(path).read()
        if len(data) > max_record_bytes:
            yield Item(1, error=_too_big(len(data), max_record_bytes))
            return
        try:
            text = data.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            yield Item(1, error=f"not valid UTF-8 (byte {exc.start})", raw=data[:4000].decode("utf-8", "replace"))
            return
        try:
            yield Item(1, drafts=parse_transcript(text))
        except RecordError as exc:
            yield Item(1, error=str(exc), raw=text[:4000])
    elif f.container == inspect_log.NAME:
        for number, drafts, error in inspect_log.iter_samples(path):
            yield Item(number, drafts=drafts, error=error)
    elif f.container == "json":
        reader = JSON_READERS[f.format]
        with open_text_stream(path) as fh:
            data = json.load(fh)
        for i, obj in enumerate(data if isinstance(data, list) else [data], 1):
            size = len(json.dumps(obj, ensure_ascii=False).encode())
            if size > max_record_bytes:
                yield Item(i, error=_too_big(size, max_record_bytes), raw=_raw_text(obj))
            else:
                yield _parse(reader, obj, i, batch)
    else:
        table = _read_table_cached(str(path), f.sha256).slice(chunk.start, chunk.count)
        for i, row in enumerate(table.to_pylist()):
            try:
                row = tabular.decode_row(row)
                size = len(json.dumps(tabular._jsonable(row), ensure_ascii=False, default=str).encode())
                if size > max_record_bytes:
                    raise RecordError(_too_big(size, max_record_bytes))
                yield Item(chunk.first_line + i, drafts=tabular.parse_row(row, f.columns))
            except RecordError as exc:
                yield Item(chunk.first_line + i, error=str(exc), raw=_raw_text(tabular._jsonable(row)))


def _too_big(size: int, limit: int) -> str:
    return f"record is {size:,} bytes, over the {limit:,}-byte limit (ingest.max_record_bytes)"


def _jsonl_item(reader, data: bytes, line: int, max_record_bytes: int, batch=None) -> Iterator[Item]:
    data = data.rstrip(b"\r\n")
    if line == 1:
        data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark (Windows editors)
    if not data.strip():
        yield Item(line, blank=True)  # blank lines are not records
        return
    if len(data) > max_record_bytes:
        yield Item(line, error=_too_big(len(data), max_record_bytes), raw=data[:4000].decode("utf-8", "replace"))
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield Item(line, error=f"not valid UTF-8 (byte {exc.start} of the line)", raw=data[:4000].decode("utf-8", "replace"))
        return
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Item(line, error=f"bad JSON: {exc.msg} at column {exc.colno}", raw=text[:4000])
        return
    yield _parse(reader, obj, line, batch)
