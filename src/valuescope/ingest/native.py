"""valuescope's own interchange format (the shared corpora's JSONL).

One JSON object per line::

    {"id": str, "source": str|null, "model": str|null, "timestamp": str|null,
     "user_id": str|null, "context": str|null,
     "messages": [{"role": "user"|"assistant"|"system", "content": str}, ...],
     "meta": {...}}

Only ``messages`` is required. Unknown top-level fields are an error, so a
typo is caught rather than silently dropped. ``user_id`` is treated as a raw
id and hashed with the run's salt like any other source's.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError

NAME = "valuescope"
FIELDS = frozenset({"id", "source", "model", "timestamp", "user_id", "context", "messages", "meta"})


def sniff(record: dict[str, Any]) -> bool:
    msgs = record.get("messages")
    return (
        "id" in record
        and isinstance(msgs, list)
        and set(record) <= FIELDS
        and all(isinstance(m, dict) and set(m) == {"role", "content"} and isinstance(m["content"], str) for m in msgs)
    )


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - FIELDS)
    if unknown:
        raise RecordError(f"unknown field(s) for the valuescope format: {', '.join(unknown)}")
    msgs = record.get("messages")
    if not isinstance(msgs, list):
        raise RecordError("missing 'messages' list")
    messages = []
    for i, m in enumerate(msgs, 1):
        if not isinstance(m, dict) or "role" not in m:
            raise RecordError(f"message {i} has no role")
        if not isinstance(m.get("content"), str | None):
            raise RecordError(f"message {i}: content must be text")
        messages.append((m["role"], m.get("content")))
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise RecordError("'meta' must be an object")
    return [Draft.from_record(record, messages, meta)]
