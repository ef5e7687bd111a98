"""Bounded reading of untrusted input files: open (gzip by magic, ratio-capped), split into lines, decode JSON.

Input files come from anywhere, so nothing here trusts a size: a line or a
decompressed stream can be gigabytes. Every reader keeps at most
``max_bytes`` of one record in memory; a longer record is streamed through
(its size counted, its bytes dropped) and handed on as a :class:`RawRecord`
with an ``error``, so the caller quarantines that one record and goes on.
A gzip stream that expands past ``max_ratio`` times the file's size is cut
(:class:`DecompressionLimit`), which bounds the time a gzip bomb costs; gzip
data cut short (an interrupted download) ends the stream where it breaks
(:class:`DamagedGzip`), keeping every record before.
The JSON-array counterpart of :func:`iter_lines` is :func:`.jsonarray.iter_array`.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from valuescope.ingest.draft import RecordError

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_RATIO = 200  # uncompressed / compressed; real chat logs compress 3-30x
RATIO_FLOOR = 64 << 20  # a small gzip may always expand to this many bytes
BLOCK = 1 << 20  # read size when streaming through an oversized record


class StreamCut(OSError):
    """The uncompressed stream ends early at ``offset``: the rest of the file cannot be read."""

    def __init__(self, offset: int, why: str) -> None:
        super().__init__(why)
        self.offset = offset


class DecompressionLimit(StreamCut):
    """A gzip stream expanded past its cap (a gzip bomb, or ingest.max_gzip_ratio set too low)."""

    def __init__(self, offset: int, ratio: int) -> None:
        super().__init__(
            offset,
            f"gzip stream expands more than {ratio}x its file size (cut at uncompressed "
            f"byte {offset:,}; raise ingest.max_gzip_ratio if the file is genuine)",
        )


class DamagedGzip(StreamCut):
    """The gzip data is cut short or corrupt (an interrupted download): what came before it is kept."""

    def __init__(self, offset: int, exc: BaseException) -> None:
        super().__init__(
            offset,
            f"gzip data damaged or cut short after uncompressed byte {offset:,} "
            f"({str(exc).strip() or type(exc).__name__})",
        )


_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class RawRecord(NamedTuple):
    """One record's bytes as read, before parsing; ``error`` set = the record must be quarantined."""

    number: int  # 1-based line (or array element) number
    offset: int  # byte offset where it starts, in the uncompressed stream
    size: int  # its full length in bytes, also when not kept
    data: bytes | None  # the bytes (no line end); None when over the limit or cut
    error: str | None = None  # why it has no usable bytes: too big, truncated file, gzip bomb


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


class _Tee(io.RawIOBase):
    """Raw file that feeds every byte read through it to ``sink`` (e.g. a hashlib object)."""

    def __init__(self, raw: BinaryIO, sink: Any) -> None:
        self.raw, self.sink = raw, sink

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.raw.readinto(b)
        if n:
            self.sink.update(memoryview(b)[:n])
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class _Capped(io.RawIOBase):
    """A decompressed stream that raises DecompressionLimit once it passes ``limit`` bytes."""

    def __init__(self, inner: gzip.GzipFile, limit: int, ratio: int) -> None:
        self.inner, self.limit, self.ratio, self.pos = inner, limit, ratio, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.pos >= self.limit:
            raise DecompressionLimit(self.pos, self.ratio)
        try:  # read1: one decompression step, so a damaged stream loses nothing decoded before the damage
            data = self.inner.read1(min(len(b), self.limit - self.pos + 1))
        except _GZIP_ERRORS as exc:
            raise DamagedGzip(self.pos, exc) from None
        n = len(data)
        b[:n] = data
        self.pos += n
        if self.pos > self.limit:
            raise DecompressionLimit(self.limit, self.ratio)
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET and offset > self.limit:
            raise DecompressionLimit(self.limit, self.ratio)
        try:
            self.pos = self.inner.seek(offset, whence)
        except _GZIP_ERRORS as exc:
            raise DamagedGzip(self.pos, exc) from None
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_input(path: Path, max_ratio: int = DEFAULT_MAX_RATIO, tee: Any = None) -> BinaryIO:
    """The file's content as a buffered binary stream, gunzipped if it is gzip (by magic bytes, not name).

    A gzip stream raises :class:`DecompressionLimit` past
    ``max(max_ratio * file size, 64 MiB)`` uncompressed bytes, and
    :class:`DamagedGzip` where its data is cut short or corrupt (both are
    :class:`StreamCut`, an OSError with the ``offset`` where the stream ends). ``tee``: an
    object with ``update(bytes)`` fed every byte of the file as stored (a
    hashlib object, to hash the file in the same pass); call :func:`drain`
    before reading its digest.
    """
    raw: Any = io.FileIO(path, "rb")
    if tee is not None:
        raw = _Tee(raw, tee)
    fh = io.BufferedReader(raw, BLOCK)
    if fh.peek(2)[:2] != GZIP_MAGIC:
        return fh
    limit = max(max_ratio * path.stat().st_size, RATIO_FLOOR)
    return io.BufferedReader(_Capped(gzip.GzipFile(fileobj=fh, mode="rb"), limit, max_ratio), 1 << 16)


def read_head(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes from the start of ``stream``; a stream cut before that gives what it had."""
    parts, got = [], 0
    try:
        while got < size:
            part = stream.read1(size - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
    except StreamCut:
        pass
    return b"".join(parts)


def drain(stream: BinaryIO) -> None:
    """Read the file underneath ``stream`` to its end (so a tee'd hash covers every stored byte)."""
    inner = stream.raw if isinstance(stream, io.BufferedReader) else stream
    if isinstance(inner, _Capped):  # the gzip layer: drain the compressed file below it
        inner = inner.inner.fileobj  # type: ignore[attr-defined]
    while inner.read(BLOCK):
        pass


def _skip_rest_of_line(stream: BinaryIO) -> tuple[int, bool]:
    """Stream through the rest of an over-long line; (bytes skipped incl. the line end, ended by a newline)."""
    skipped = 0
    while True:
        part = stream.readline(BLOCK)
        skipped += len(part)
        if not part or part.endswith(b"\n"):
            return skipped, bool(part)


def iter_lines(
    stream: BinaryIO, max_bytes: int, *, offset: int = 0, number: int = 1, count: int | None = None
) -> Iterator[RawRecord]:
    """The lines of ``stream`` (read from its current position) as RawRecords, at most ``max_bytes`` each kept.

    ``offset`` / ``number``: the stream position and line number of the first
    line (for a stream already seeked). ``count``: stop after that many lines.
    Line ends (``\\n``, ``\\r\\n``) are stripped; blank lines are yielded too
    (``data == b""``). A longer line is skipped, yielded with ``data=None``
    and a "record is N bytes, over the limit" error. A cut gzip stream
    (:class:`DecompressionLimit`) ends the iteration with one last record
    whose error says so: the rest of the file is that record.
    """
    n = 0
    while count is None or n < count:
        start = offset
        try:
            data = stream.readline(max_bytes + 2)  # + room for "\r\n"
            if not data:
                return
            offset += len(data)
            if not data.endswith(b"\n") and len(data) == max_bytes + 2:
                skipped, _ = _skip_rest_of_line(stream)
                offset += skipped
                yield RawRecord(number + n, start, offset - start, None, too_big(offset - start, max_bytes))
                n += 1
                continue
        except StreamCut as exc:
            yield RawRecord(number + n, start, max(0, exc.offset - start), None, f"rest of file not read: {exc}")
            return
        line = data.rstrip(b"\r\n") if data.endswith(b"\n") else data
        if len(line) > max_bytes:
            yield RawRecord(number + n, start, len(data), None, too_big(len(line), max_bytes))
        else:
            yield RawRecord(number + n, start, len(data), line)
        n += 1


def too_big(size: int, limit: int) -> str:
    return f"record is {size:,} bytes, over the {limit:,}-byte limit (ingest.max_record_bytes)"


def decode_json(data: bytes) -> Any:
    """One JSON value from bytes, or a RecordError naming what is wrong (bad UTF-8, bad JSON, too deep)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"not valid UTF-8 (byte {exc.start} of the record)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"bad JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise RecordError("JSON nested too deeply to parse") from None
