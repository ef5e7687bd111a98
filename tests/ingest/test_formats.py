"""Every reader, auto-detected from content, over real hh-rlhf conversations re-encoded in its format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from valuescope import api
from valuescope.engine.rundir import RunDir
from valuescope.ingest.draft import InputError
from valuescope.ingest.formats import detect


def _pairs(rec: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in rec["messages"]]


def _write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_openai_string_and_parts_gzip(tmp_path, hh_records, ingest, messages_of):
    rows = []
    for i, rec in enumerate(hh_records):
        msgs = [
            {"role": m["role"], "content": [{"type": "text", "text": m["content"]}] if i % 2 else m["content"]}
            for m in rec["messages"]
        ]
        rows.append({"messages": msgs, "model": "gpt-x", "user": f"alice{i % 3}", "created": 1700000000})
    path = _write_jsonl(tmp_path / "chat.jsonl.gz", rows, gz=True)
    assert detect(path) == ("openai", "jsonl")
    run = ingest(tmp_path, path, batch_size=7)  # several chunks, each found by offset in the gunzipped stream
    assert messages_of(run) == [_pairs(r) for r in hh_records]
    conv = run["conversations"]
    assert conv["id"].tolist()[:2] == ["chat:1", "chat:2"]  # no id in the source: file stem + line
    assert conv["timestamp"].iloc[0].startswith("2023-11-14T")
    assert conv["user_id"].nunique() == 3 and not conv["user_id"].str.contains("alice").any()
    assert run.manifest["inputs"][0]["chunks"] == -(-len(hh_records) // 7)


def test_sharegpt_jsonl_and_json_array(tmp_path, hh_records, ingest, messages_of):
    who = {"user": "human", "assistant": "gpt"}
    rows = [
        {"id": r["id"], "conversations": [{"from": who[m["role"]], "value": m["content"]} for m in r["messages"]]}
        for r in hh_records
    ]
    jsonl = _write_jsonl(tmp_path / "sg.jsonl", rows)
    array = tmp_path / "sg.json"
    array.write_text(json.dumps(rows))
    pretty = tmp_path / "sg_pretty.json"  # objects one after another, pretty-printed: not JSONL, not an array
    pretty.write_text("\n".join(json.dumps(r, indent=2) for r in rows))
    assert detect(jsonl) == ("sharegpt", "jsonl") and detect(array) == detect(pretty) == ("sharegpt", "json")
    for path in (jsonl, array, pretty):
        run = ingest(
            tmp_path, path, name=f"run-{path.stem}", batch_size=7
        )  # chunks resume mid-file at a record's offset
        assert messages_of(run) == [_pairs(r) for r in hh_records]
        assert run["conversations"]["id"].tolist() == [r["id"] for r in hh_records]
        assert run.manifest["inputs"][0]["chunks"] == -(-len(hh_records) // 7)


def _transcript(rec: dict) -> str:
    return "".join(f"\n\n{'Human' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in rec["messages"])


def test_hh_rlhf_chosen_rejected_and_plain_text(tmp_path, hh_records, ingest, messages_of):
    rows = [{"chosen": _transcript(a), "rejected": _transcript(b)} for a, b in zip(hh_records[::2], hh_records[1::2])]
    path = _write_jsonl(tmp_path / "hh.jsonl", rows)
    assert detect(path) == ("transcript", "jsonl")
    run = ingest(tmp_path, path)
    expected = [_pairs(r) for pair in zip(hh_records[::2], hh_records[1::2]) for r in pair]
    assert messages_of(run) == [[(r, c.strip()) for r, c in conv] for conv in expected]
    ids = run["conversations"]["id"].tolist()
    assert ids[:2] == ["hh:1", "hh:1:rejected"]
    assert run.manifest["inputs"][0]["read"] == len(hh_records)

    text = tmp_path / "one.txt"
    text.write_text(_transcript(hh_records[0]).lstrip())
    assert detect(text) == ("transcript", "text")
    assert messages_of(ingest(tmp_path, text, name="txt")) == [[(r, c.strip()) for r, c in _pairs(hh_records[0])]]


def test_anthropic_messages_blocks_system_and_response(tmp_path, hh_records, ingest, messages_of):
    rows = []
    for r in hh_records:
        msgs = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in r["messages"][:-1]]
        last = r["messages"][-1]
        rows.append(
            {
                "model": "claude-x",
                "system": "Be helpful.",
                "metadata": {"user_id": "bob"},
                "messages": msgs,
                "response": {
                    "id": "msg_1",
                    "type": "message",
                    "role": last["role"],
                    "content": [{"type": "text", "text": last["content"]}],
                    "stop_reason": "end_turn",
                },
            }
        )
    path = _write_jsonl(tmp_path / "claude.jsonl", rows)
    assert detect(path) == ("anthropic", "jsonl")
    run = ingest(tmp_path, path)
    assert messages_of(run)[0] == [("system", "Be helpful."), *_pairs(hh_records[0])]
    assert run["conversations"]["meta"].str.contains("end_turn").all()
    assert all(b"bob" not in shard.read_bytes() for shard in RunDir(run.path).shards("conversations"))


def test_native_format_keeps_every_field(tmp_path, ingest, messages_of):
    sample = api.sample_path()  # hh-rlhf and JailbreakBench conversations, gzipped
    run = ingest(tmp_path, sample)
    with gzip.open(sample, "rt", encoding="utf-8") as fh:
        first = next(r for r in map(json.loads, fh) if r["source"] == "jbb")  # every field set, nested meta
    assert first["context"] and first["model"] and first["meta"]
    row = run["conversations"].set_index("id", drop=False).loc[first["id"]]
    assert (row["id"], row["source"], row["model"], row["context"]) == (
        first["id"],
        first["source"],
        first["model"],
        first["context"],
    )
    assert json.loads(row["meta"]) == first["meta"]


def test_csv_and_parquet_with_column_map(tmp_path, hh_records, ingest, messages_of):
    single = [r for r in hh_records if len(r["messages"]) == 2] or hh_records[:1]
    csv = tmp_path / "pairs.csv"
    import csv as csvmod

    with csv.open("w", newline="") as fh:
        w = csvmod.writer(fh)
        w.writerow(["conv", "q", "a", "who"])
        for r in hh_records:
            w.writerow([r["id"], r["messages"][0]["content"], r["messages"][1]["content"], "carol"])
    run = ingest(tmp_path, csv, column_map={"id": "conv", "prompt": "q", "response": "a", "user_id": "who"})
    assert messages_of(run) == [_pairs(r)[:2] for r in hh_records]
    assert run["conversations"]["user_id"].nunique() == 1 and single

    table = pa.table(
        {
            "id": [r["id"] for r in hh_records],
            "messages": [r["messages"] for r in hh_records],
            "lang": ["en"] * len(hh_records),
        }
    )
    pq.write_table(table, tmp_path / "logs.parquet")
    run = ingest(tmp_path, tmp_path / "logs.parquet", name="pq")
    assert messages_of(run) == [_pairs(r) for r in hh_records]
    assert json.loads(run["conversations"]["meta"].iloc[0]) == {"lang": "en"}


def test_format_override_and_undetectable(tmp_path, hh_records, ingest, messages_of):
    path = _write_jsonl(tmp_path / "x.jsonl", [{"id": r["id"], "messages": r["messages"]} for r in hh_records[:3]])
    assert detect(path) == ("valuescope", "jsonl")
    bom = tmp_path / "bom.jsonl"  # Windows-style: byte-order mark and CRLF line ends
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert messages_of(ingest(tmp_path, bom, name="bom")) == [_pairs(r) for r in hh_records[:3]]
    assert ingest(tmp_path, path, format="openai").manifest["inputs"][0]["format"] == "openai"
    junk = tmp_path / "junk.txt"
    junk.write_text("just some words\n")
    with pytest.raises(InputError, match="cannot tell the format"):
        ingest(tmp_path, junk, name="junk")
    with pytest.raises(InputError, match="CSV parse error"):
        ingest(tmp_path, path, name="notcsv", format="csv")
    csv = tmp_path / "t.csv"
    csv.write_text("prompt,response\nhi,hello\n")
    with pytest.raises(InputError, match="column map names column"):
        ingest(tmp_path, csv, name="bad", column_map={"id": "nope"})
