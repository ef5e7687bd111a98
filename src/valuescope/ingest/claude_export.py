"""Claude.ai data export: ``conversations.json`` (beside ``users.json``, ``projects.json``).

One JSON array of conversations. Field names as in the export (checked
against the synthetic exports shipped by ``logactyl`` 0.1.5, ``chat-history``
0.3.3 and ``claude-export-html`` 1.0.0, tests/ingest/fixtures/NOTICE):

``{"uuid", "name", "summary", "created_at", "updated_at", "account": {"uuid"},
"chat_messages": [{"uuid", "sender": "human" | "assistant", "text", "content":
[blocks], "created_at", "attachments": [{"file_name", "extracted_content"}],
"files": [{"file_name"}], "parent_message_uuid"}], "current_leaf_message_uuid"}``

``content`` blocks are read as in the Messages API (:func:`.anthropic.block_turns`):
``text``; ``tool_use`` is a tool call; ``tool_result`` (which claude.ai keeps
inside the assistant message) a tool turn; ``thinking`` is left out of the
judged text and counted in ``meta.thinking_blocks``. Without ``content`` the
message's ``text`` is used. An attachment's ``extracted_content`` is part of
what the user sent and is appended to the human turn as ``[attachment NAME]``.
``account.uuid`` is the raw user id (hashed like every other). When messages
carry ``parent_message_uuid`` and the conversation names its
``current_leaf_message_uuid``, the branch shown is followed from that leaf.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.anthropic import BlockCounts, block_turns
from valuescope.ingest.draft import Draft, RecordError, as_text, as_timestamp

NAME = "claude_export"
_META_KEYS = ("name", "summary", "updated_at", "project_uuid")


def sniff(record: dict[str, Any]) -> bool:
    return isinstance(record.get("chat_messages"), list) and "uuid" in record


def _shown(messages: list[Any], leaf: Any) -> tuple[list[Any], int]:
    """The messages on the branch ending at ``leaf`` (all of them when the export has no tree)."""
    by_id = {m.get("uuid"): m for m in messages if isinstance(m, dict)}
    if leaf not in by_id or not any(isinstance(m, dict) and "parent_message_uuid" in m for m in messages):
        return messages, 0
    path, seen, node = [], set(), by_id.get(leaf)
    while node is not None and node.get("uuid") not in seen:
        seen.add(node.get("uuid"))
        path.append(node)
        node = by_id.get(node.get("parent_message_uuid"))
    return path[::-1], len(messages) - len(path)


def _content(m: dict[str, Any], counts: BlockCounts) -> list[Any] | str | None:
    content = m.get("content")
    if not (isinstance(content, list) and content):
        content = m.get("text")
    attached = []
    for a in m.get("attachments") or []:
        sent = m.get("sender") == "human"  # what the user uploaded; on an assistant turn it was not said
        if (
            sent
            and isinstance(a, dict)
            and isinstance(a.get("extracted_content"), str)
            and a["extracted_content"].strip()
        ):
            attached.append(
                {"type": "text", "text": f"[attachment {a.get('file_name', '')}]\n{a['extracted_content']}"}
            )
        else:
            counts.skipped += 1
    named = {a.get("file_name") for a in m.get("attachments") or [] if isinstance(a, dict)}
    counts.skipped += sum(1 for f in m.get("files") or [] if not isinstance(f, dict) or f.get("file_name") not in named)
    if not attached:
        return content
    base = content if isinstance(content, list) else ([{"type": "text", "text": content}] if content else [])
    return [*base, *attached]


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    msgs = record.get("chat_messages")
    if not isinstance(msgs, list):
        raise RecordError("missing 'chat_messages' list")
    shown, off_path = _shown(msgs, record.get("current_leaf_message_uuid"))
    counts = BlockCounts()
    turns: list[Any] = []
    for i, m in enumerate(shown, 1):
        if not isinstance(m, dict):
            raise RecordError(f"message {i} is not an object")
        if "sender" not in m:
            raise RecordError(f"message {i} has no 'sender'")
        turns += block_turns(m["sender"], _content(m, counts), f"message {i}", counts)
    meta: dict[str, Any] = {k: record[k] for k in _META_KEYS if record.get(k)}
    if off_path:
        meta["nodes_off_path"] = off_path
    if counts.thinking:
        meta["thinking_blocks"] = counts.thinking
    if counts.skipped > 0:
        meta["non_text_parts"] = counts.skipped
    account = record.get("account") if isinstance(record.get("account"), dict) else {}
    return [
        Draft(
            messages=turns,
            id=as_text(record.get("uuid")),
            model=as_text(record.get("model")),
            timestamp=as_timestamp(record.get("created_at")),
            user_id=as_text(account.get("uuid")),
            meta=meta,
        )
    ]
