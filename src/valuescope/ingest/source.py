"""Input files: expand paths, hash and plan chunks, and read one chunk into raw items.

A chunk is the unit of work and of checkpointing: a run of lines of a JSONL
file (found by byte offset in the uncompressed stream, so a chunk reads only
its own lines), a range of rows of a table, or a whole JSON / text file.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import threading
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from valuescope.ingest import inspect_log, openai_batch, tabular
from valuescope.ingest.archive import INPUT_SUFFIXES
from valuescope.ingest.draft import Draft, InputError, RecordError, quarantine_text
from valuescope.ingest.formats import JSON_READERS, detect
from valuescope.ingest.jsonarray import iter_array, iter_spans, starts_array
from valuescope.ingest.streams import (
    DEFAULT_MAX_RATIO,
    RawRecord,
    StreamCut,
    decode_json,
    drain,
    is_gzip,
    iter_lines,
    open_input,
    too_big,
)
from valuescope.ingest.transcript import parse as parse_transcript


@dataclass(frozen=True)
class Chunk:
    file: int  # index into the plan's files
    index: int  # chunk number within the file
    start: int  # byte offset (jsonl) or row index (tables)
    count: int  # lines or rows; 0 = the whole file
    first_line: int  # 1-based line (or row / item) number of the chunk's first record
    # JSON array elements: each record's (offset, size) as planning found them, so reading seeks to each
    # instead of scanning again; None when a record had an error (the chunk is scanned, meeting it again)
    spans: tuple[array, array] | None = field(default=None, compare=False, repr=False)


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
        return {
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "format": self.format,
            "container": self.container,
            "gzip": self.gzip,
            "chunks": len(self.chunks),
        }


@dataclass
class Item:
    """One record as read: drafts to validate, or the reason it has none."""

    line: int
    drafts: list[Draft] | None = None
    error: str | None = None
    raw: str | None = None  # the offending text (raw ids masked), for quarantine
    blank: bool = False  # a blank line: counted, not a record
    joined: bool = False  # a batch request whose answer (another file's line) carries it: counted, not a record


def _record_chunks(
    path: Path, index: int, container: str, per_chunk: int, max_bytes: int, max_ratio: int
) -> tuple[str, list[Chunk]]:
    """sha256 of the file as stored, and its records (lines or array elements) cut into chunks, in one pass.

    A chunk starts at a record's byte offset in the uncompressed stream, so
    reading it seeks there and reads only its own records. Records with an
    error (too big, cut tail) count like any other: reading the chunk again
    meets them again. Array elements' spans are kept, so a chunk without an
    error record reads them without scanning the array a second time.
    """
    sha = hashlib.sha256()
    chunks: list[Chunk] = []
    keep_spans = container == "json"
    offsets, sizes, clean = array("q"), array("q"), True

    def close(count: int) -> None:  # the chunk being filled, with its spans if all its records were clean
        last = chunks[-1]
        spans = (offsets, sizes) if keep_spans and clean else None
        chunks[-1] = Chunk(index, last.index, last.start, count, last.first_line, spans)

    with open_input(path, max_ratio, tee=sha) as fh:
        records = iter_lines(fh, max_bytes) if container == "jsonl" else iter_array(fh, max_bytes)
        n = 0
        for record in records:
            if n % per_chunk == 0:
                if chunks:
                    close(per_chunk)
                    offsets, sizes, clean = array("q"), array("q"), True
                chunks.append(Chunk(index, len(chunks), record.offset, per_chunk, record.number))
            if keep_spans:
                offsets.append(record.offset)
                sizes.append(record.size)
                clean = clean and record.error is None and record.data is not None
            n += 1
        drain(fh)
    if chunks:
        close(n - (chunks[-1].index * per_chunk))
    return sha.hexdigest(), chunks


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


@functools.lru_cache(maxsize=2)
def _read_table_cached(path: str, sha256: str, max_ratio: int = DEFAULT_MAX_RATIO):
    """A table input, read once per process (chunks of the same file share it)."""
    return _read_table(Path(path), max_ratio)


def _read_table(path: Path, max_ratio: int = DEFAULT_MAX_RATIO):
    """Parquet, Arrow IPC, or CSV/TSV (gzipped or not: found by magic bytes, whatever the name says)."""
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
        gz = is_gzip(path)  # pyarrow goes by the name alone: give it the gunzipped stream (ratio-capped)

        def read(**options):
            if not gz:
                return pcsv.read_csv(path, parse_options=parse, **options)  # native reader: fastest
            with open_input(path, max_ratio) as fh:
                return pcsv.read_csv(fh, parse_options=parse, **options)

        try:
            return read()
        except pa.ArrowInvalid as exc:
            if "UTF8" not in str(exc):
                raise
            # Some cells are not valid UTF-8: read every column as bytes; rows are checked one by one.
            with open_input(path, max_ratio) as fh:
                header = next(csv.reader([fh.readline().decode("utf-8", "replace")], delimiter=parse.delimiter))
            return read(convert_options=pcsv.ConvertOptions(column_types={name: pa.binary() for name in header}))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"cannot read table {path}: {str(exc).splitlines()[0]}") from None


def plan_file(
    path: Path,
    index: int,
    forced: str | None,
    lines_per_chunk: int,
    column_map: dict[str, str],
    max_record_bytes: int = 2_000_000,
    max_ratio: int = DEFAULT_MAX_RATIO,
    shown: str | None = None,
) -> InputFile:
    """Detect and chunk one file; ``shown`` names it in messages and the manifest (default: its path)."""
    shown = shown or str(path)
    try:
        f = _plan_file(path, index, forced, lines_per_chunk, column_map, max_record_bytes, max_ratio)
    except InputError as exc:
        raise InputError(str(exc).replace(str(path), shown)) from None
    if shown != str(path):
        f.path, f.location = shown, str(path)
    return f


def _plan_file(
    path: Path,
    index: int,
    forced: str | None,
    lines_per_chunk: int,
    column_map: dict[str, str],
    max_record_bytes: int,
    max_ratio: int,
) -> InputFile:
    try:
        fmt, container = detect(path, forced, max_record_bytes, max_ratio)
        if container in ("jsonl", "json"):
            sha, chunks = _record_chunks(path, index, container, lines_per_chunk, max_record_bytes, max_ratio)
        else:
            sha, chunks = _sha256(path), []
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a corrupt / truncated gzip
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    columns: dict[str, str] = {}
    if container in ("parquet", "csv", "arrow"):
        table = _read_table(path, max_ratio)
        try:
            columns = tabular.resolve_columns(table.column_names, column_map)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        chunks = [
            Chunk(index, i, start, min(lines_per_chunk, table.num_rows - start), start + 1)
            for i, start in enumerate(range(0, table.num_rows, lines_per_chunk))
        ]
    elif container in ("text", inspect_log.NAME):
        chunks = [Chunk(index, 0, 0, 0, 1)]
    return InputFile(str(path), sha, path.stat().st_size, fmt, container, is_gzip(path), columns, chunks)


# -- reading a chunk ---------------------------------------------------------------


def _raw_text(obj: Any, extra_keys: tuple[str, ...] = ()) -> str | None:
    """The offending record as text for quarantine: user ids masked, valid UTF-8, at most 4,000 characters."""
    if isinstance(obj, bytes):
        text = obj[:8000].decode("utf-8", "replace")
    elif isinstance(obj, str):
        text = obj[:8000]
    else:
        try:
            text = json.dumps(obj, ensure_ascii=False, default=str)[:8000]
        except (RecursionError, ValueError):
            return None
    return quarantine_text(text, extra_keys)[:4000]


def _parse(
    reader, obj: Any, line: int, extra_keys: tuple[str, ...] = (), batch: openai_batch.BatchIndex | None = None
) -> Item:
    try:
        if reader is openai_batch:
            if batch is not None and openai_batch.is_request(obj) and obj.get("custom_id") in batch.answered:
                return Item(line, joined=True)
            return Item(line, drafts=openai_batch.parse(obj, batch))
        return Item(line, drafts=reader.parse(obj))
    except RecordError as exc:
        return Item(line, error=str(exc), raw=_raw_text(obj, extra_keys))
    except RecursionError:
        return Item(line, error="JSON nested too deeply to read", raw=_raw_text(obj, extra_keys))


_kept = threading.local()  # per thread: one gzip input left open at the end of the chunk just read


@contextlib.contextmanager
def _stream_at(f: InputFile, start: int, max_ratio: int) -> Iterator[BinaryIO]:
    """The input's content stream, at uncompressed offset ``start``.

    Seeking in gzip means inflating from the file's start, so a gzip input is
    kept open after a chunk: the next chunk of the same file (keyed by its
    sha256) seeks on from there, and a file of N chunks is inflated once, not
    N times. Plain files are simply opened and seeked.
    """
    if not f.gzip:
        with open_input(f.local, max_ratio) as fh:
            fh.seek(start)
            yield fh
        return
    key = (f.path, f.sha256, max_ratio)
    kept = getattr(_kept, "stream", None)
    if kept is None or kept[0] != key:
        if kept is not None:
            kept[1].close()
        _kept.stream = kept = (key, open_input(f.local, max_ratio))
    try:
        kept[1].seek(start)
        yield kept[1]
    except BaseException:
        _kept.stream = None
        kept[1].close()
        raise


def _starts_array(f: InputFile, max_ratio: int) -> bool:
    with open_input(f.local, max_ratio) as fh:
        return starts_array(fh)


def read_chunk(
    f: InputFile,
    chunk: Chunk,
    max_record_bytes: int,
    max_ratio: int = DEFAULT_MAX_RATIO,
    batch: openai_batch.BatchIndex | None = None,
) -> Iterator[Item]:
    path = f.local
    if f.container in ("jsonl", "json"):
        reader = JSON_READERS[f.format]
        spans = chunk.spans if f.container == "json" else None
        array = f.container == "json" and chunk.index > 0 and spans is None and _starts_array(f, max_ratio)
        from_top = f.container == "json" and chunk.index == 0 and spans is None
        with _stream_at(f, 0 if from_top else chunk.start, max_ratio) as fh:
            if spans is not None:  # planning found every element's span: read them, no second scan
                records = iter_spans(fh, chunk.start, *spans, number=chunk.first_line)
            elif f.container == "jsonl":
                records = iter_lines(
                    fh, max_record_bytes, offset=chunk.start, number=chunk.first_line, count=chunk.count
                )
            elif chunk.index == 0:  # from the file start: past a byte-order mark and the '['
                records = iter_array(fh, max_record_bytes, count=chunk.count)
            else:  # array False: top-level values one after another
                records = iter_array(
                    fh, max_record_bytes, offset=chunk.start, number=chunk.first_line, count=chunk.count, array=array
                )
            for record in records:
                yield _json_item(reader, record, batch)
    elif f.container == inspect_log.NAME:
        for number, drafts, error in inspect_log.iter_samples(path):
            yield Item(number, drafts=drafts, error=error)
    elif f.container == "text":
        try:
            with open_input(path, max_ratio) as fh:
                data = fh.read(max_record_bytes + 1)
        except StreamCut as exc:
            yield Item(1, error=f"file not read: {exc}")
            return
        if len(data) > max_record_bytes:
            yield Item(1, error=f"file is over the {max_record_bytes:,}-byte limit (ingest.max_record_bytes)")
            return
        try:
            text = data.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            yield Item(1, error=f"not valid UTF-8 (byte {exc.start})", raw=_raw_text(data))
            return
        try:
            yield Item(1, drafts=parse_transcript(text))
        except RecordError as exc:
            yield Item(1, error=str(exc), raw=_raw_text(text))
    else:
        table = _read_table_cached(str(path), f.sha256, max_ratio).slice(chunk.start, chunk.count)
        id_column = (f.columns.get("user_id"),) if f.columns.get("user_id") else ()
        for i, row in enumerate(table.to_pylist()):
            try:
                row = tabular.decode_row(row)
                size = len(
                    json.dumps(tabular._jsonable(row), ensure_ascii=False, default=str).encode("utf-8", "replace")
                )
                if size > max_record_bytes:
                    raise RecordError(too_big(size, max_record_bytes))
                yield Item(chunk.first_line + i, drafts=tabular.parse_row(row, f.columns))
            except RecordError as exc:
                yield Item(chunk.first_line + i, error=str(exc), raw=_raw_text(tabular._jsonable(row), id_column))


def _json_item(reader, record: RawRecord, batch: openai_batch.BatchIndex | None = None) -> Item:
    """One line or array element: blank, quarantined with a reason, or parsed into drafts."""
    if record.data is None:
        return Item(record.number, error=record.error or "unreadable record")
    data = record.data.removeprefix(b"\xef\xbb\xbf") if record.offset == 0 else record.data  # a byte-order mark
    if not data.strip():
        return Item(record.number, blank=True)  # blank lines are not records
    try:
        obj = decode_json(data)
    except RecordError as exc:
        return Item(record.number, error=str(exc), raw=_raw_text(data))
    return _parse(reader, obj, record.number, batch=batch)
