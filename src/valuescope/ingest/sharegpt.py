"""ShareGPT: ``{"id", "conversations": [{"from": "human"|"gpt"|"system", "value": str}]}``.

ShareGPT dumps often come as one JSON array rather than JSONL; both work
(see :mod:`.source`). Unknown speakers (``function_call``, ``observation``)
are quarantined by validation with the speaker named.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError
from valuescope.ingest.openai import chat_messages

NAME = "sharegpt"
_KNOWN = {"id", "conversations", "model", "timestamp", "user_id", "context", "source"}


def sniff(record: dict[str, Any]) -> bool:
    conv = record.get("conversations")
    return isinstance(conv, list) and all(isinstance(m, dict) and "from" in m for m in conv[:3])


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if "conversations" not in record:
        raise RecordError("missing 'conversations'")
    messages, _ = chat_messages(record["conversations"], role_key="from", content_key="value")
    return [
        Draft.from_record(record, messages, {k: v for k, v in record.items() if k not in _KNOWN})
    ]
