"""OpenAI chat logs: ``{"messages": [...]}``, optionally with the completion that answered them.

Field names follow the ``openai`` SDK's types (``openai.types.chat``):

* a message is ``{"role", "content": str | [{"type": "text", "text"}] | null}``;
  non-text parts (images, audio) are skipped and counted in ``meta``;
* assistant ``tool_calls: [{"id", "type": "function", "function": {"name", "arguments"}}]``
  (and the legacy ``function_call: {"name", "arguments"}``) become tool calls, so
  a turn that only calls a tool is not empty; ``refusal`` is the text of a refusal;
* ``{"role": "tool", "tool_call_id", "content"}`` and ``{"role": "function", "name"}``
  are tool turns;
* a chat-completions log: the request's ``messages`` with the response's
  ``choices[0].message`` appended — flat (``{"messages", "choices", ...}``),
  nested (``{"messages", "response": {"choices"}}``) or ``{"request": {...}, "response": {...}}``.

The API's ``user`` field (or ``user_id``) is the raw user id; ``created``
(unix seconds) becomes the timestamp. Other top-level fields are kept in ``meta``.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import (
    Draft,
    RecordError,
    Turn,
    as_text,
    as_timestamp,
    blocks_text,
    tool_call,
)

NAME = "openai"
_KNOWN = {
    "messages",
    "id",
    "model",
    "user",
    "user_id",
    "created",
    "timestamp",
    "context",
    "source",
    "choices",
    "response",
    "request",
}


def sniff(record: dict[str, Any]) -> bool:
    request = record.get("request")
    return isinstance(record.get("messages"), list) or (
        isinstance(request, dict) and isinstance(request.get("messages"), list)
    )


def _calls(m: dict[str, Any], where: str) -> list[dict[str, Any]]:
    calls = []
    raw = m.get("tool_calls") or []
    if not isinstance(raw, list):
        raise RecordError(f"{where}: 'tool_calls' must be a list")
    for c in raw:
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict):
            raise RecordError(f"{where}: tool call without a 'function' object")
        calls.append(tool_call(fn.get("name"), fn.get("arguments"), c.get("id")))
    legacy = m.get("function_call")
    if isinstance(legacy, dict):
        calls.append(tool_call(legacy.get("name"), legacy.get("arguments")))
    return calls


def chat_messages(
    msgs: Any, role_key: str = "role", content_key: str = "content"
) -> tuple[list[tuple[str, Any] | Turn], int]:
    """Parse a list of chat messages; returns turns and the number of skipped non-text parts."""
    if not isinstance(msgs, list):
        raise RecordError("'messages' must be a list")
    out: list[tuple[str, Any] | Turn] = []
    skipped = 0
    for i, m in enumerate(msgs, 1):
        if not isinstance(m, dict):
            raise RecordError(f"message {i} is not an object")
        if role_key not in m:
            raise RecordError(f"message {i} has no {role_key!r}")
        turn, n = chat_message(m, f"message {i}", role_key, content_key)
        out.append(turn)
        skipped += n
    return out, skipped


def chat_message(
    m: dict[str, Any], where: str, role_key: str = "role", content_key: str = "content"
) -> tuple[tuple[str, Any] | Turn, int]:
    """One message as a turn (a Turn when it carries tool data) and its skipped non-text parts."""
    text, skipped = blocks_text(m.get(content_key), where)
    if text is None and isinstance(m.get("refusal"), str):
        text = m["refusal"]
    calls = _calls(m, where)
    role = m[role_key]
    is_tool = isinstance(role, str) and role.lower() in ("tool", "function")
    if not calls and not is_tool:
        return (role, text), skipped
    name = as_text(m.get("name")) if is_tool else None
    return Turn(role, text, calls, name=name, tool_call_id=as_text(m.get("tool_call_id"))), skipped


def completion_turn(response: Any, where: str = "response") -> tuple[Turn | tuple[str, Any], int, dict[str, Any]]:
    """The first choice's message of a ChatCompletion object, its skipped parts, and meta about it."""
    if not isinstance(response, dict):
        raise RecordError(f"'{where}' must be a chat completion object")
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        raise RecordError(f"'{where}' has no 'choices'")
    first = choices[0]
    if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
        raise RecordError(f"{where}: choices[0] has no 'message'")
    message = {"role": "assistant", **first["message"]}
    turn, skipped = chat_message(message, f"{where} choices[0].message")
    meta: dict[str, Any] = {}
    if first.get("finish_reason"):
        meta["finish_reason"] = first["finish_reason"]
    if len(choices) > 1:
        meta["choices"] = len(choices)  # only the first is judged
    return turn, skipped, meta


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    request = record.get("request") if isinstance(record.get("request"), dict) else record
    if "messages" not in request:
        raise RecordError("missing 'messages'")
    messages, skipped = chat_messages(request["messages"])
    response = record.get("response") if isinstance(record.get("response"), dict) else None
    completion = response if response is not None else record if "choices" in record else None
    meta = {k: v for k, v in record.items() if k not in _KNOWN}
    if isinstance(meta.get("metadata"), dict):
        meta["metadata"] = {k: v for k, v in meta["metadata"].items() if k != "user_id"}
    if completion is not None:
        turn, n, extra = completion_turn(completion)
        messages.append(turn)
        skipped += n
        meta.update(extra)
    if skipped:
        meta["non_text_parts"] = skipped
    completion = completion or {}
    return [
        Draft.from_record(
            record,
            messages,
            meta,
            id=as_text(record.get("id") or completion.get("id")),
            model=as_text(record.get("model") or request.get("model") or completion.get("model")),
            timestamp=as_timestamp(record.get("timestamp", record.get("created", completion.get("created")))),
            user_id=as_text(record.get("user") or record.get("user_id") or request.get("user")),
        )
    ]
