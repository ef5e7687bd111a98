"""ShareGPT: ``{"id", "conversations": [{"from": "human"|"gpt"|"system", "value": str}]}``.

ShareGPT dumps often come as one JSON array rather than JSONL; both work
(see :mod:`.source`). Assistant speakers named after a product (``bing``,
``bard``, ``chatgpt``) name the model when the record has no ``model``.
Tool datasets in this layout (glaive, ToolACE) use ``function_call`` (an
assistant turn whose value is the call as JSON) and ``observation`` (the
tool's result). Other unknown speakers are quarantined by validation with the
speaker named.
"""

from __future__ import annotations

import json
from typing import Any

from valuescope.ingest.draft import Draft, RecordError, Turn, tool_call
from valuescope.ingest.openai import chat_messages

NAME = "sharegpt"
_KNOWN = {"id", "conversations", "model", "timestamp", "user_id", "context", "source"}
MODEL_SPEAKERS = {"bing": "bing", "bard": "bard", "chatgpt": "chatgpt"}


def sniff(record: dict[str, Any]) -> bool:
    conv = record.get("conversations")
    return isinstance(conv, list) and all(isinstance(m, dict) and "from" in m for m in conv[:3])


def _function_call(value: Any) -> Turn:
    """A ``function_call`` turn: ``{"name", "arguments"}`` as JSON text (or the raw text as arguments)."""
    try:
        call = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        call = None
    if isinstance(call, dict) and isinstance(call.get("name"), str):
        return Turn("assistant", None, [tool_call(call["name"], call.get("arguments", call.get("parameters")))])
    return Turn("assistant", None, [tool_call("function_call", value)])


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if "conversations" not in record:
        raise RecordError("missing 'conversations'")
    messages, _ = chat_messages(record["conversations"], role_key="from", content_key="value")
    speakers = [m.get("from") for m in record["conversations"]]
    messages = [
        _function_call(m["value"]) if s == "function_call" else t
        for s, m, t in zip(speakers, record["conversations"], messages, strict=True)
    ]
    model = record.get("model")
    if model is None:
        named = [MODEL_SPEAKERS[s.lower()] for s in speakers if isinstance(s, str) and s.lower() in MODEL_SPEAKERS]
        model = named[0] if named else None
    return [Draft.from_record(record, messages, {k: v for k, v in record.items() if k not in _KNOWN}, model=model)]
