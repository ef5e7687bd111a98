"""The bounded reading layer: lines, JSON-array elements and gzip streams, each with a hard size cap."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random

import pytest

from valuescope.ingest import jsonarray
from valuescope.ingest.draft import RecordError
from valuescope.ingest.jsonarray import iter_array, starts_array
from valuescope.ingest.streams import DecompressionLimit, decode_json, drain, iter_lines, open_input


def _values(rng: random.Random, n: int) -> list:
    """JSON values that stress a scanner: quotes, backslash runs and brackets inside strings, nesting, scalars."""
    pieces = ['"', "\\", "\\\\", '\\"', "[", "]", "{", "}", ",", "é", "\n", "x" * 50]
    out: list = []
    for i in range(n):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))
        out.append(
            rng.choice(
                [
                    {"id": i, "s": text, "nested": [[{"k": text}], {}], "n": -1.5e3},
                    [text, None, True, [[]]],
                    text,
                    i,
                    None,
                    False,
                ]
            )
        )
    return out


@pytest.mark.parametrize("block", [7, 4096, 1 << 20])
def test_array_elements_match_json_and_survive_every_cut(monkeypatch, block):
    monkeypatch.setattr(jsonarray, "BLOCK", block)  # tiny windows: every refill path runs
    values = _values(random.Random(block), 60)
    data = json.dumps(values, ensure_ascii=False, indent=1 if block == 7 else None).encode()
    records = list(iter_array(io.BytesIO(data), 10_000))
    assert [json.loads(r.data) for r in records] == values
    assert all(data[r.offset : r.offset + r.size] == r.data for r in records)
    resumed = io.BytesIO(data)
    resumed.seek(records[17].offset)  # a chunk resumes at an element's offset
    again = list(iter_array(resumed, 10_000, offset=records[17].offset, number=18, count=5))
    assert [r.data for r in again] == [r.data for r in records[17:22]] and again[0].number == 18
    for cut in range(1, len(data) - 1, max(1, len(data) // 300)):
        got = list(iter_array(io.BytesIO(data[:cut]), 10_000))
        complete = [r for r in records if r.offset + r.size <= cut - 1]  # -1: the cut may sit right after one
        assert [r.data for r in got[: len(complete)]] == [r.data for r in complete]
        assert got[-1].error and "truncated at byte" in got[-1].error
        assert sum(1 for r in got if r.error) == 1


def test_array_oversized_element_streamed_through_and_non_array_input():
    big = {"id": "big", "text": "y" * 50_000}
    data = json.dumps([{"id": 1}, big, {"id": 3}]).encode()
    records = list(iter_array(io.BytesIO(data), 1000))
    assert [r.error is None for r in records] == [True, False, True]
    assert (
        records[1].data is None
        and records[1].size == len(json.dumps(big))
        and "over the 1,000-byte limit" in records[1].error
    )
    assert json.loads(records[2].data) == {"id": 3}
    pretty = b"\xef\xbb\xbf" + b"\n".join(json.dumps({"n": i, "b": [i]}, indent=2).encode() for i in range(5))
    records = list(iter_array(io.BytesIO(pretty), 1000))
    assert [json.loads(r.data) for r in records] == [{"n": i, "b": [i]} for i in range(5)]
    stream = io.BytesIO(pretty)
    assert not starts_array(stream)
    stream.seek(records[2].offset)  # resuming a sequence of values, not an array
    again = list(iter_array(stream, 1000, offset=records[2].offset, number=3, array=False))
    assert [r.data for r in again] == [r.data for r in records[2:]]
    bad = list(iter_array(io.BytesIO(b'[{"a": 1} {"b": 2}]'), 1000))
    assert bad[0].data == b'{"a": 1}' and bad[1].error.startswith("expected ',' or ']' at byte 10")


def test_lines_capped_and_long_line_skipped():
    data = b'{"a": 1}\r\n' + b"z" * 10_000 + b"\n\n" + b'{"b": 2}'
    records = list(iter_lines(io.BufferedReader(io.BytesIO(data), 256), 100))
    assert [r.data for r in records] == [b'{"a": 1}', None, b"", b'{"b": 2}']
    assert records[1].size == 10_001 and "record is 10,001 bytes" in records[1].error
    assert [r.offset for r in records] == [0, 10, 10_011, 10_012]


def test_gzip_by_magic_ratio_cap_and_hash(tmp_path):
    path = tmp_path / "bomb.csv"  # the name says nothing: gzip is found by its magic bytes
    path.write_bytes(gzip.compress(b'{"a": 1}\n' + b" " * (80 << 20), 9))
    sha = hashlib.sha256()
    with open_input(path, max_ratio=10, tee=sha) as fh:
        records = list(iter_lines(fh, 1000))
        drain(fh)
    assert records[0].data == b'{"a": 1}'
    assert records[1].data is None and "expands more than 10x" in records[1].error
    assert sha.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
    with open_input(path, max_ratio=10) as fh, pytest.raises(DecompressionLimit):
        fh.read()


def test_decode_json_reasons():
    assert decode_json(b'{"a": "\\u00e9"}') == {"a": "é"}
    for data, reason in [
        (b'{"a": \xff}', "not valid UTF-8"),
        (b'{"a": }', "bad JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ]:
        with pytest.raises(RecordError, match=reason):
            decode_json(data)


def test_gzip_input_inflated_once_across_its_chunks(tmp_path, monkeypatch):
    """Chunks of a gzip file seek on in one kept stream: seeking anew would inflate from the start each time."""
    from valuescope.ingest import source

    rows = [
        json.dumps(
            {
                "id": str(i),
                "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
            }
        )
        for i in range(50)
    ]
    for name, data in (("chat.jsonl.gz", "\n".join(rows)), ("chat.json.gz", "[" + ",".join(rows) + "]")):
        path = tmp_path / name
        path.write_bytes(gzip.compress(data.encode()))
        planned = source.plan_file(path, 0, None, 7, {})
        opened = []
        real_open = source.open_input
        monkeypatch.setattr(source, "open_input", lambda *a, **k: opened.append(a) or real_open(*a, **k))  # noqa: B023 - used within this iteration
        ids = [d.id for c in planned.chunks for item in source.read_chunk(planned, c, 10_000) for d in item.drafts]
        assert ids == [str(i) for i in range(50)] and len(planned.chunks) == 8
        assert len(opened) == 1, (name, len(opened))  # arrays too: chunks read their planned spans
        monkeypatch.undo()


def _hostile_array() -> bytes:
    """Elements the C parser rejects beside ones it takes: the scanner must take over without a seam."""
    parts = [
        json.dumps(
            {"id": 1, "s": 'quote " and \\ back\\\\slash ] } [ {', "é": ["ü", {"x": None}]}, ensure_ascii=False
        ).encode(),
        b'{"bad": tru}',  # invalid JSON, balanced brackets
        b'{"ctl": "a\x01b"}',  # a raw control character in a string
        b'{"bytes": "\xff\xfe\xc3"}',  # invalid UTF-8 inside a string
        b"[" * 3000 + b"]" * 3000,  # deeper than the C parser recurses
        b"123",
        b'"a \\" string"',
        json.dumps({"big": "z" * 3000}).encode(),  # over the cap used below
        b"[1 2]",
        json.dumps([{"id": i, "t": "ok\u2028" * i} for i in range(5)], ensure_ascii=False).encode(),
        b'{"after": "\xe2\x82"}',  # a multi-byte character cut inside a string
        json.dumps({"last": [1, 2, {"k": "v"}]}).encode(),
    ]
    return b"[" + b",\n ".join(parts) + b"]"


@pytest.mark.parametrize("block", [64, 4096, 1 << 20])
def test_parser_fast_path_splits_exactly_like_the_scanner(monkeypatch, block):
    """Every record (offset, size, bytes, error) and every cut tail is the same with the C-parser fast path as without."""
    monkeypatch.setattr(jsonarray, "BLOCK", block)
    data = _hostile_array()
    scanned = []
    real = jsonarray._element

    def split(payload: bytes, fast: bool) -> list:
        monkeypatch.setattr(jsonarray, "_element", lambda *a: scanned.append(a[1]) or real(*a))
        if not fast:
            monkeypatch.setattr(jsonarray, "_parsed_element", jsonarray._element)
        try:
            return list(iter_array(io.BytesIO(payload), 2000))
        finally:
            monkeypatch.undo()
            monkeypatch.setattr(jsonarray, "BLOCK", block)

    assert split(data, True) == split(data, False)
    scanned.clear()
    assert len(split(data, True)) == 12 and 5 <= len(scanned) <= 7  # the C parser found the valid containers
    for cut in range(1, len(data), max(1, len(data) // 300)):
        assert split(data[:cut], True) == split(data[:cut], False), cut


def test_chunks_read_planned_spans_and_scan_only_a_chunk_with_an_error(tmp_path):
    """Planning keeps each element's span; a chunk with an error record is scanned again, with the same result."""
    import dataclasses

    from valuescope.ingest import source

    rows = [
        {"id": str(i), "messages": [{"role": "user", "content": f"q{i} é"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(23)
    ]
    rows[8]["messages"][0]["content"] = "x" * 5000  # over the cap: an error record in chunk 1
    path = tmp_path / "chat.json"
    path.write_bytes(("\ufeff[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]").encode())
    planned = source.plan_file(path, 0, None, 5, {}, max_record_bytes=2000)
    assert [c.spans is not None for c in planned.chunks] == [True, False, True, True, True]
    assert list(planned.chunks[0].spans[1]) == [len(json.dumps(r, ensure_ascii=False).encode()) for r in rows[:5]]

    def items(chunks):
        return [
            (i.line, i.error, [d.id for d in i.drafts or []])
            for c in chunks
            for i in source.read_chunk(planned, c, 2000)
        ]

    got = items(planned.chunks)
    assert got == items([dataclasses.replace(c, spans=None) for c in planned.chunks])
    assert [ids for _, _, ids in got] == [[str(i)] if i != 8 else [] for i in range(23)] and "over the 2,000" in got[8][
        1
    ]
    path.write_bytes(path.read_bytes()[: planned.chunks[4].spans[0][1] + 10])  # the file is cut after planning
    tail = items(planned.chunks[4:])
    assert [line for line, _, _ in tail] == [21, 22] and "changed since it was planned" in tail[1][1]
