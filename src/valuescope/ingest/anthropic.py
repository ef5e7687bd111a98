"""Anthropic Messages API logs: a request body, optionally with the response.

``{"model", "system": str | [blocks], "messages": [{"role", "content": str | [blocks]}],
"metadata": {"user_id"}, "response": {"role": "assistant", "content": [blocks]}}``.
Text blocks are kept; ``tool_use``, ``tool_result``, images and documents are
skipped and counted in ``meta``. ``system`` becomes a leading system message;
a ``response`` (a Message object) is appended as the last assistant turn.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError, as_text, as_timestamp, blocks_text
from valuescope.ingest.openai import chat_messages

NAME = "anthropic"
_BLOCK_TYPES = {"tool_use", "tool_result", "thinking", "redacted_thinking", "document"}
_KNOWN = {"messages", "system", "id", "model", "metadata", "response", "timestamp", "context", "source"}


def sniff(record: dict[str, Any]) -> bool:
    msgs = record.get("messages")
    if not isinstance(msgs, list):
        return False
    if "system" in record or "response" in record or isinstance(record.get("metadata"), dict) and "user_id" in record["metadata"]:
        return True
    for m in msgs:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") in _BLOCK_TYPES for b in content):
            return True
    return False


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if "messages" not in record:
        raise RecordError("missing 'messages'")
    messages, skipped = chat_messages(record["messages"])
    if record.get("system"):
        system, n = blocks_text(record["system"], "system")
        skipped += n
        messages.insert(0, ("system", system))
    response = record.get("response")
    if response is not None:
        if not isinstance(response, dict):
            raise RecordError("'response' must be a Messages API message object")
        text, n = blocks_text(response.get("content"), "response")
        skipped += n
        messages.append((response.get("role", "assistant"), text))
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    meta = {k: v for k, v in record.items() if k not in _KNOWN}
    extra_meta = {k: v for k, v in metadata.items() if k != "user_id"}
    if extra_meta:
        meta["metadata"] = extra_meta
    if isinstance(response, dict) and response.get("stop_reason"):
        meta["stop_reason"] = response["stop_reason"]
    if skipped:
        meta["non_text_parts"] = skipped
    model = record.get("model") or (response or {}).get("model")
    return [
        Draft(
            messages=messages,
            id=as_text(record.get("id") or (response or {}).get("id")),
            source=as_text(record.get("source")),
            model=as_text(model),
            timestamp=as_timestamp(record.get("timestamp")),
            user_id=as_text(metadata.get("user_id")),
            context=as_text(record.get("context")),
            meta=meta,
        )
    ]
