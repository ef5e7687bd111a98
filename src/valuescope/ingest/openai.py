"""OpenAI chat JSONL: ``{"messages": [{"role", "content"}, ...], ...}``.

``content`` is a string or a list of parts (``{"type": "text", "text": ...}``);
non-text parts (images, audio) are skipped and counted in ``meta``. The API's
``user`` field (or ``user_id``) is the raw user id; ``created`` (unix seconds)
becomes the timestamp. Other top-level fields are kept in ``meta``.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import (
    Draft,
    RecordError,
    as_text,
    as_timestamp,
    blocks_text,
)

NAME = "openai"
_KNOWN = {"messages", "id", "model", "user", "user_id", "created", "timestamp", "context", "source"}


def sniff(record: dict[str, Any]) -> bool:
    return isinstance(record.get("messages"), list)


def chat_messages(msgs: Any, role_key: str = "role", content_key: str = "content") -> tuple[list[tuple[str, Any]], int]:
    """Parse a list of chat messages; returns (role, text) pairs and the number of skipped non-text parts."""
    if not isinstance(msgs, list):
        raise RecordError("'messages' must be a list")
    out, skipped = [], 0
    for i, m in enumerate(msgs, 1):
        if not isinstance(m, dict):
            raise RecordError(f"message {i} is not an object")
        if role_key not in m:
            raise RecordError(f"message {i} has no {role_key!r}")
        text, n = blocks_text(m.get(content_key), f"message {i}")
        skipped += n
        out.append((m[role_key], text))
    return out, skipped


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if "messages" not in record:
        raise RecordError("missing 'messages'")
    messages, skipped = chat_messages(record["messages"])
    meta = {k: v for k, v in record.items() if k not in _KNOWN}
    if isinstance(meta.get("metadata"), dict):
        meta["metadata"] = {k: v for k, v in meta["metadata"].items() if k != "user_id"}
    if skipped:
        meta["non_text_parts"] = skipped
    return [
        Draft.from_record(
            record,
            messages,
            meta,
            timestamp=as_timestamp(record.get("timestamp", record.get("created"))),
            user_id=as_text(record.get("user") or record.get("user_id")),
        )
    ]
