"""One set of rules turning a reader's Draft into a Conversation, or a quarantine reason."""

from __future__ import annotations

from collections.abc import Callable

from valuescope.ingest.draft import ROLE_ALIASES, Draft, RecordError, turn_parts
from valuescope.records import Conversation, Message, ToolCall


def to_conversation(
    draft: Draft,
    fallback_id: str,
    source: str,
    hash_user: Callable[[str], str],
) -> Conversation:
    """Validate and normalise; raise RecordError with a human-readable reason."""
    if draft.error:
        raise RecordError(draft.error)
    if not draft.messages:
        raise RecordError("no messages")
    messages: list[Message] = []
    for i, turn in enumerate(draft.messages, 1):
        t = turn_parts(turn)
        role, content = t.role, t.content
        if not isinstance(role, str) or role.strip().lower() not in ROLE_ALIASES:
            raise RecordError(f"unknown role {role!r} in message {i} (expected user, assistant, system or tool)")
        norm = ROLE_ALIASES[role.strip().lower()]
        if content is not None and not isinstance(content, str):
            raise RecordError(f"message {i}: content must be text, got {type(content).__name__}")
        blank = content is None or not content.strip()
        # A turn that only calls a tool is not empty, and a tool may return nothing.
        if blank and not (norm == "tool" or (norm == "assistant" and t.tool_calls)):
            raise RecordError(f"empty {norm} turn (message {i})")
        calls = [ToolCall(**c) for c in t.tool_calls]
        messages.append(Message(role=norm, content=content or "", tool_calls=calls,  # type: ignore[arg-type]
                                name=t.name, tool_call_id=t.tool_call_id))
    if not any(m.role == "assistant" for m in messages):
        raise RecordError("no assistant turn")
    if not any(m.role == "assistant" and m.content.strip() for m in messages):
        raise RecordError("no assistant text (its turns only call tools)")
    conv_id = draft.id if draft.id not in (None, "") else fallback_id
    if draft.id in (None, "") and draft.suffix:
        conv_id = f"{fallback_id}:{draft.suffix}"
    return Conversation(
        id=conv_id,
        messages=messages,
        source=draft.source or source,
        model=draft.model or None,
        timestamp=draft.timestamp,
        user_id=hash_user(draft.user_id) if draft.user_id not in (None, "") else None,
        context=draft.context or None,
        meta=draft.meta,
    )
