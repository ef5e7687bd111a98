"""Parquet, CSV and Arrow: one conversation per row, columns found by name or by ``column_map``.

Arrow covers Hugging Face ``datasets`` folders written by ``save_to_disk`` (IPC
stream files ``data-0000N-of-0000M.arrow``). The WildChat layout
(``conversation_hash``, ``model``, ``timestamp``, ``conversation``,
``hashed_ip``, ``language``, ``openai_moderation``, ``detoxify_moderation``,
``toxic``, ``redacted``, ``country``, ``state``, ``header``) and LMSYS-Chat-1M's
(``conversation_id``, ``model``, ``conversation``, ``language``,
``openai_moderation``, ``redacted``) are recognised by name: the hashed IP is
the user id (hashed again with the run's salt), the rest goes to ``meta``.

The conversation comes from the first of these that the table has:

* ``messages`` — a list of ``{role, content}`` (or ShareGPT ``{from, value}``),
  as a nested column or as JSON text;
* ``transcript`` — ``Human:`` / ``Assistant:`` text;
* ``prompt`` + ``response`` — a single turn (with an optional ``system``).

``column_map`` (``--column id=conv_id`` on the CLI) maps our field to the
table's column; unmapped fields are looked up under common names. Columns
that map to nothing are kept in ``meta``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from valuescope.ingest.draft import Draft, RecordError, as_text, as_timestamp
from valuescope.ingest.openai import chat_messages
from valuescope.ingest.transcript import split_turns

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "conversation_id", "conv_id", "uuid", "conversation_hash"),  # WildChat: conversation_hash
    "messages": ("messages", "conversation", "conversations", "turns"),
    "transcript": ("transcript", "chosen", "text"),
    "prompt": ("prompt", "instruction", "question", "input", "user"),
    "response": ("response", "output", "answer", "completion", "assistant"),
    "system": ("system", "system_prompt"),
    "model": ("model", "model_name", "generator"),
    "timestamp": ("timestamp", "created_at", "created", "time", "date"),
    "user_id": ("user_id", "user_hash", "customer_id", "hashed_ip"),  # WildChat: hashed_ip (hashed again)
    "context": ("context", "category", "task", "label"),
    "source": ("source", "dataset"),
}


def resolve_columns(columns: list[str], column_map: dict[str, str]) -> dict[str, str]:
    """Our field -> the table's column. Raises ValueError for a mapping to a missing column."""
    unknown = sorted(set(column_map) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) in column map: {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    missing = sorted(c for c in column_map.values() if c not in columns)
    if missing:
        raise ValueError(
            f"column map names column(s) not in the file: {', '.join(missing)}; it has {', '.join(columns)}"
        )
    out = dict(column_map)
    lower = {c.lower(): c for c in columns}
    used = set(out.values())
    for field, names in FIELDS.items():
        if field in out:
            continue
        for name in names:
            if name in lower and lower[name] not in used:
                out[field] = lower[name]
                used.add(lower[name])
                break
    if not ({"messages", "transcript"} & set(out) or {"prompt", "response"} <= set(out)):
        raise ValueError(
            f"no conversation columns found among {', '.join(columns)}: map one with "
            "messages=COL, transcript=COL, or prompt=COL and response=COL"
        )
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item"):  # numpy scalar
        return v.item()
    return v


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Cells read as bytes (a CSV with invalid UTF-8 somewhere) back to text, or a RecordError."""
    out = {}
    for key, value in row.items():
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RecordError(f"not valid UTF-8 in column {key!r} (byte {exc.start})") from None
        out[key] = value
    return out


def parse_row(row: dict[str, Any], columns: dict[str, str]) -> list[Draft]:
    get = {field: row.get(col) for field, col in columns.items()}
    if get.get("messages") is not None:
        msgs = get["messages"]
        if isinstance(msgs, str):
            try:
                msgs = json.loads(msgs)
            except json.JSONDecodeError as exc:
                raise RecordError(f"messages column is not valid JSON: {exc.msg}") from None
        if isinstance(msgs, list) and msgs and isinstance(msgs[0], dict) and "from" in msgs[0]:
            messages, _ = chat_messages(msgs, role_key="from", content_key="value")
        else:
            messages, _ = chat_messages(msgs)
    elif get.get("transcript") is not None:
        messages = split_turns(str(get["transcript"]))
    elif "prompt" in columns and "response" in columns:
        messages = [("user", get.get("prompt")), ("assistant", get.get("response"))]
        if get.get("system"):
            messages.insert(0, ("system", get["system"]))
    else:
        raise RecordError("row has no conversation (its messages/transcript cell is empty)")
    used = set(columns.values())
    meta = {k: _jsonable(v) for k, v in row.items() if k not in used and v is not None}
    return [
        Draft(
            messages=messages,
            id=as_text(_jsonable(get.get("id"))),
            source=as_text(get.get("source")),
            model=as_text(get.get("model")),
            timestamp=as_timestamp(get.get("timestamp")),
            user_id=as_text(_jsonable(get.get("user_id"))),
            context=as_text(get.get("context")),
            meta=meta,
        )
    ]
