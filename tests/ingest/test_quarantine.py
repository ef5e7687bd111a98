"""Nothing lost: every record read is a conversation or a quarantine entry with a reason."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from valuescope.ingest.draft import IngestError
from valuescope.privacy.ids import SALT_ENV, salt_path

SHARED_FILES = ("alpaca_eval.jsonl", "hh_rlhf_harmless_base_test.jsonl", "jailbreakbench.jsonl", "mt_bench.jsonl")


def test_all_shared_files_accounted_for(tmp_path, conversations_dir, ingest):
    files = [conversations_dir / f for f in SHARED_FILES]
    run = ingest(tmp_path, *files)
    inputs = run.manifest["inputs"]
    quarantine = run.quarantine
    for f, info in zip(files, inputs, strict=True):
        lines = sum(1 for line in f.open("rb") if line.strip())
        assert info["read"] == lines == info["ok"] + info["quarantined"]
        assert info["sha256"] and len(info["sha256"]) == 64
        assert (quarantine["source"] == str(f)).sum() == info["quarantined"]
    assert run["conversations"].shape[0] == sum(i["ok"] for i in inputs)
    assert quarantine["reason"].str.startswith("empty assistant turn").all()  # the shared data's only flaw
    assert run.sql("select count(*) as n from conversations")["n"][0] == sum(i["ok"] for i in inputs)


def _broken_file(tmp_path: Path, hh_records: list[dict]) -> tuple[Path, dict[int, str]]:
    """Real records with deliberately broken lines; returns the path and {line: expected reason prefix}."""
    good = [json.dumps(r, ensure_ascii=False).encode() for r in hh_records[:12]]
    rec = hh_records[12]
    no_role = {**rec, "messages": [{"content": m["content"]} for m in rec["messages"]]}
    empty = {**rec, "id": "empty", "messages": [*rec["messages"][:-1], {"role": "assistant", "content": "  "}]}
    only_user = {**rec, "id": "only-user", "messages": [m for m in rec["messages"] if m["role"] == "user"]}
    narrator = {**rec, "id": "narrator", "messages": [*rec["messages"], {"role": "narrator", "content": "42"}]}
    huge = {**rec, "id": "huge", "messages": [{"role": "user", "content": "x" * 5000}, rec["messages"][1]]}
    broken = {
        3: (b'{"id": "x", "messages": [', "bad JSON"),
        5: (json.dumps(no_role).encode(), "message 1 has no role"),
        7: (json.dumps(empty).encode(), "empty assistant turn"),
        9: (
            good[0].replace(b"alcohol", b"alc\xff\xfeohol") if b"alcohol" in good[0] else b'{"id": "\xff"}',
            "not valid UTF-8",
        ),
        11: (json.dumps(only_user).encode(), "no assistant turn"),
        13: (json.dumps(narrator).encode(), "unknown role 'narrator'"),
        15: (json.dumps(huge).encode(), "record is"),
        17: (json.dumps({**rec, "id": hh_records[0]["id"]}).encode(), "duplicate id"),
    }
    lines, it = [], iter(good)
    for n in range(1, 12 + len(broken) + 1):
        lines.append(broken[n][0] if n in broken else next(it))
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")  # a trailing blank line is not a record
    return path, {n: reason for n, (_, reason) in broken.items()}


def test_broken_lines_quarantined_exactly(tmp_path, hh_records, ingest):
    path, expected = _broken_file(tmp_path, hh_records)
    run = ingest(tmp_path, path, format="valuescope", max_record_bytes=4000)
    q = run.quarantine.sort_values("line")
    assert q["line"].tolist() == sorted(expected)
    for line, reason in zip(q["line"], q["reason"], strict=True):
        assert reason.startswith(expected[line]) or expected[line] in reason, (line, reason)
    info = run.manifest["inputs"][0]
    assert (info["read"], info["ok"], info["quarantined"], info["blank_lines"]) == (20, 12, 8, 1)
    conv = run["conversations"]
    assert conv["id"].tolist() == [r["id"] for r in hh_records[:12]]
    assert conv["source_line"].tolist() == [n for n in range(1, 21) if n not in expected]


def test_strict_fails_with_first_reason(tmp_path, hh_records, ingest):
    path, _ = _broken_file(tmp_path, hh_records)
    with pytest.raises(IngestError, match=r"8 record\(s\) quarantined .*broken.jsonl:3: bad JSON"):
        ingest(tmp_path, path, strict=True, max_record_bytes=4000)
    assert not (tmp_path / "run" / "conversations").exists()
    assert (tmp_path / "run" / "quarantine.jsonl").is_file()


def test_user_ids_hashed_salt_secret(tmp_path, hh_records, ingest, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)
    rows = [
        {"id": r["id"], "messages": r["messages"], "user_id": f"raw-user-{i % 4}"} for i, r in enumerate(hh_records)
    ]
    rows.append({"id": "bad", "user_id": "raw-user-9", "messages": [{"role": "user", "content": "hi"}]})
    path = tmp_path / "u.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = ingest(tmp_path, path, keep_raw=True)
    salt_file = salt_path(run.path)
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    salt = salt_file.read_bytes()
    assert run["conversations"]["user_id"].nunique() == 4
    for f in run.path.rglob("*"):
        if f.is_file() and ".secret" not in f.parts:
            data = f.read_bytes()
            assert b"raw-user-" not in data, f
            assert salt not in data, f
    again = ingest(tmp_path, path, name="run2")  # another run, another salt: unlinkable ids
    assert set(again["conversations"]["user_id"]).isdisjoint(run["conversations"]["user_id"])
    monkeypatch.setenv(SALT_ENV, "shared-secret-" + "0123456789abcdef" * 2)
    a, b = ingest(tmp_path, path, name="a"), ingest(tmp_path, path, name="b")
    assert a["conversations"]["user_id"].tolist() == b["conversations"]["user_id"].tolist()
    assert not salt_path(a.path).exists()


def test_keep_raw_and_default_scrubber(tmp_path, hh_records, ingest):
    rec = hh_records[0]
    email = "jane.doe@example.com"
    msgs = [{"role": "user", "content": f"mail me at {email} please"}, *rec["messages"][1:]]
    path = tmp_path / "pii.jsonl"
    path.write_text(json.dumps({"id": "p1", "messages": msgs}) + "\n")
    run = ingest(tmp_path, path, scrub="regex", keep_raw=True)
    assert email not in run["conversations"]["messages"].iloc[0][0]["content"]
    assert email in run["conversations_raw"]["messages"].iloc[0][0]["content"]
    rerun = ingest(tmp_path, path, scrub="regex")  # same run without --keep-raw: raw copy removed
    assert "conversations_raw" not in rerun.tables
    leftovers = [f for f in rerun.path.rglob("*") if f.is_file() and email.encode() in f.read_bytes()]
    assert leftovers == []  # nor in checkpoints
    again = ingest(tmp_path, path, scrub="regex", keep_raw=True)  # and --keep-raw again rebuilds it
    assert email in again["conversations_raw"]["messages"].iloc[0][0]["content"]


def test_missing_and_unreadable_inputs(tmp_path, ingest):
    from valuescope.ingest.draft import InputError

    with pytest.raises(InputError, match="input not found"):
        ingest(tmp_path, tmp_path / "nope.jsonl")
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.jsonl"
        locked.write_text("{}\n")
        locked.chmod(0)
        with pytest.raises(InputError, match="permission denied"):
            ingest(tmp_path, locked)


def test_csv_row_with_invalid_utf8_quarantined_alone(tmp_path, hh_records, ingest):
    import csv

    path = tmp_path / "chats.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prompt", "response"])
        for r in hh_records[:6]:
            w.writerow([r["id"], r["messages"][0]["content"], r["messages"][1]["content"]])
        w.writerow(["empty", "hello?", ""])
    data = path.read_bytes().replace(b"hh-harmless-test:2,", b"hh-harmless-test:2,\xff")
    path.write_bytes(data)
    run = ingest(tmp_path, path)
    bad = [r["id"] for r in hh_records[:6]].index("hh-harmless-test:2")
    q = run.quarantine.sort_values("line")
    assert q["line"].tolist() == [bad + 1, 7]  # 1-based data rows: the bad-bytes row and the empty response
    assert q["reason"].tolist() == ["not valid UTF-8 in column 'prompt' (byte 0)", "empty assistant turn (message 2)"]
    assert run["conversations"]["id"].tolist() == [r["id"] for i, r in enumerate(hh_records[:6]) if i != bad]


def test_folder_input_skips_stray_files_with_a_reason(tmp_path, hh_records, ingest):
    from valuescope.ingest.draft import InputError

    folder = tmp_path / "logs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in hh_records[:5]))
    (folder / "NOTES.txt").write_text("written by hand, not a conversation\n")
    run = ingest(tmp_path, folder)
    assert len(run["conversations"]) == 5
    assert run.manifest["skipped_files"] == [
        {"path": str(folder / "NOTES.txt"), "reason": run.quarantine["reason"].iloc[-1].removeprefix("file skipped: ")}
    ]
    assert run.quarantine["reason"].iloc[-1].startswith("file skipped: cannot tell the format")
    with pytest.raises(InputError, match="cannot tell the format"):  # named explicitly: an error
        ingest(tmp_path, folder / "NOTES.txt", name="explicit")
