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
