"""Hugging Face datasets folders (save_to_disk) and the WildChat / LMSYS-Chat-1M column layouts.

Column names are those of the dataset cards (allenai/WildChat-1M, lmsys/lmsys-chat-1m);
the rows are made up.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from valuescope.ingest.table import table_to_conversations


def _wildchat_rows() -> list[dict]:
    def msg(role, content):  # WildChat messages carry more keys than role/content
        return {
            "role": role,
            "content": content,
            "language": "English",
            "toxic": False,
            "redacted": False,
            "timestamp": None,
            "turn_identifier": 1,
        }

    base = {
        "model": "gpt-4-0314",
        "turn": 1,
        "language": "English",
        "toxic": False,
        "redacted": False,
        "state": "Texas",
        "country": "United States",
        "hashed_ip": "9f2c...",
        "header": {"user-agent": "Mozilla"},
        "openai_moderation": [{"flagged": False}],
        "detoxify_moderation": [{"toxicity": 0.001}],
    }
    return [
        {
            **base,
            "conversation_hash": "wc-1",
            "timestamp": datetime(2023, 4, 9, 0, 2, 53, tzinfo=UTC),
            "conversation": [msg("user", "Help me write a kind note."), msg("assistant", "Of course: ...")],
        },
        {
            **base,
            "conversation_hash": "wc-2",
            "timestamp": datetime(2023, 4, 9, 0, 5, tzinfo=UTC),
            "conversation": [msg("user", "Hi"), msg("narrator", "...")],
        },  # malformed: unknown role
    ]


def test_datasets_save_to_disk_wildchat(tmp_path, ingest):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "wildchat"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(_wildchat_rows())}).save_to_disk(str(folder))
    run = ingest(tmp_path, folder)
    assert [f["format"] for f in run.manifest["inputs"]] == ["arrow"]
    convs = {c.id: c for c in table_to_conversations(run.dir.read_table("conversations"))}
    one = convs["wc-1"]
    assert [(m.role, m.content) for m in one.messages] == [
        ("user", "Help me write a kind note."),
        ("assistant", "Of course: ..."),
    ]
    assert (one.model, one.timestamp) == ("gpt-4-0314", "2023-04-09T00:02:53+00:00")
    assert one.user_id.startswith("u_") and "9f2c" not in json.dumps(one.meta)
    assert one.meta["language"] == "English" and one.meta["openai_moderation"] == [{"flagged": False}]
    assert one.meta["country"] == "United States" and one.meta["toxic"] is False
    assert run.quarantine[run.quarantine["line"].notna()]["reason"].tolist() == [
        "unknown role 'narrator' in message 2 (expected user, assistant, system or tool)"
    ]
    skipped = {s["path"].rsplit("/", 1)[-1] for s in run.manifest["skipped_files"]}
    assert skipped == {"dataset_dict.json", "state.json", "dataset_info.json"}


def test_lmsys_layout_parquet(tmp_path, ingest):
    rows = [
        {
            "conversation_id": "lm-1",
            "model": "vicuna-13b",
            "turn": 1,
            "language": "English",
            "redacted": False,
            "openai_moderation": [{"categories": {"harassment": False}, "flagged": False}],
            "conversation": [
                {"content": "What is honesty?", "role": "user"},
                {"content": "Telling the truth.", "role": "assistant"},
            ],
        },
        {
            "conversation_id": "lm-2",
            "model": "vicuna-13b",
            "turn": 1,
            "language": "English",
            "redacted": False,
            "openai_moderation": [],
            "conversation": [{"content": "Hi", "role": "user"}],
        },
    ]  # malformed: no answer
    path = tmp_path / "lmsys.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    run = ingest(tmp_path, path)
    conv = table_to_conversations(run.dir.read_table("conversations"))
    assert [(c.id, c.model, c.messages[-1].content) for c in conv] == [("lm-1", "vicuna-13b", "Telling the truth.")]
    assert conv[0].meta["openai_moderation"][0]["categories"] == {"harassment": False}
    assert run.quarantine["reason"].tolist() == ["no assistant turn"]
