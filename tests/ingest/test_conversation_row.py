"""conversations.parquet has a pydantic row record like every other core table (issue #16)."""

from __future__ import annotations

import pyarrow.parquet as pq

from valuescope.ingest.table import CONVERSATION_SCHEMA, conversations_to_table, table_to_conversations
from valuescope.records import Conversation, ConversationRow, Message, ToolCall
from valuescope.tables import CONVERSATIONS, arrow_schema


def test_the_schema_derives_from_the_record():
    assert CONVERSATIONS.record is ConversationRow
    assert CONVERSATION_SCHEMA.equals(arrow_schema(ConversationRow))
    assert CONVERSATION_SCHEMA.names == list(ConversationRow.model_fields)
    messages = CONVERSATION_SCHEMA.field("messages").type.value_type
    assert [f.name for f in messages] == ["role", "content", "tool_calls", "name", "tool_call_id"]


def test_written_rows_are_valid_records_and_round_trip(tmp_path):
    conv = Conversation(
        id="c1",
        source="s",
        user_id="u",
        meta={"k": 1},
        messages=[
            Message(role="user", content="hi"),
            Message(role="assistant", content="", tool_calls=[ToolCall(name="f", arguments="{}", id="t1")]),
            Message(role="tool", content="ok", name="f", tool_call_id="t1"),
        ],
    )
    table = conversations_to_table([conv], [("in.jsonl", 3)])
    pq.write_table(table, tmp_path / "c.parquet")
    (row,) = pq.read_table(tmp_path / "c.parquet").to_pylist()
    record = ConversationRow.model_validate(row)  # every column a field of the record, and no other
    assert set(row) == set(ConversationRow.model_fields)
    assert record.content_hash == conv.content_hash() and record.source_line == 3
    assert record.messages[1].tool_calls[0].id == "t1"
    assert table_to_conversations(table) == [conv]
