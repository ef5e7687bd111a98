"""Deliberate truncation of long conversations so no request exceeds the model's context.

Policy (docs/extractor-llm.md): the budget is ``max_input_tokens`` minus the
prompt, counted as characters / 4. When the transcript does not fit we keep,
in order of priority,

1. the first user message (it states the task),
2. the last two messages (the final exchange shows how the assistant answered),
3. as many of the messages just before them as fit, newest first,

and mark each gap with ``[... N messages omitted ...]``. A single message that
alone exceeds its share keeps its head and tail with
``[... N characters omitted ...]`` between. Nothing ever fails for length.
"""

from __future__ import annotations

import math
import re

from valuescope.records import Conversation

CHARS_PER_TOKEN = 4
_MARKER = re.compile(r"<(/?)conversation", re.I)


def estimate_tokens(text: str) -> int:
    """Cheap provider-independent estimate (no tokenizer download)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def clip(text: str, limit: int) -> str:
    """Head and tail of ``text`` within ``limit`` characters, with a visible gap marker."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 20)
    head, tail = keep * 2 // 3, keep // 3
    return f"{text[:head]}\n[... {len(text) - head - tail} characters omitted ...]\n{text[-tail:]}"


def _fmt(role: str, content: str) -> str:
    safe = _MARKER.sub(r"[\1conversation", content)
    return f"[{role}]\n{safe}"


def render_transcript(conv: Conversation, budget_chars: int) -> tuple[str, bool]:
    """The transcript within ``budget_chars``; returns (text, truncated?)."""
    msgs = [
        _fmt(f"tool result: {m.name}" if m.role == "tool" and m.name else m.role, m.display_text())
        for m in conv.messages
    ]
    full = "\n\n".join(msgs)
    if len(full) <= budget_chars:
        return full, False
    n = len(msgs)
    # every kept message may use at most a fair share of the budget
    per_msg = max(budget_chars // min(n, 3), 200)
    first = 0
    last = [i for i in range(max(n - 2, 1), n)]
    chosen = {first, *last}
    used = sum(len(clip(msgs[i], per_msg)) for i in chosen)
    for i in range(n - 3, 0, -1):
        cost = len(clip(msgs[i], per_msg)) + 2
        if used + cost > budget_chars:
            break
        chosen.add(i)
        used += cost
    parts: list[str] = []
    prev = -1
    for i in sorted(chosen):
        if i - prev > 1:
            parts.append(f"[... {i - prev - 1} messages omitted ...]")
        parts.append(clip(msgs[i], per_msg))
        prev = i
    text = "\n\n".join(parts)
    if len(text) > budget_chars:  # tiny budgets: last resort, never fail
        text = clip(text, budget_chars)
    return text, True
