"""Google AI Studio prompts (Gemini chats saved to Drive): ``{"runSettings", "systemInstruction", "chunkedPrompt"}``.

Field names as in the AI Studio files (checked against the synthetic sample
shipped by ``chat-history`` 0.3.3, tests/ingest/fixtures/NOTICE):
``chunkedPrompt.chunks: [{"role": "user" | "model", "text", "parts": [{"text",
"thought"}], "isThought", "finishReason"}]``, ``systemInstruction.parts[].text``,
``runSettings.model`` (``models/gemini-2.5-pro``), and ``id`` / ``title`` /
``create_time`` when an exporter added them. Parts marked ``thought`` (and
chunks marked ``isThought``) are reasoning: left out of the judged text and
counted in ``meta.thinking_blocks``. Gemini API ``functionCall`` /
``functionResponse`` parts are tool calls and tool turns. Inline images,
audio and Drive documents are counted in ``meta.non_text_parts``.
(Google Takeout's "Gemini Apps" activity is an HTML/JSON activity log without
the model's answers as turns; it is not read.)
"""

from __future__ import annotations

import json
from typing import Any

from valuescope.ingest.draft import Draft, RecordError, Turn, as_text, as_timestamp, tool_call

NAME = "gemini"
ASSET_KEYS = ("inlineImage", "inlineAudio", "inlineData", "driveDocument", "driveImage", "youtubeVideo")


def sniff(record: dict[str, Any]) -> bool:
    return isinstance(record.get("chunkedPrompt"), dict)


def _chunk_turns(chunk: dict[str, Any], where: str, counts: dict[str, int]) -> list[Any]:
    role = chunk.get("role")
    if role is None:
        raise RecordError(f"{where}: chunk without a 'role'")
    counts["skipped"] += sum(1 for k in ASSET_KEYS if k in chunk)
    if chunk.get("isThought"):
        counts["thinking"] += 1
        return []
    parts = chunk.get("parts")
    if not isinstance(parts, list):
        parts = [{"text": chunk.get("text")}] if isinstance(chunk.get("text"), str) else []
    texts, calls, out, thoughts = [], [], [], []
    for p in parts:
        if not isinstance(p, dict):
            continue
        if p.get("thought"):
            counts["thinking"] += 1
            if isinstance(p.get("text"), str):
                thoughts.append(p["text"])
        elif isinstance(p.get("text"), str):
            texts.append(p["text"])
        elif isinstance(p.get("functionCall"), dict):
            calls.append(tool_call(p["functionCall"].get("name"), p["functionCall"].get("args")))
        elif isinstance(p.get("functionResponse"), dict):
            fr = p["functionResponse"]
            out.append(Turn("tool", json.dumps(fr.get("response"), ensure_ascii=False), name=as_text(fr.get("name"))))
        else:
            counts["skipped"] += 1
    if texts or calls or thoughts:
        out.insert(0, Turn(role, "\n".join(texts) if texts else None, calls, thinking="\n".join(thoughts) or None))
    return out or [(role, None)]


def parse(record: Any) -> list[Draft]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    chunks = (record.get("chunkedPrompt") or {}).get("chunks")
    if not isinstance(chunks, list):
        raise RecordError("missing 'chunkedPrompt.chunks' list")
    counts = {"skipped": 0, "thinking": 0}
    turns: list[Any] = []
    system = record.get("systemInstruction")
    if isinstance(system, dict):
        text = "\n".join(
            p["text"] for p in system.get("parts") or [] if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
        if text.strip():
            turns.append(("system", text))
    for i, chunk in enumerate(chunks, 1):
        if not isinstance(chunk, dict):
            raise RecordError(f"chunk {i} is not an object")
        turns += _chunk_turns(chunk, f"chunk {i}", counts)
    settings = record.get("runSettings") if isinstance(record.get("runSettings"), dict) else {}
    model = as_text(settings.get("model"))
    meta: dict[str, Any] = {k: record[k] for k in ("title", "update_time") if record.get(k) is not None}
    if counts["thinking"]:
        meta["thinking_blocks"] = counts["thinking"]
    if counts["skipped"]:
        meta["non_text_parts"] = counts["skipped"]
    return [
        Draft(
            messages=turns,
            id=as_text(record.get("id")),
            model=model.removeprefix("models/") if model else None,
            timestamp=as_timestamp(record.get("create_time")),
            meta=meta,
        )
    ]
