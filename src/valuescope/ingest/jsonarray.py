"""Incremental, bounded splitting of a JSON array file into its elements' bytes.

``json.load`` on a whole file needs the whole file (and a multiple of it) in
memory, and loses every record when the file is cut short. This splitter
finds the element boundaries of the top-level array: an object or array
element by the C JSON parser over the current window (fast), anything else
(scalars, and elements the parser rejects: invalid, too deep, too big) by a
bounded scanner that tracks only strings and brackets with C regexes, to the
same boundary. It keeps at most ``max_bytes`` of one element (plus one read
block) and reports problems per element:

* an element over ``max_bytes`` is streamed through and yielded with an error;
* a file that ends inside the array (a truncated download) yields the
  complete elements, then one record for the cut tail with its byte offset;
* a stray character between elements ends the scan with one error record.

The elements' bytes are decoded by the caller (``streams.decode_json``), so one
bad element never costs another; :func:`iter_spans` reads elements again
straight from the spans an earlier pass found. A file that is not an array
is read as a sequence of top-level JSON values (one object, or
pretty-printed objects one after another). Nesting depth costs nothing
here: the scanner does not recurse (the parser's own limit hands a deep
element to it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from valuescope.ingest.streams import BLOCK, RawRecord, StreamCut, too_big

_SCAN_ONE = json.JSONDecoder().scan_once  # the C parser: one value from a str index to its end

_SPACE = re.compile(rb"[ \t\r\n]*")
_STRUCT = re.compile(rb'[\[\]{}"]')  # inside a container: what changes depth or starts a string
_SCALAR = re.compile(rb"[^,\]}\s]*+")  # a number or literal at the top level


class _Window:
    """A sliding byte window over the stream; ``base`` is the stream offset of ``buf[0]``."""

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self.stream, self.buf, self.base = stream, b"", offset
        self.eof: str | None = None  # why no more bytes come: "" at the end, or why the stream was cut
        self._text_of: bytes | None = None  # the buf that ``_text`` decodes
        self._text = ""
        self.ascii = True  # one char per byte of buf (ASCII, or invalid bytes kept as surrogates): index == offset
        self.sync = (0, 0)  # a (byte, char) index pair known to match, to count on from

    def char_index(self, pos: int) -> tuple[str, int]:
        """``buf`` as str (invalid bytes kept by surrogateescape) and the index of byte ``pos`` in it.

        Decoded once per window; without non-ASCII bytes the indices are the
        byte offsets, else they are counted on from the last synced position.
        """
        if self._text_of is not self.buf:
            self._text_of, self._text = self.buf, self.buf.decode("utf-8", "surrogateescape")
            self.ascii, self.sync = len(self._text) == len(self.buf), (0, 0)
        if self.ascii:
            return self._text, pos
        b, c = self.sync
        if pos < b:
            b, c = 0, 0
        c += len(self.buf[b:pos].decode("utf-8", "surrogateescape"))
        self.sync = (pos, c)
        return self._text, c

    def more(self, keep_from: int) -> int:
        """Drop ``buf[:keep_from]``, append the next block; returns how many bytes were dropped (-1 at the end)."""
        if self.eof is not None:
            return -1
        parts, got = [], 0
        read = getattr(self.stream, "read1", self.stream.read)  # read1: a cut stream loses nothing read before
        try:
            while got < BLOCK:
                part = read(BLOCK - got)
                if not part:
                    self.eof = ""
                    break
                parts.append(part)
                got += len(part)
        except StreamCut as exc:
            self.eof = f"rest of file not read: {exc}"
        if not parts:
            self.eof = self.eof or ""
            return -1
        self.buf = self.buf[keep_from:] + b"".join(parts)
        self.base += keep_from
        return keep_from


def starts_array(stream: BinaryIO) -> bool:
    """Whether the stream (at its start) holds a JSON array, rather than a sequence of top-level values."""
    win = _Window(stream, 0)
    pos = _skip_space(win, 0, bom=True)
    return win.buf[pos : pos + 1] == b"["


def iter_array(
    stream: BinaryIO,
    max_bytes: int,
    *,
    offset: int | None = None,
    number: int = 1,
    count: int | None = None,
    array: bool = True,
) -> Iterator[RawRecord]:
    """The elements of the JSON array in ``stream`` as RawRecords (``offset`` = the element's first byte).

    From the start of the file by default. To resume (a chunk), seek the
    stream to an element's offset as yielded earlier and pass it as
    ``offset`` with that element's ``number``, and ``array`` =
    :func:`starts_array` of the file (False: a sequence of top-level values);
    ``count`` stops after that many records. Records with an ``error`` count
    like any other.
    """
    win = _Window(stream, offset or 0)
    pos = 0
    in_array = array
    if offset is None:
        pos = _skip_space(win, 0, bom=True)
        if pos < len(win.buf) and win.buf[pos : pos + 1] == b"[":
            pos += 1
        else:
            in_array = False  # not an array: a sequence of top-level values
    yielded = 0
    expect_value = True  # after '[' or ',' (or always, between top-level values)
    while count is None or yielded < count:
        pos = _skip_space(win, pos)
        if pos >= len(win.buf):  # the end of the stream
            if in_array:
                yield _cut(number + yielded, win, win.base + pos, "before the array's closing ']'")
            return
        c = win.buf[pos]
        if in_array and c == 0x5D:  # ']'
            rest = _skip_space(win, pos + 1)
            if rest < len(win.buf):
                yield RawRecord(
                    number + yielded,
                    win.base + rest,
                    len(win.buf) - rest,
                    None,
                    f"unexpected data after the array's closing ']' at byte {win.base + rest:,}",
                )
            return
        if in_array and not expect_value:
            if c != 0x2C:  # ','
                yield RawRecord(
                    number + yielded,
                    win.base + pos,
                    0,
                    None,
                    f"expected ',' or ']' at byte {win.base + pos:,}: the rest of the array is not read",
                )
                return
            pos, expect_value = pos + 1, True
            continue
        element = _parsed_element if c in (0x7B, 0x5B) else _element  # '{' '[': the C parser finds its end
        record, pos = element(win, pos, number + yielded, max_bytes, in_array)
        yield record
        yielded += 1
        if record.error and record.data is None and win.eof is not None and pos >= len(win.buf):
            return  # the record ran into the end of the file: it is the cut tail
        expect_value = not in_array


def iter_spans(
    stream: BinaryIO, at: int, offsets: Sequence[int], sizes: Sequence[int], number: int
) -> Iterator[RawRecord]:
    """Elements read straight from their byte spans, as an earlier :func:`iter_array` pass found them.

    ``stream`` is positioned at byte ``at`` (<= the first offset). Planning
    records every element's span, so reading a chunk seeks and reads each
    element instead of scanning again. A span that no longer holds an
    element in full (the file changed, or the stream is cut) ends the chunk
    with one error record for it.
    """
    pos = at
    for i, (offset, size) in enumerate(zip(offsets, sizes, strict=True)):
        try:
            if offset > pos:
                _skip(stream, offset - pos)
            data = stream.read(size)
        except StreamCut as exc:
            yield RawRecord(number + i, offset, size, None, f"rest of file not read: {exc}")
            return
        if len(data) != size:
            yield RawRecord(
                number + i,
                offset,
                size,
                None,
                f"file ends at byte {offset + len(data):,}, inside "
                f"a record planned at byte {offset:,}: the file changed since it was planned",
            )
            return
        yield RawRecord(number + i, offset, size, data)
        pos = offset + size


def _skip(stream: BinaryIO, n: int) -> None:
    while n > 0:
        part = stream.read(min(n, BLOCK))
        if not part:
            return
        n -= len(part)


def _skip_space(win: _Window, pos: int, bom: bool = False) -> int:
    while True:
        if bom and win.buf.startswith(b"\xef\xbb\xbf"):
            win.buf, win.base, bom = win.buf[3:], win.base + 3, False
        pos = _SPACE.match(win.buf, pos).end()
        if pos < len(win.buf):
            return pos
        dropped = win.more(pos)
        if dropped < 0:
            return pos
        pos -= dropped


def _cut(number: int, win: _Window, first_offset: int, where: str) -> RawRecord:
    """The record for a file that ends (or is cut) at the window's end; it starts at ``first_offset``."""
    end = win.base + len(win.buf)
    starts = f"; the record starts at byte {first_offset:,}" if first_offset < end else ""
    why = win.eof or f"file ends {where} (truncated at byte {end:,}{starts})"
    return RawRecord(number, first_offset, end - first_offset, None, why)


def _closing_quote(buf: bytes, pos: int) -> int:
    """Index of the quote that ends the string whose text starts at or before ``pos``, or -1 (not in ``buf``)."""
    q = buf.find(b'"', pos)
    while q > 0 and buf[q - 1] == 0x5C:  # preceded by backslashes: escaped if there is an odd number
        k = q - 2
        while k >= 0 and buf[k] == 0x5C:
            k -= 1
        if (q - 1 - k) % 2 == 0:
            break
        q = buf.find(b'"', q + 1)
    return q


def _parsed_element(win: _Window, start: int, number: int, max_bytes: int, in_array: bool) -> tuple[RawRecord, int]:
    """The object or array at ``win.buf[start]``, found by the C JSON parser; else by :func:`_element`.

    The fast path for a valid element: its end is where the parser stops,
    which is where the scanner would stop. One that runs past the window
    gets more bytes (up to ``max_bytes``) and is parsed again; anything else
    (invalid, too deep, too big) goes to the scanner, which handles every
    such case.
    """
    while True:
        text, first = win.char_index(start)
        try:
            _, last = _SCAN_ONE(text, first)
            break
        except (json.JSONDecodeError, StopIteration) as exc:  # ran out of window, or invalid
            if isinstance(exc, StopIteration):  # a value expected at index exc.value
                ran_out = exc.value >= len(text)
            else:
                ran_out = exc.pos >= len(text) or exc.msg.startswith("Unterminated string")
            if not ran_out or win.eof is not None or len(win.buf) - start > max_bytes:
                return _element(win, start, number, max_bytes, in_array)
            start -= max(0, win.more(start))
        except (ValueError, RecursionError):
            return _element(win, start, number, max_bytes, in_array)
    if win.ascii:
        end, data = start + last - first, None
    else:  # count the bytes back; the round trip must give the window's own bytes, else scan
        data = text[first:last].encode("utf-8", "surrogateescape")
        end = start + len(data)
        if win.buf[start:end] != data:
            return _element(win, start, number, max_bytes, in_array)
        win.sync = (end, last)
    size = end - start
    if size > max_bytes:
        return RawRecord(number, win.base + start, size, None, too_big(size, max_bytes)), end
    return RawRecord(number, win.base + start, size, data or win.buf[start:end]), end


def _element(win: _Window, start: int, number: int, max_bytes: int, in_array: bool) -> tuple[RawRecord, int]:
    """Scan one value starting at ``win.buf[start]``; returns its record and the position after it."""
    first_offset = win.base + start
    keep = True  # False once the value is over max_bytes: its bytes are dropped as they are scanned
    depth = 0
    pos = start
    in_string = False
    while True:
        buf = win.buf
        end = len(buf)
        done = starved = False
        if in_string:
            q = _closing_quote(buf, pos)
            if q >= 0:
                pos, in_string = q + 1, False
                done = depth == 0
            else:  # the string goes on past this window: resume at a trailing odd backslash, if any
                k = end - 1
                while k >= pos and buf[k] == 0x5C:
                    k -= 1
                pos, starved = end - ((end - 1 - k) % 2), True
        elif depth == 0:  # at the start of a value
            c = buf[pos]
            if c in (0x7B, 0x5B):  # '{' '['
                depth, pos = 1, pos + 1
            elif c == 0x22:
                in_string, pos = True, pos + 1
            else:
                pos = _SCALAR.match(buf, pos).end()
                if win.base + pos == first_offset:
                    pos += 1  # a stray delimiter: one bad record, so the caller moves on
                done = pos < end
        else:  # inside a container: brackets change depth, strings are jumped over with bytes.find
            search = _STRUCT.search
            while True:
                m = search(buf, pos)
                if m is None:
                    pos = end
                    break
                pos = m.end()
                ch = buf[pos - 1]
                if ch == 0x22:
                    q = _closing_quote(buf, pos)
                    if q < 0:
                        in_string = True
                        break
                    pos = q + 1
                elif ch == 0x7B or ch == 0x5B:
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        done = True
                        break
        if done:
            size = win.base + pos - first_offset
            if not keep or size > max_bytes:
                return RawRecord(number, first_offset, size, None, too_big(size, max_bytes)), pos
            return RawRecord(number, first_offset, size, bytes(buf[pos - size : pos])), pos
        if pos < end and not starved:
            continue  # more to scan in this window
        # Need more bytes: keep the value's bytes so far unless it is already too big.
        if keep and win.base + pos - first_offset > max_bytes:
            keep = False
        dropped = win.more((first_offset - win.base) if keep else pos)
        if dropped < 0:  # the file ends inside this value
            if depth == 0 and not in_string and not in_array:  # a top-level scalar ending the file
                size = win.base + pos - first_offset
                data = bytes(win.buf[pos - size : pos]) if keep and size <= max_bytes else None
                return RawRecord(
                    number, first_offset, size, data, None if data is not None else too_big(size, max_bytes)
                ), pos
            return _cut(number, win, first_offset, "inside this record"), len(win.buf)
        pos -= dropped
