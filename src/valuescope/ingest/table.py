"""conversations.parquet: the codec to and from Conversation records.

The table's row is ``records.ConversationRow`` and its Arrow schema derives from it (valuescope.tables);
rows are written as plain dicts with exactly that record's fields (fast: no model per row), which the
tests check against the record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pyarrow as pa

from valuescope.records import Conversation, Message
from valuescope.tables import CONVERSATIONS

CONVERSATION_SCHEMA: pa.Schema = CONVERSATIONS.schema


def conversations_to_table(
    conversations: Iterable[Conversation], origins: Iterable[tuple[str, int]] | None = None
) -> pa.Table:
    convs = list(conversations)
    origins = list(origins) if origins is not None else [(None, None)] * len(convs)
    rows = []
    for c, (file, line) in zip(convs, origins, strict=True):
        rows.append(
            {
                "id": c.id,
                "source": c.source,
                "model": c.model,
                "timestamp": c.timestamp,
                "user_id": c.user_id,
                "context": c.context,
                "messages": [_message_row(m) for m in c.messages],
                "meta": json.dumps(c.meta, ensure_ascii=False, sort_keys=True, default=str),
                "content_hash": c.content_hash(),
                "source_file": file,
                "source_line": line,
            }
        )
    return pa.Table.from_pylist(rows, schema=CONVERSATION_SCHEMA)


def _message_row(m: Message) -> dict:
    return {
        "role": m.role,
        "content": m.content,
        "tool_calls": [{"id": t.id, "name": t.name, "arguments": t.arguments} for t in m.tool_calls],
        "name": m.name,
        "tool_call_id": m.tool_call_id,
    }


def _message(row: dict) -> Message:
    """A message row; tables written before tool turns existed have only role and content."""
    return Message(
        role=row["role"],
        content=row["content"],
        tool_calls=row.get("tool_calls") or [],
        name=row.get("name"),
        tool_call_id=row.get("tool_call_id"),
    )


def table_to_conversations(table: pa.Table) -> list[Conversation]:
    out = []
    for row in table.to_pylist():
        out.append(
            Conversation(
                id=row["id"],
                source=row.get("source"),
                model=row.get("model"),
                timestamp=row.get("timestamp"),
                user_id=row.get("user_id"),
                context=row.get("context"),
                messages=[_message(m) for m in row["messages"]],
                meta=json.loads(row["meta"]) if row.get("meta") else {},
            )
        )
    return out
