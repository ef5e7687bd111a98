"""Hostile inputs: one bad record never stops a corpus, and no file drives memory past a bound.

Each case is built here from real hh-rlhf records plus one hostile record, run
through the command line in a child process, and checked for: the exit code,
a one-line error (no traceback) where the run cannot go on, and
``read = ok + quarantined`` with the bad record's reason where it can. The
gzip bombs are generated on the fly (a 1 MiB block compressed once and
repeated: ~2.6 MB on disk, 2.5 GiB inflated); the child's peak RSS is read
from ``getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper process.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from valuescope.api import load_run
from valuescope.ingest.draft import InputError

SRC = Path(__file__).resolve().parents[2] / "src"
DEEP = 100_000
GIB = 1 << 30

# Runs the CLI as its only child, then prints the child's exit code and peak RSS (KiB on Linux).
_WRAPPER = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def _cli(*args: str | Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]), "COLUMNS": "200"}
    env.pop("VALUESCOPE_DEBUG", None)
    cmd = [sys.executable, "-c", "from valuescope.cli import main; main()", *map(str, args)]
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, env=env, timeout=600)
    return json.loads(done.stdout)


def _one_line_error(result: dict, pattern: str) -> None:
    assert result["rc"] == 2, result
    text = (result["out"] + result["err"]).strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    assert text.startswith("error:") and pattern in text, text


def _jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _dump(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def _check_accounting(run, expected: dict[str, tuple[int, int, list[str]]]) -> None:
    """expected: file name -> (ok, quarantined, a substring of each quarantine reason, in line order)."""
    inputs = {Path(i["path"]).name: i for i in run.manifest["inputs"]}
    q = run.quarantine
    for name, (ok, quarantined, reasons) in expected.items():
        info = inputs[name]
        assert info["read"] == info["ok"] + info["quarantined"], (name, info)
        assert (info["ok"], info["quarantined"]) == (ok, quarantined), (name, info)
        got = q[q["source"].str.endswith(name)].sort_values("line")["reason"].tolist()
        assert len(got) == len(reasons) and all(r in g for r, g in zip(reasons, got, strict=True)), (name, got)


def test_one_bad_record_never_stops_a_corpus(tmp_path, hh_records):
    good = [{"id": r["id"], "messages": r["messages"]} for r in hh_records[:6]]

    def g(i: int, file: str) -> bytes:  # a good record, with an id unique across the files (no duplicates)
        return _dump({**good[i], "id": f"{file}:{good[i]['id']}"})

    files = []
    # 1. nesting 100k levels deep: a JSONL line, inside `meta`, and an element of a JSON array
    files.append(_jsonl(tmp_path / "deep_line.jsonl", [g(0, "dl"), b"[" * DEEP + b"]" * DEEP, g(1, "dl")]))
    deep_meta = _dump({**good[2], "id": "deep-meta", "meta": {"x": 1}}).replace(b'{"x": 1}', _nested(DEEP))
    files.append(_jsonl(tmp_path / "deep_meta.jsonl", [g(0, "dm"), deep_meta, g(1, "dm")]))
    deep = b"[" + b",".join([g(0, "da"), b"[" * DEEP + b"]" * DEEP, g(1, "da")]) + b"]"
    (tmp_path / "deep_array.json").write_bytes(deep)
    files.append(tmp_path / "deep_array.json")
    # ... and meta nested 300 deep: parses, but no serializer downstream would store it
    files.append(
        _jsonl(tmp_path / "deep300.jsonl", [g(0, "d3"), deep_meta.replace(_nested(DEEP), _nested(300)), g(1, "d3")])
    )
    # 2. a lone surrogate in content (valid JSON, not encodable as UTF-8)
    lone = _dump({**good[3], "id": "lone"}).replace(b'"content": "', b'"content": "\\ud800', 1)
    files.append(_jsonl(tmp_path / "surrogate.jsonl", [g(0, "su"), lone, g(1, "su")]))
    # 3. out-of-range numeric timestamps (OpenAI's `created`: unix seconds)
    openai = [{"messages": r["messages"], "created": 1_700_000_000} for r in good[:2]]
    bad_times = [1e20, -1e20, 10**400, float("nan")]
    files.append(
        _jsonl(
            tmp_path / "times.jsonl",
            [_dump(openai[0]), *(_dump({**openai[1], "created": t}) for t in bad_times), _dump(openai[1])],
        )
    )
    # 4. a first record larger than any format-detection peek: 5,000 turns
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": hh_records[i % 40]["messages"][0]["content"]}
        for i in range(5000)
    ]
    big = {"id": "big", "messages": turns}
    assert len(_dump(big)) > 256 * 1024
    files.append(_jsonl(tmp_path / "big_first.jsonl", [_dump(big), g(0, "bf")]))
    who = {"user": "human", "assistant": "gpt", "system": "system"}
    sharegpt = [
        {"id": r["id"], "conversations": [{"from": who[m["role"]], "value": m["content"]} for m in r["messages"]]}
        for r in [{**big, "id": "big-array"}, *hh_records[:30]]
    ]
    (tmp_path / "big_first.json").write_bytes(_dump(sharegpt))
    files.append(tmp_path / "big_first.json")
    # 5. a truncated JSON array (a cut download): the complete records are kept, the tail quarantined
    cut_records = [{**r, "id": f"cut:{r['id']}"} for r in sharegpt[1:]]
    data = json.dumps(cut_records, indent=1).encode()
    cut = data.index(b'"conversations"', data.index(cut_records[20]["id"].encode())) + 40
    (tmp_path / "cut.json").write_bytes(data[:cut])
    files.append(tmp_path / "cut.json")
    # 6. a gzipped CSV named .csv
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(["id", "prompt", "response"])
    for r in hh_records[:5]:
        w.writerow([f"csv:{r['id']}", r["messages"][0]["content"], r["messages"][1]["content"]])
    (tmp_path / "gz.csv").write_bytes(gzip.compress(text.getvalue().encode()))
    files.append(tmp_path / "gz.csv")

    # 7. gzip cut short (an interrupted download), as JSONL and as a JSON array: what decompresses is kept
    many = [{"id": f"gzcut:{i}", "messages": hh_records[i % 40]["messages"]} for i in range(400)]
    packed = gzip.compress(b"".join(_dump(r) + b"\n" for r in many))
    (tmp_path / "cut.jsonl.gz").write_bytes(packed[: len(packed) * 2 // 3])
    packed = gzip.compress(_dump([{**r, "id": f"gzcut-array:{i}"} for i, r in enumerate(many)]))
    (tmp_path / "cut_array.json.gz").write_bytes(packed[: len(packed) * 2 // 3])
    files += [tmp_path / "cut.jsonl.gz", tmp_path / "cut_array.json.gz"]

    result = _cli("ingest", *files, "--out", tmp_path / "run", "--scrub", "off", "-q")
    assert result["rc"] == 0 and "Traceback" not in result["err"], result
    run = load_run(tmp_path / "run")
    _check_accounting(
        run,
        {
            "deep_line.jsonl": (2, 1, ["nested too deeply"]),
            "deep_meta.jsonl": (2, 1, ["nested too deeply"]),
            "deep_array.json": (2, 1, ["nested too deeply"]),
            "deep300.jsonl": (2, 1, ["nested too deeply"]),
            "surrogate.jsonl": (2, 1, ["not valid Unicode"]),
            "times.jsonl": (2, 4, ["timestamp"] * 4),
            "big_first.jsonl": (2, 0, []),
            "big_first.json": (31, 0, []),
            "cut.json": (20, 1, [f"truncated at byte {cut:,}"]),
            "gz.csv": (5, 0, []),
        },
    )
    inputs = {Path(i["path"]).name: i for i in run.manifest["inputs"]}
    conv = run["conversations"]
    for name, prefix in (("cut.jsonl.gz", "gzcut:"), ("cut_array.json.gz", "gzcut-array:")):
        info, kept = inputs[name], conv[conv["source_file"].str.endswith(name)]["id"].tolist()
        assert info["read"] == info["ok"] + 1 and 10 < info["ok"] < 400, info  # the cut tail is one record
        assert kept == [f"{prefix}{i}" for i in range(info["ok"])]
        reason = run.quarantine[run.quarantine["source"].str.endswith(name)]["reason"].iloc[0]
        assert "gzip data damaged or cut short" in reason, reason
    assert len(conv[conv["id"] == "big"]["messages"].iloc[0]) == 5000
    assert conv[conv["source_file"].str.endswith("cut.json")]["id"].tolist() == [r["id"] for r in cut_records[:20]]
    tail = run.quarantine[run.quarantine["source"].str.endswith("cut.json")].iloc[0]
    assert (
        tail["line"] == 21
        and f"starts at byte {data.rindex(b'{', 0, data.index(cut_records[20]['id'].encode())):,}" in tail["reason"]
    )


def test_a_run_that_cannot_go_on_says_why_in_one_line(tmp_path):
    deep = _jsonl(tmp_path / "only_deep.jsonl", [b"[" * DEEP + b"]" * DEEP])
    _one_line_error(_cli("ingest", deep, "--out", tmp_path / "a", "-q"), "cannot tell the format")
    cut = tmp_path / "cut_first.json"
    cut.write_bytes(b'[{"id": "x", "conversations": [{"from": "human", "va')
    _one_line_error(_cli("ingest", cut, "--out", tmp_path / "b", "-q"), "cannot tell the format")


def test_raw_user_ids_of_unparsable_records_are_masked(tmp_path, hh_records, ingest):
    rec = hh_records[0]
    lines = [
        _dump({"id": "ok", "messages": rec["messages"], "user_id": "raw-secret-1"}),
        b'{"id": "broken", "user_id": "raw-secret-2", "messages": [',  # bad JSON
        b'{"id": "bad-utf8", "user_id": "raw-secret-3", "messages": "\xff"}',
        _dump({"messages": rec["messages"][:1], "user": "raw-secret-4", "metadata": {"user_id": "raw-secret-5"}}),
        _dump({"messages": 7, "user": 123456789, "nested": {"deeper": {"user_id": "raw-secret-6"}}}),
    ]
    run = ingest(tmp_path, _jsonl(tmp_path / "ids.jsonl", lines), format="openai")
    assert (run.manifest["inputs"][0]["ok"], run.manifest["inputs"][0]["quarantined"]) == (1, 4)
    raw = run.quarantine.set_index("line")["raw"]
    assert '"id": "broken"' in raw[2] and "[USER_ID]" in raw[2]  # the raw text is still there, for debugging
    for f in run.path.rglob("*"):
        if f.is_file() and ".secret" not in f.parts:
            assert b"raw-secret" not in f.read_bytes() and b"123456789" not in f.read_bytes(), f
    csv_path = tmp_path / "ids.csv"
    csv_path.write_text('id,messages,customer\nc1,"[{oops",raw-secret-7\n')
    with pytest.raises(InputError, match="no conversation read"):  # its only row is broken: an error, the run kept
        ingest(tmp_path, csv_path, name="csv", column_map={"user_id": "customer"})
    run = load_run(tmp_path / "csv")
    assert run.manifest["inputs"][0]["quarantined"] == 1
    assert not any(
        b"raw-secret" in f.read_bytes() for f in run.path.rglob("*") if f.is_file() and ".secret" not in f.parts
    )


# -- bombs ------------------------------------------------------------------------------


def _gzip_bomb(path: Path, head: bytes, fill_mib: int, tail: bytes) -> Path:
    """head + fill_mib MiB of 'a' + tail, gzipped cheaply: the fill's 1 MiB deflate block is computed once.

    A full flush resets the compressor, so every repeat of the block compresses
    to the same bytes; the gzip header, CRC and size are written by hand.
    """
    fill = b"a" * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(fill) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(tail) + deflate.flush()
    crc = zlib.crc32(head)
    for _ in range(fill_mib):
        crc = zlib.crc32(fill, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + fill_mib * len(fill) + len(tail)
    with path.open("wb") as fh:
        fh.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first)
        for _ in range(fill_mib):
            fh.write(block)
        fh.write(last + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    return path


@pytest.mark.slow  # ~10 s each: the default cap still inflates ~530 MB, twice (planning, then reading)
@pytest.mark.parametrize("container", ["jsonl", "json"])
def test_gzip_bomb_of_one_huge_record_stays_under_1_gib(tmp_path, hh_records, container):
    good = [_dump({"id": r["id"], "messages": r["messages"]}) for r in hh_records[:2]]
    head = b'{"id": "bomb", "messages": [{"role": "user", "content": "'
    tail = b'"}, {"role": "assistant", "content": "ok"}]}'
    if container == "jsonl":
        first, last, name = good[0] + b"\n" + head, tail + b"\n" + good[1] + b"\n", "bomb.jsonl.gz"
    else:
        first, last, name = b"[" + good[0] + b"," + head, tail + b"," + good[1] + b"]", "bomb.json"
    bomb = _gzip_bomb(tmp_path / name, first, 2560, last)
    assert bomb.stat().st_size < 3_000_000
    with gzip.open(bomb) as fh:  # it really is one record of 2.5 GiB (its trailer says so; not inflated here)
        assert fh.read(len(first) + 10) == first + b"a" * 10
    assert struct.unpack("<I", bomb.read_bytes()[-4:])[0] == len(first) + (2560 << 20) + len(last)
    result = _cli("ingest", bomb, "--out", tmp_path / "run", "--scrub", "off", "-q")
    assert result["rc"] == 0 and "Traceback" not in result["err"], result
    assert result["maxrss_kib"] * 1024 < GIB, f"peak RSS {result['maxrss_kib'] / 1024:.0f} MiB"
    run = load_run(tmp_path / "run")
    info = run.manifest["inputs"][0]
    assert info["read"] == info["ok"] + info["quarantined"] and info["ok"] == 1 and info["quarantined"] == 1, info
    assert "expands more than" in run.quarantine["reason"].iloc[0]
    assert run["conversations"]["id"].tolist() == [hh_records[0]["id"]]
