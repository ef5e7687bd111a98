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
    include_thinking: bool = False,
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
        if include_thinking and t.thinking and (content is None or isinstance(content, str)):
            content = f"[thinking]\n{t.thinking}\n[/thinking]" + (f"\n\n{content}" if content else "")
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
        messages.append(
            Message(
                role=norm,
                content=content or "",
                tool_calls=calls,  # type: ignore[arg-type]
                name=t.name,
                tool_call_id=t.tool_call_id,
            )
        )
    if not any(m.role == "assistant" for m in messages):
        raise RecordError("no assistant turn")
    if not any(m.role == "assistant" and m.content.strip() for m in messages):
        raise RecordError("no assistant text (its turns only call tools)")
    conv_id = draft.id if draft.id not in (None, "") else fallback_id
    if draft.id in (None, "") and draft.suffix:
        conv_id = f"{fallback_id}:{draft.suffix}"
    conv = Conversation(
        id=conv_id,
        messages=messages,
        source=draft.source or source,
        model=draft.model or None,
        timestamp=draft.timestamp,
        user_id=_hashed(draft.user_id, hash_user),
        context=draft.context or None,
        meta=draft.meta,
    )
    return storable(conv)


def _hashed(user_id: str | None, hash_user: Callable[[str], str]) -> str | None:
    if user_id in (None, ""):
        return None
    try:
        return hash_user(user_id)
    except UnicodeEncodeError:
        raise RecordError(f"user id is {_NOT_UNICODE}") from None


_NOT_UNICODE = "not valid Unicode (it holds a lone surrogate such as \\ud800)"


def storable(conv: Conversation) -> Conversation:
    """The conversation, if every later stage can write it; else a RecordError saying why.

    JSON may spell text no encoder accepts (a lone surrogate, ``"\\ud800"``) and
    nest ``meta`` deeper than serializers go; either would fail a whole chunk
    when its table is written, so the one record is refused here instead.
    """
    try:
        conv.model_dump_json()
    except ValueError as exc:  # pydantic's PydanticSerializationError
        text = str(exc)
        if "surrogates not allowed" in text:
            raise RecordError(f"text is {_NOT_UNICODE}") from None
        if "depth" in text:
            raise RecordError("meta is nested too deeply to store (over ~250 levels)") from None
        raise RecordError(f"cannot be stored: {text.splitlines()[0]}") from None
    return conv
