"""Anthropic Messages API logs: a request body, optionally with the response.

``{"model", "system": str | [blocks], "messages": [{"role", "content": str | [blocks]}],
"metadata": {"user_id"}, "response": {"id", "role": "assistant", "content": [blocks], "model",
"stop_reason"}}``, or the same as ``{"request": {...}, "response": {...}}``. Block
types follow the ``anthropic`` SDK (``anthropic.types``): ``text``; ``tool_use``
/ ``server_tool_use`` (``id``, ``name``, ``input``) become tool calls on the
assistant turn; ``tool_result`` (``tool_use_id``, ``content``, ``is_error``) and
``web_search_tool_result`` become ``tool`` turns, so a user turn holding only
tool results is a tool turn, not an empty user turn. ``thinking`` and
``redacted_thinking`` are kept out of the judged text (counted in
``meta.thinking_blocks``); images and documents are skipped and counted in
``meta.non_text_parts``. ``system`` becomes a leading system message.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError, Turn, as_text, as_timestamp, blocks_text, tool_call

NAME = "anthropic"
_BLOCK_TYPES = {"tool_use", "tool_result", "thinking", "redacted_thinking", "document"}
_KNOWN = {"messages", "system", "id", "model", "metadata", "response", "request", "timestamp", "context", "source"}
CALL_BLOCKS = ("tool_use", "server_tool_use")
RESULT_BLOCKS = ("tool_result", "web_search_tool_result", "code_execution_tool_result")
THINKING_BLOCKS = ("thinking", "redacted_thinking")


def _body(record: dict[str, Any]) -> dict[str, Any]:
    request = record.get("request")
    return request if isinstance(request, dict) else record


def sniff(record: dict[str, Any]) -> bool:
    body = _body(record)
    msgs = body.get("messages")
    if not isinstance(msgs, list):
        return False
    response = record.get("response")
    if isinstance(response, dict):
        return "choices" not in response and isinstance(response.get("content"), list)
    if "system" in body or isinstance(body.get("metadata"), dict) and "user_id" in body["metadata"]:
        return True
    for m in msgs:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") in _BLOCK_TYPES for b in content):
            return True
    return False


class BlockCounts:
    """What block parsing left out of the judged text."""

    def __init__(self) -> None:
        self.skipped = 0
        self.thinking = 0


def _result_text(block: dict[str, Any], where: str) -> str:
    content = block.get("content")
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "web_search_result" for b in content):
        return "\n".join(f"{b.get('title', '')} {b.get('url', '')}".strip() for b in content if isinstance(b, dict))
    text, _ = blocks_text(content, where) if content is not None else (None, 0)
    if text is None and isinstance(block.get("message"), str):  # claude.ai exports: a status line, no content
        text = block["message"]
    return text or ""


def block_turns(role: Any, content: Any, where: str, counts: BlockCounts) -> list[tuple[str, Any] | Turn]:
    """One message's content blocks as turns, in order: text and tool calls stay on the speaker's turn;
    each tool result becomes a ``tool`` turn of its own (splitting the speaker's turn around it)."""
    if content is None or isinstance(content, str):
        return [(role, content)]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        raise RecordError(f"{where}: content must be text or a list of blocks, got {type(content).__name__}")
    out: list[tuple[str, Any] | Turn] = []
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thoughts: list[str] = []

    def flush() -> None:
        thinking = "\n".join(thoughts) or None
        earlier = [t for t in out if isinstance(t, Turn) and t.role == role]
        if texts or calls or (thinking and not earlier):
            out.append(Turn(role, "\n".join(texts) if texts else None, list(calls), thinking=thinking))
        elif thinking:  # reasoning after the turn's last words: it belongs to that turn, not a new empty one
            earlier[-1].thinking = "\n".join(filter(None, (earlier[-1].thinking, thinking)))
        texts.clear()
        calls.clear()
        thoughts.clear()

    for block in content:
        if isinstance(block, str):
            texts.append(block)
            continue
        if not isinstance(block, dict):
            raise RecordError(f"{where}: content block must be an object, got {type(block).__name__}")
        kind = block.get("type", "text")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise RecordError(f"{where}: text block without a 'text' string")
            if block["text"]:
                texts.append(block["text"])
        elif kind in CALL_BLOCKS:
            calls.append(tool_call(block.get("name"), block.get("input"), block.get("id")))
        elif kind in RESULT_BLOCKS:
            flush()
            out.append(
                Turn(
                    "tool",
                    _result_text(block, where),
                    name=as_text(block.get("name")),
                    tool_call_id=as_text(block.get("tool_use_id")),
                )
            )
        elif kind in THINKING_BLOCKS:
            counts.thinking += 1
            if isinstance(block.get("thinking"), str) and block["thinking"].strip():
                thoughts.append(block["thinking"])  # redacted_thinking has no readable text
        else:
            counts.skipped += 1
    flush()
    return out or [(role, None)]  # nothing readable: validation names the empty turn


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    body = _body(record)
    msgs = body.get("messages")
    if msgs is None:
        raise RecordError("missing 'messages'")
    if not isinstance(msgs, list):
        raise RecordError("'messages' must be a list")
    counts = BlockCounts()
    messages: list[tuple[str, Any] | Turn] = []
    for i, m in enumerate(msgs, 1):
        if not isinstance(m, dict):
            raise RecordError(f"message {i} is not an object")
        if "role" not in m:
            raise RecordError(f"message {i} has no 'role'")
        messages += block_turns(m["role"], m.get("content"), f"message {i}", counts)
    if body.get("system"):
        system, n = blocks_text(body["system"], "system")
        counts.skipped += n
        messages.insert(0, ("system", system))
    response = record.get("response")
    if response is not None:
        if not isinstance(response, dict):
            raise RecordError("'response' must be a Messages API message object")
        messages += block_turns(response.get("role", "assistant"), response.get("content"), "response", counts)
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    meta = {k: v for k, v in record.items() if k not in _KNOWN}
    extra_meta = {k: v for k, v in metadata.items() if k != "user_id"}
    if extra_meta:
        meta["metadata"] = extra_meta
    if isinstance(response, dict) and response.get("stop_reason"):
        meta["stop_reason"] = response["stop_reason"]
    if counts.skipped:
        meta["non_text_parts"] = counts.skipped
    if counts.thinking:
        meta["thinking_blocks"] = counts.thinking
    response = response or {}
    return [
        Draft(
            messages=messages,
            id=as_text(record.get("id") or response.get("id")),
            source=as_text(record.get("source")),
            model=as_text(body.get("model") or response.get("model")),
            timestamp=as_timestamp(record.get("timestamp")),
            user_id=as_text(metadata.get("user_id")),
            context=as_text(record.get("context")),
            meta=meta,
        )
    ]
