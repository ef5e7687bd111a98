"""One set of rules turning a reader's Draft into a Conversation, or a quarantine reason."""

from __future__ import annotations

from collections.abc import Callable

from valuescope.ingest.draft import ROLE_ALIASES, Draft, RecordError
from valuescope.records import Conversation, Message



def to_conversation(
    draft: Draft,
    fallback_id: str,
    source: str,
    hash_user: Callable[[str], str],
) -> Conversation:
    """Validate and normalise; raise RecordError with a human-readable reason."""
    if not draft.messages:
        raise RecordError("no messages")
    messages: list[Message] = []
    for i, (role, content) in enumerate(draft.messages, 1):
        if not isinstance(role, str) or role.strip().lower() not in ROLE_ALIASES:
            raise RecordError(f"unknown role {role!r} in message {i} (expected user, assistant or system)")
        norm = ROLE_ALIASES[role.strip().lower()]
        if content is None or (isinstance(content, str) and not content.strip()):
            raise RecordError(f"empty {norm} turn (message {i})")
        if not isinstance(content, str):
            raise RecordError(f"message {i}: content must be text, got {type(content).__name__}")
        messages.append(Message(role=norm, content=content))  # type: ignore[arg-type]
    if not any(m.role == "assistant" for m in messages):
        raise RecordError("no assistant turn")
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
