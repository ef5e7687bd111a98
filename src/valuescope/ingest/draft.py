"""What a reader hands to validation: a loosely typed conversation, or a reason it has none.

Readers know their format's shape; they do not decide what a valid conversation
is. They return ``Draft`` objects (roles still as the source spells them) or
raise ``RecordError`` with a human-readable reason, and :mod:`.validate` turns
drafts into :class:`valuescope.records.Conversation` under one set of rules.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from valuescope.errors import ValuescopeError


class RecordError(ValueError):
    """One record cannot become a conversation; the message is the quarantine reason."""


class IngestError(ValuescopeError, RuntimeError):
    """The ingest as a whole cannot go on (e.g. --strict and a record was quarantined)."""


class InputError(IngestError):
    """An input file is missing, unreadable or of an unknown format: a one-line user error."""


@dataclass
class Turn:
    """A turn with tool data; plain turns may stay ``(role, content)`` tuples."""

    role: str  # as the source spells it
    content: Any  # text, or None (an assistant turn that only called tools)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "arguments", "id"}, see tool_call()
    name: str | None = None  # tool turns: the tool
    tool_call_id: str | None = None  # tool turns: the call answered
    thinking: str | None = None  # the model's reasoning before this turn: judged only with ingest.thinking = include


def tool_call(name: Any, arguments: Any, call_id: Any = None) -> dict[str, Any]:
    """One tool call; arguments that are not text (Anthropic's ``input`` object) become JSON text."""
    if not isinstance(name, str) or not name:
        raise RecordError("tool call without a name")
    if arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False, sort_keys=True, default=str)
    return {"name": name, "arguments": arguments, "id": as_text(call_id)}


def turn_parts(turn: tuple[str, Any] | Turn) -> Turn:
    return turn if isinstance(turn, Turn) else Turn(turn[0], turn[1])


@dataclass
class Draft:
    messages: list[tuple[str, Any] | Turn]  # (role as the source spells it, content as given), or a Turn
    id: str | None = None
    source: str | None = None  # None = the input file's stem
    model: str | None = None
    timestamp: str | None = None
    user_id: str | None = None  # RAW id: hashed by validation, never stored
    context: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    suffix: str | None = None  # distinguishes several conversations from one record (hh chosen/rejected)
    error: str | None = (
        None  # one of several conversations of a record is unreadable: quarantined alone with this reason
    )

    @classmethod
    def from_record(
        cls, record: dict[str, Any], messages: list[tuple[str, Any]], meta: dict[str, Any], **fields: Any
    ) -> Draft:
        """A draft with the usual top-level fields of a JSON record; `fields` override any of them."""
        common = {
            "id": as_text(record.get("id")),
            "source": as_text(record.get("source")),
            "model": as_text(record.get("model")),
            "timestamp": as_timestamp(record.get("timestamp")),
            "user_id": as_text(record.get("user_id")),
            "context": as_text(record.get("context")),
        }
        return cls(messages=messages, meta=meta, **{**common, **fields})


# Source spellings of roles -> our three roles.
ROLE_ALIASES: dict[str, str] = {
    "user": "user",
    "human": "user",
    "prompter": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "ai": "assistant",
    "bot": "assistant",
    "claude": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",  # OpenAI's legacy function-result role
    "ipython": "tool",  # Llama 3's tool-output role
    "observation": "tool",  # ShareGPT tool datasets (glaive, ToolACE)
}


def as_text(value: Any) -> str | None:
    """Optional scalar field as text (ids and labels are sometimes numbers)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    raise RecordError(f"expected text, got {type(value).__name__}")


def as_timestamp(value: Any) -> str | None:
    """ISO 8601 text; unix seconds (OpenAI's `created`) and datetimes are converted."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):  # beyond year 9999, before year 1, NaN
            raise RecordError(f"timestamp {repr(value)[:40]} is not a date (unix seconds out of range)") from None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def blocks_text(content: Any, where: str) -> tuple[str | None, int]:
    """Text of a message content: a string, or a list of parts/blocks with a text field.

    Returns (text, number of non-text parts skipped). ``None`` text means the
    content had no text at all (e.g. only an image or a tool call).
    """
    if content is None:
        return None, 0
    if isinstance(content, str):
        return content, 0
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        raise RecordError(f"{where}: content must be text or a list of parts, got {type(content).__name__}")
    texts, skipped = [], 0
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") in ("text", "input_text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise RecordError(f"{where}: text part without a 'text' string")
            texts.append(text)
        elif isinstance(part, dict):
            skipped += 1
        else:
            raise RecordError(f"{where}: content part must be an object, got {type(part).__name__}")
    if not texts:
        return None, skipped
    return "\n".join(texts), skipped


USER_ID_KEYS = ("user_id", "user", "userid", "user_hash", "customer_id")  # JSON keys whose value is a raw user id
_ID_VALUE = r'("(?:[^"\\]|\\.)*(?:"|$)|-?[0-9][0-9.eE+-]*)'  # a string (maybe cut off at the end) or a number


@functools.lru_cache(maxsize=64)
def _id_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join(re.escape(k) for k in sorted(set(keys), key=len, reverse=True))
    return re.compile(rf'("(?:{names})"\s*:\s*){_ID_VALUE}', re.IGNORECASE)


def quarantine_text(text: str, extra_keys: tuple[str, ...] = ()) -> str:
    """Text of a record that failed, fit for quarantine.jsonl: raw user ids masked, valid UTF-8.

    Works on text, not on a parsed record, because the record may not parse
    (bad JSON, cut off): every ``"user_id": ...`` (and the other
    USER_ID_KEYS, plus ``extra_keys``, e.g. a CSV's mapped user column) at any
    depth becomes ``"[USER_ID]"``. Lone surrogates become ``?``.
    """
    text = _id_pattern(USER_ID_KEYS + tuple(extra_keys)).sub(r'\1"[USER_ID]"', text)
    return text.encode("utf-8", "replace").decode("utf-8")
