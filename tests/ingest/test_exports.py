"""Chat exports as people download them: ChatGPT and Claude.ai, as a .zip, a folder or the bare file.

The fixtures are other projects' synthetic exports (tests/ingest/fixtures/NOTICE);
each test checks what a user would see against the fixture's own content.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from valuescope.ingest.draft import InputError

FIXTURES = Path(__file__).parent / "fixtures"
CHATGPT_ZIP = FIXTURES / "logactyl" / "chatgpt-synthetic-export.zip"
CLAUDE_ZIP = FIXTURES / "logactyl" / "claude-synthetic-export.zip"


def _rows(run) -> dict[str, dict]:
    rows = run.dir.read_table("conversations").to_pylist()
    for r in rows:
        r["meta"] = json.loads(r["meta"])
    return {r["id"]: r for r in rows}


def _turns(row: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in row["messages"]]


def test_chatgpt_export_zip_with_shards(tmp_path, ingest):
    run = ingest(tmp_path, CHATGPT_ZIP)
    inputs = run.manifest["inputs"]
    assert [Path(f["path"]).name for f in inputs] == ["conversations-000.json", "conversations-001.json"]
    assert {f["format"] for f in inputs} == {"chatgpt"}
    rows = _rows(run)
    assert len(rows) == 3 and run.quarantine["line"].isna().all()  # only skipped files, no record lost
    basic = rows["11111111-1111-4111-8111-111111111111"]
    # hidden system prompt and custom instructions (user_editable_context) are not judged text
    assert _turns(basic) == [
        ("user", "Summarize what this fixture is for."),
        ("assistant", "It is a privacy-safe synthetic ChatGPT export fixture for CI regression tests."),
    ]
    assert basic["model"] == "gpt-5-2-thinking"
    assert basic["timestamp"].startswith("2023-11-14T22:13:20")  # create_time 1700000000.0
    assert basic["meta"]["hidden_turns"] == 2 and basic["meta"]["title"] == "Synthetic basic text chat"
    branch = rows["22222222-2222-4222-8222-222222222222"]
    assert branch["messages"][-1]["content"].startswith("Current branch:")  # current_node's path, not the old one
    assert (branch["meta"]["branches"], branch["meta"]["nodes_off_path"]) == (2, 1)
    tool = rows["33333333-3333-4333-8333-333333333333"]
    roles = [m["role"] for m in tool["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    call = tool["messages"][1]
    assert call["content"] == "" and call["tool_calls"][0]["name"] == "computer.initialize"
    assert json.loads(call["tool_calls"][0]["arguments"]) == {"action": "computer.initialize"}
    assert tool["messages"][2]["name"] == "computer.initialize"
    # every other file of the archive is listed with its reason
    skipped = {Path(s["path"]).name: s["reason"] for s in run.manifest["skipped_files"]}
    assert set(skipped) == {
        "chat.html",
        "user.json",
        "user_settings.json",
        "message_feedback.json",
        "sora.json",
        "file-AbCdEf1234567890-sample-notes.txt",
        "file_00000000aaaabbbbccccddddeeeeffff-sample-ui.png",
        "file_00000000feedfacecafebeef00112233-a1b2c3d4-e5f6-7890-abcd-ef0123456789.png",
    }
    assert (
        "HTML view" in skipped["chat.html"]
        and "not a conversation file type (.png" in skipped["file_00000000aaaabbbbccccddddeeeeffff-sample-ui.png"]
    )


def test_chatgpt_export_branch_and_parts(tmp_path, ingest):
    run = ingest(tmp_path, FIXTURES / "chat_history" / "chatgpt_2026_sample.json")
    rows = _rows(run)
    conv = rows["chatgpt-conv-1"]
    assert _turns(conv) == [
        ("user", "How do I build an export command?"),
        ("assistant", "Use argparse and subcommands."),
    ]
    assert conv["model"] == "gpt-4-5" and conv["meta"]["non_text_parts"] == 1  # the image part
    assert "regenerated" not in json.dumps(_turns(conv))


def _malformed_chatgpt(tmp_path: Path) -> Path:
    with zipfile.ZipFile(CHATGPT_ZIP) as zf:
        convs = json.loads(zf.read("conversations-000.json"))
    convs[1]["current_node"] = "no-such-node"
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(convs))
    return path


def test_chatgpt_malformed_conversation_quarantined_alone(tmp_path, ingest):
    run = ingest(tmp_path, _malformed_chatgpt(tmp_path))
    assert list(_rows(run)) == ["11111111-1111-4111-8111-111111111111"]
    q = run.quarantine
    assert q["line"].tolist() == [2] and q["reason"].tolist() == ["current_node 'no-such-node' is not in 'mapping'"]


def test_claude_export_zip(tmp_path, ingest):
    run = ingest(tmp_path, CLAUDE_ZIP)
    rows = _rows(run)
    assert list(rows) == [
        "55555555-5555-4555-8555-555555555555",
        "88888888-8888-4888-8888-888888888888",
        "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
    ]
    plain = rows["55555555-5555-4555-8555-555555555555"]
    assert _turns(plain)[0] == ("user", "How many root files does the official export contain?")
    assert plain["timestamp"] == "2026-01-03T00:00:00.000000Z" and plain["meta"]["name"] == "Synthetic plain chat"
    assert plain["user_id"].startswith("u_")  # account.uuid, hashed
    attached = rows["88888888-8888-4888-8888-888888888888"]
    assert attached["messages"][0]["content"].startswith("[attachment fixture-notes.md]\n# Synthetic Attachment")
    tools = rows["bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"]
    assert [m["role"] for m in tools["messages"]] == ["user", "assistant", "tool"]
    asst = tools["messages"][1]
    assert asst["content"] == "Which output mode should the utility test?"  # thinking left out
    assert (
        asst["tool_calls"][0]["name"] == "ask_user_input_v0"
        and asst["tool_calls"][0]["id"] == "toolu_01SYNTHETICEXPORTFIXTURE"
    )
    assert tools["messages"][2]["tool_call_id"] == "toolu_01SYNTHETICEXPORTFIXTURE"
    assert tools["meta"]["thinking_blocks"] == 2
    assert "I should provide" not in json.dumps(tools["messages"])
    assert {Path(s["path"]).name for s in run.manifest["skipped_files"]} == {"users.json", "projects.json"}


def test_claude_export_tool_turns_from_chat_history(tmp_path, ingest):
    run = ingest(tmp_path, FIXTURES / "chat_history" / "claude_2026_sample.json")
    conv = _rows(run)["claude-conv-1"]
    assert _turns(conv) == [
        ("user", "Find docs for uv"),
        ("assistant", ""),
        ("tool", "Fetch failed"),
        ("assistant", "I could not fetch the URL, try opening it manually."),
    ]
    assert conv["messages"][1]["tool_calls"][0] == {
        "id": None,
        "name": "web_fetch",
        "arguments": '{"url": "https://example.com"}',
    }


def test_claude_export_folder_and_malformed(tmp_path, ingest):
    folder = tmp_path / "export"
    shutil.copytree(FIXTURES / "claude_export_html" / "backup", folder)
    convs = json.loads((folder / "conversations.json").read_text())
    convs[1]["chat_messages"][0].pop("sender")
    (folder / "conversations.json").write_text(json.dumps(convs, ensure_ascii=False))
    run = ingest(tmp_path, folder)
    rows = _rows(run)
    assert list(rows) == ["c-1"]
    assert _turns(rows["c-1"])[0] == ("user", "Как привести таблицу к 3НФ?")
    q = run.quarantine[run.quarantine["line"].notna()]
    assert sorted(zip(q["line"], q["reason"], strict=True)) == [(2, "message 1 has no 'sender'"), (3, "no messages")]
    skipped = {Path(s["path"]).name: s["reason"] for s in run.manifest["skipped_files"]}
    assert set(skipped) == {"users.json", "p-1.json"}
    assert "keys [created_at, description, docs" in skipped["p-1.json"]  # says what it found


def test_input_without_conversations_is_an_error(tmp_path, ingest):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "conversations.json").write_text(json.dumps([{"uuid": "x", "chat_messages": []}]))
    (folder / "users.json").write_text("[]")
    with pytest.raises(
        InputError, match=r"no conversation read from .*export: 1 record\(s\) quarantined.*1 file\(s\) skipped"
    ):
        ingest(tmp_path, folder)


def _cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    import sys

    from valuescope.cli import main

    monkeypatch.setattr(sys, "argv", ["valuescope", *args])
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_names_what_it_found_and_skipped(tmp_path, capsys, monkeypatch):
    code, _, out = _cli(
        capsys, monkeypatch, "ingest", str(CHATGPT_ZIP), "--out", str(tmp_path / "run"), "--scrub", "off", "-q"
    )
    assert code == 0  # the console is stderr
    assert "found: ChatGPT export, 2 shards, 3 conversations" in out
    assert f"skipped {CHATGPT_ZIP}/chat.html: HTML view" in out
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps([{"uuid": "x", "chat_messages": []}]))
    code, _, err = _cli(capsys, monkeypatch, "ingest", str(empty), "--out", str(tmp_path / "run2"), "-q")
    assert code == 2 and err.startswith("error: no conversation read from") and len(err.strip().splitlines()) == 1


def test_gemini_ai_studio_prompts(tmp_path, ingest):
    source = FIXTURES / "chat_history" / "gemini_2026_sample.json"
    run = ingest(tmp_path, source)
    rows = _rows(run)
    basic = rows["gemini-conv-basic"]
    assert _turns(basic) == [
        ("system", "Be helpful and concise."),
        ("user", "What is Python?"),
        ("assistant", "Python is a high-level, interpreted programming language known for its readability."),
    ]
    assert (basic["model"], basic["meta"]["thinking_blocks"]) == ("gemini-2.5-pro", 1)  # the thought part is not judged
    assert basic["timestamp"].startswith("2024-12-24T00:26:40")
    multi = rows["gemini-conv-multimodal"]
    assert multi["model"] == "gemini-2.0-flash" and multi["meta"]["non_text_parts"] == 3  # audio, Drive doc, image
    broken = json.loads(source.read_text())
    del broken[0]["chunkedPrompt"]["chunks"][1]["role"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    run = ingest(tmp_path, path, name="broken")
    assert list(_rows(run)) == ["gemini-conv-multimodal"] and run.quarantine["reason"].tolist() == [
        "chunk 2: chunk without a 'role'"
    ]


def test_zip_members_are_read_safely_and_cleaned_up(tmp_path, ingest, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    record = {"id": "z1", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escape.jsonl", json.dumps(record) + "\n")  # a path trick: read, never written outside
        zf.writestr("inner.zip", b"PK\x05\x06" + b"\0" * 18)
    run = ingest(tmp_path, archive)
    assert list(_rows(run)) == ["z1"] and run.manifest["inputs"][0]["path"] == f"{archive}/../../escape.jsonl"
    assert not (tmp_path.parent / "escape.jsonl").exists()
    assert {Path(s["path"]).name: s["reason"] for s in run.manifest["skipped_files"]} == {
        "inner.zip": "an archive inside an archive (unzip it first)"
    }
    assert list((tmp_path / "tmp").iterdir()) == []  # the extracted copies are gone


def test_claude_export_branch_follows_current_leaf(tmp_path, ingest):
    with zipfile.ZipFile(CLAUDE_ZIP) as zf:
        conv = json.loads(zf.read("conversations.json"))[0]
    human, answer = conv["chat_messages"]
    retry = {**answer, "uuid": "retry", "content": [{"type": "text", "text": "A regenerated answer."}]}
    human["parent_message_uuid"] = "00000000-0000-4000-8000-000000000000"  # claude.ai's root sentinel
    answer["parent_message_uuid"] = retry["parent_message_uuid"] = human["uuid"]
    conv["chat_messages"] = [human, answer, retry]
    conv["current_leaf_message_uuid"] = "retry"
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conv]))
    row = _rows(ingest(tmp_path, path))[conv["uuid"]]
    assert _turns(row)[-1] == ("assistant", "A regenerated answer.") and len(row["messages"]) == 2
    assert row["meta"]["nodes_off_path"] == 1


def test_chatgpt_reasoning_and_hidden_context_are_not_judged(tmp_path, ingest):
    with zipfile.ZipFile(CHATGPT_ZIP) as zf:
        conv = json.loads(zf.read("conversations-000.json"))[0]
    mapping = conv["mapping"]
    thought = {
        "id": "c1-thought",
        "author": {"role": "assistant", "name": None, "metadata": {}},
        "content": {"content_type": "thoughts", "thoughts": [{"summary": "s", "content": "secret plan"}]},
        "metadata": {},
        "recipient": "all",
    }
    mapping["c1-thought"] = {
        "id": "c1-thought",
        "parent": "c1-user-1",
        "children": ["c1-assistant-1"],
        "message": thought,
    }
    mapping["c1-user-1"]["children"] = ["c1-thought"]
    mapping["c1-assistant-1"]["parent"] = "c1-thought"
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conv]))
    row = _rows(ingest(tmp_path, path))[conv["id"]]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert "secret plan" not in json.dumps(row) and "Synthetic User" not in json.dumps(row)  # custom instructions too
    assert (row["meta"]["thinking_blocks"], row["meta"]["hidden_turns"]) == (1, 2)


def test_thinking_is_judged_only_when_asked(tmp_path, ingest):
    rows = _rows(ingest(tmp_path, CLAUDE_ZIP, name="include", thinking="include"))
    asst = rows["bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"]["messages"][1]["content"]
    assert asst == (
        "[thinking]\nI should provide a compact test interaction and surface a widget-shaped block so tool "
        "parsing is covered.\nWaiting for user input.\n[/thinking]\n\nWhich output mode should the utility test?"
    )
    plain = _rows(ingest(tmp_path, CLAUDE_ZIP, name="default"))["bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"]
    assert plain["messages"][1]["content"] == "Which output mode should the utility test?"
