"""Messages as tracing tools log them: shared by the LangSmith, Langfuse and OpenTelemetry readers.

Tracers store a model call's input and output as whatever the instrumented
library passed, so one reader meets several shapes:

* OpenAI-style ``{"role", "content", "tool_calls"}`` dicts (:func:`.openai.chat_message`);
* LangChain messages, serialised (``{"lc": 1, "type": "constructor", "id": [..., "HumanMessage"],
  "kwargs": {"content", "tool_calls"}}``), dumped (``{"type": "human", "content"}``) or
  stored (``{"type": "human", "data": {"content"}}``); ``tool_calls`` there are
  ``{"name", "args", "id"}`` (langchain_core.messages.tool.ToolCall);
* a bare string (a prompt, or a completion's text).

Outputs may also be a chat completion (``choices``), LangChain ``generations``
(``[[{"text", "message"}]]``) or ``{"output": ...}``.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import RecordError, Turn, tool_call
from valuescope.ingest.openai import chat_message, completion_turn

LC_ROLES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "HumanMessage": "user",
    "AIMessage": "assistant",
    "SystemMessage": "system",
    "ToolMessage": "tool",
    "FunctionMessage": "tool",
    "AIMessageChunk": "assistant",
    "HumanMessageChunk": "user",
    "ChatMessage": None,
}


def _langchain(m: dict[str, Any], where: str) -> tuple[str, Any] | Turn | None:
    """A LangChain message in any of its dumped forms, or None when ``m`` is not one."""
    if m.get("lc") == 1 and isinstance(m.get("id"), list) and isinstance(m.get("kwargs"), dict):
        kind, body = m["id"][-1], m["kwargs"]
    elif isinstance(m.get("type"), str) and m["type"] in LC_ROLES and "role" not in m:
        kind, body = m["type"], m.get("data") if isinstance(m.get("data"), dict) else m
    else:
        return None
    role = LC_ROLES.get(kind) or body.get("role")
    if role is None:
        raise RecordError(f"{where}: LangChain message of unknown kind {kind!r}")
    calls = [
        tool_call(c.get("name"), c.get("args"), c.get("id"))
        for c in body.get("tool_calls") or []
        if isinstance(c, dict)
    ]
    turn, _ = chat_message({"role": role, "content": body.get("content")}, where)
    if calls or role == "tool":
        text = turn.content if isinstance(turn, Turn) else turn[1]
        return Turn(
            role, text, calls, name=body.get("name") if role == "tool" else None, tool_call_id=body.get("tool_call_id")
        )
    return turn


def message_list(value: Any, where: str, default_role: str = "user") -> list[tuple[str, Any] | Turn]:
    """Turns from a logged input: a list of messages (possibly nested one level), a dict with them, or text."""
    if value is None:
        return []
    if isinstance(value, str):
        return [(default_role, value)]
    if isinstance(value, dict):
        for key in ("messages", "input", "prompt", "prompts", "question", "query"):
            if key in value:
                return message_list(value[key], where, default_role)
        one = message(value, where)
        return [one] if one is not None else []
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], list):  # LangChain batches: [[messages]]
            value = value[0]
        out = []
        for i, m in enumerate(value, 1):
            if isinstance(m, str):
                out.append((default_role, m))
                continue
            one = message(m, f"{where} message {i}") if isinstance(m, dict) else None
            if one is None:
                raise RecordError(f"{where} message {i}: not a chat message")
            out.append(one)
        return out
    raise RecordError(f"{where}: expected messages or text, got {type(value).__name__}")


def message(m: dict[str, Any], where: str) -> tuple[str, Any] | Turn | None:
    lc = _langchain(m, where)
    if lc is not None:
        return lc
    if "role" in m:
        return chat_message(m, where)[0]
    return None


def output_turns(value: Any, where: str) -> list[tuple[str, Any] | Turn]:
    """The answer of a logged model call, as assistant turn(s)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [("assistant", value)]
    if isinstance(value, dict):
        if "choices" in value:
            return [completion_turn(value, where)[0]]
        if isinstance(value.get("generations"), list):
            gens = value["generations"]
            first = gens[0][0] if gens and isinstance(gens[0], list) and gens[0] else gens[0] if gens else None
            if not isinstance(first, dict):
                raise RecordError(f"{where}: empty 'generations'")
            if isinstance(first.get("message"), dict):
                return output_turns(first["message"], where)
            return [("assistant", first.get("text"))]
        for key in ("output", "messages", "completion", "text", "content"):
            if key in value and "role" not in value and "lc" not in value:
                return output_turns(value[key], where)
        one = message(
            {"role": "assistant", **value}
            if "content" in value and "role" not in value and "lc" not in value and "type" not in value
            else value,
            where,
        )
        if one is None:
            raise RecordError(f"{where}: output is not a message")
        return [one]
    if isinstance(value, list):
        return message_list(value, where, default_role="assistant")
    raise RecordError(f"{where}: expected a message or text, got {type(value).__name__}")
