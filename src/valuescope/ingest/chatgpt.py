"""ChatGPT data export: ``conversations.json`` (or shards ``conversations-000.json``, ...).

The file is one JSON array of conversations (read element by element, see
:mod:`.jsonarray`). Field names as in the export (checked against the
synthetic exports shipped by ``logactyl`` 0.1.5 and ``chat-history`` 0.3.3,
tests/ingest/fixtures/NOTICE):

``{"id" | "conversation_id", "title", "create_time", "update_time",
"current_node", "default_model_slug", "mapping": {node_id: {"id", "parent",
"children": [...], "message": null | {"id", "author": {"role", "name"},
"content": {"content_type", "parts" | "text" | ...}, "create_time",
"recipient", "metadata": {"model_slug", "is_visually_hidden_from_conversation"}}}}}``

The conversation as shown is the path from ``current_node`` up to the root;
other branches (edits, regenerations) are counted in ``meta.branches`` and
``meta.nodes_off_path``, not read. Hidden turns (the empty system prompt,
custom instructions — ``user_editable_context`` —, memory) and reasoning
(``thoughts``, ``reasoning_recap``) are left out of the judged text and
counted in ``meta.hidden_turns`` / ``meta.thinking_blocks``. An assistant
message addressed to a tool (``recipient`` not ``all``) is a tool call; a
``tool`` author's message is a tool turn named ``author.name``. Images and
other assets are skipped and counted in ``meta.non_text_parts``; a user turn
holding only assets reads ``[image]`` (or ``[file]``) so its place is kept.
"""

from __future__ import annotations

from typing import Any

from valuescope.ingest.draft import Draft, RecordError, Turn, as_text, as_timestamp, tool_call

NAME = "chatgpt"
HIDDEN_TYPES = {"user_editable_context", "model_editable_context", "system_error"}
THINKING_TYPES = {"thoughts", "reasoning_recap"}
_META_KEYS = ("title", "update_time", "gizmo_id", "is_archived", "conversation_template_id")


def sniff(record: dict[str, Any]) -> bool:
    return isinstance(record.get("mapping"), dict) and "current_node" in record


class _Counts:
    def __init__(self) -> None:
        self.hidden = self.thinking = self.skipped = 0
        self.thoughts: list[str] = []  # reasoning text waiting for the assistant turn it precedes


def _path(mapping: dict[str, Any], current: Any) -> list[dict[str, Any]]:
    """Nodes from the root to ``current`` (or to the latest leaf when ``current_node`` is missing)."""
    if current not in mapping:
        if current is not None:
            raise RecordError(f"current_node {current!r} is not in 'mapping'")
        leaves = [k for k, n in mapping.items() if isinstance(n, dict) and not n.get("children")]
        if not leaves:
            raise RecordError("'mapping' has no leaf node")
        current = max(leaves, key=lambda k: (mapping[k].get("message") or {}).get("create_time") or 0)
    path, seen, node_id = [], set(), current
    while node_id is not None:
        if node_id in seen:
            raise RecordError(f"'mapping' has a cycle at node {node_id!r}")
        seen.add(node_id)
        node = mapping.get(node_id)
        if not isinstance(node, dict):
            raise RecordError(f"node {node_id!r} (a parent on the current path) is not in 'mapping'")
        path.append(node)
        node_id = node.get("parent")
    return path[::-1]


def _part_text(part: Any, counts: _Counts) -> str | None:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and isinstance(part.get("text"), str):  # audio_transcription and the like
        return part["text"]
    counts.skipped += 1
    return None


def _text(content: dict[str, Any], counts: _Counts) -> tuple[str | None, str | None]:
    """(text, placeholder) of a message's content; the placeholder names assets when there is no text."""
    kind = content.get("content_type")
    if isinstance(content.get("parts"), list):
        texts = [t for t in (_part_text(p, counts) for p in content["parts"]) if t]
        assets = [p for p in content["parts"] if isinstance(p, dict) and "asset_pointer" in p]
        return ("\n".join(texts) if texts else None), ("[image]" if assets else None)
    for key in ("text", "result"):  # code, execution_output, tether_quote, tether_browsing_display
        if isinstance(content.get(key), str):
            return content[key], None
    counts.skipped += 1
    return None, f"[{kind}]" if kind else None


def _turn(message: dict[str, Any], where: str, counts: _Counts) -> Turn | None:
    author = message.get("author")
    if not isinstance(author, dict) or "role" not in author:
        raise RecordError(f"{where}: message without 'author.role'")
    content = message.get("content")
    if not isinstance(content, dict):
        raise RecordError(f"{where}: 'content' must be an object")
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    kind = content.get("content_type")
    role = author["role"]
    if kind in THINKING_TYPES:
        counts.thinking += 1
        if kind == "thoughts":  # reasoning_recap is only "Thought for 5s"
            counts.thoughts += [
                t["content"]
                for t in content.get("thoughts") or []
                if isinstance(t, dict) and isinstance(t.get("content"), str)
            ]
        return None
    if kind in HIDDEN_TYPES or metadata.get("is_visually_hidden_from_conversation"):
        counts.hidden += 1
        return None
    text, placeholder = _text(content, counts)
    if role == "system" and not (text or "").strip():
        counts.hidden += 1
        return None
    recipient = message.get("recipient")
    if role == "assistant" and recipient not in (None, "all"):
        return Turn("assistant", None, [tool_call(recipient, text, message.get("id"))])
    if role == "tool":
        return Turn("tool", text or placeholder or "", name=as_text(author.get("name")))
    return Turn(role, text if text is not None else placeholder)


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    mapping = record.get("mapping")
    if not isinstance(mapping, dict):
        raise RecordError("missing 'mapping' object")
    counts = _Counts()
    turns, model = [], None
    path = _path(mapping, record.get("current_node"))
    for node in path:
        message = node.get("message")
        if message is None:
            continue
        if not isinstance(message, dict):
            raise RecordError(f"node {node.get('id')!r}: 'message' must be an object")
        turn = _turn(message, f"node {node.get('id')!r}", counts)
        if turn is None:
            continue
        if turn.role == "assistant" and counts.thoughts:
            turn.thinking, counts.thoughts = "\n".join(counts.thoughts), []
        turns.append(turn)
        slug = (message.get("metadata") or {}).get("model_slug")
        if turn.role == "assistant" and slug:
            model = slug
    leaves = sum(1 for n in mapping.values() if isinstance(n, dict) and not n.get("children"))
    meta: dict[str, Any] = {k: record[k] for k in _META_KEYS if record.get(k) is not None}
    if leaves > 1:
        meta["branches"] = leaves
        meta["nodes_off_path"] = len(mapping) - len(path)
    for key, n in (
        ("hidden_turns", counts.hidden),
        ("thinking_blocks", counts.thinking),
        ("non_text_parts", counts.skipped),
    ):
        if n:
            meta[key] = n
    return [
        Draft(
            messages=turns,
            id=as_text(record.get("conversation_id") or record.get("id")),
            model=as_text(model or record.get("default_model_slug")),
            timestamp=as_timestamp(record.get("create_time")),
            meta=meta,
        )
    ]
