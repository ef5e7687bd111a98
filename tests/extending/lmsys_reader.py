"""LMSYS-Chat-1M rows: {"conversation_id", "model", "conversation": [{"role", "content"}], "language", ...}.

A reader is a module with NAME, sniff(record) and parse(record); register() makes it a plugin.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError

NAME = "lmsys"


def sniff(record: dict[str, Any]) -> bool:
    return "conversation_id" in record and isinstance(record.get("conversation"), list)


def parse(record: Any) -> list[Draft]:
    turns = record.get("conversation") if isinstance(record, dict) else None
    if not isinstance(turns, list) or not all(isinstance(t, dict) and "role" in t for t in turns):
        raise RecordError("'conversation' must be a list of {role, content}")
    meta = {k: record[k] for k in ("language", "turn", "redacted") if k in record}
    messages = [(t["role"], t.get("content")) for t in turns]
    return [Draft.from_record(record, messages, meta, id=str(record["conversation_id"]))]


def register(registry: Any) -> None:
    registry.add("reader", NAME, __name__)
