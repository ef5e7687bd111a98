"""The Scrubber interface: replaces personal data in text with typed placeholders.

Modes by name: "off" (no scrubbing), "regex" (patterns only, fast), "ner"
(patterns + named-entity recognition for person names and addresses).
Implementations live in one module each; ``get_scrubber`` picks by mode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from valuescope import registry
from valuescope.privacy.config import PrivacyConfig
from valuescope.records import Conversation


@dataclass(frozen=True)
class Finding:
    entity: str  # "EMAIL", "PERSON", ...
    start: int
    end: int


class Scrubber(ABC):
    name: str

    def __init__(self, config: PrivacyConfig) -> None:
        self.config = config

    def cache_config(self) -> dict[str, Any]:
        return {"scrubber": self.name, "entities": sorted(self.config.entities)}

    @abstractmethod
    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings, sorted by start."""

    @staticmethod
    def render(text: str, findings: Sequence[Finding]) -> str:
        """Replace each finding by its typed placeholder; an overlapping finding widens the previous one."""
        out, last = [], 0
        for f in sorted(findings, key=lambda f: f.start):
            if f.start < last:  # overlap: widen the previous placeholder, never leak a fragment
                last = max(last, f.end)
                continue
            out.append(text[last : f.start])
            out.append(f"[{f.entity}]")
            last = f.end
        out.append(text[last:])
        return "".join(out)

    def scrub_text(self, text: str) -> str:
        return self.render(text, self.find(text))

    def scrub_texts(self, texts: Sequence[str]) -> list[str]:
        """Several texts at once; model-based scrubbers override this to batch."""
        return [self.scrub_text(t) for t in texts]

    def scrub_conversation(self, conv: Conversation) -> Conversation:
        """Messages, the context label and every string inside ``meta`` are scrubbed.

        Ids, model and source names are kept: they are not free text.
        """
        return self.scrub_conversations([conv])[0]

    def scrub_conversations(self, convs: Sequence[Conversation]) -> list[Conversation]:
        """Several conversations in one ``scrub_texts`` call (one spaCy batch in NER mode)."""
        parts = [_texts_of(c) for c in convs]
        flat = self.scrub_texts([t for p in parts for t in p])
        out, i = [], 0
        for conv, texts in zip(convs, parts, strict=True):
            out.append(_rebuild(conv, flat[i : i + len(texts)]))
            i += len(texts)
        return out


def _texts_of(conv: Conversation) -> list[str]:
    meta_strings: list[str] = []
    _collect_strings(conv.meta, meta_strings)
    calls = [c.arguments for m in conv.messages for c in m.tool_calls]  # free text too: scrubbed like content
    return [m.content for m in conv.messages] + calls + ([conv.context] if conv.context else []) + meta_strings


def _rebuild(conv: Conversation, scrubbed: list[str]) -> Conversation:
    n = len(conv.messages)
    args = iter(scrubbed[n:])
    messages = [
        m.model_copy(
            update={"content": t, "tool_calls": [c.model_copy(update={"arguments": next(args)}) for c in m.tool_calls]}
        )
        for m, t in zip(conv.messages, scrubbed[:n], strict=True)
    ]
    update: dict[str, Any] = {"messages": messages}
    rest = scrubbed[n + sum(len(m.tool_calls) for m in conv.messages) :]
    if conv.context:
        update["context"], rest = rest[0], rest[1:]
    if conv.meta:
        update["meta"] = _replace_strings(conv.meta, iter(rest))
    return conv.model_copy(update=update)


def _collect_strings(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect_strings(v, out)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _collect_strings(v, out)


def _replace_strings(obj: Any, new: Iterator[str]) -> Any:
    if isinstance(obj, str):
        return next(new)
    if isinstance(obj, dict):
        return {k: _replace_strings(v, new) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_replace_strings(v, new) for v in obj]
    return obj


class NullScrubber(Scrubber):
    name = "off"

    def scrub_conversations(self, convs: Sequence[Conversation]) -> list[Conversation]:
        return list(convs)

    def find(self, text: str) -> list[Finding]:
        return []


def get_scrubber(config: PrivacyConfig) -> Scrubber:
    """The scrubber registered under ``privacy.scrub`` (built-ins: privacy/plugin.py)."""
    return registry.get("scrubber", config.scrub)(config)
