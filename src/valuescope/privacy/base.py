"""The Scrubber interface: replaces personal data in text with typed placeholders.

Modes by name: "off" (no scrubbing), "regex" (patterns only, fast), "ner"
(patterns + named-entity recognition for person names and addresses).
Implementations live in one module each; ``get_scrubber`` picks by mode.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from valuescope.privacy.config import PrivacyConfig
from valuescope.records import Conversation, Message


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

    def scrub_text(self, text: str) -> str:
        out, last = [], 0
        for f in sorted(self.find(text), key=lambda f: f.start):
            if f.start < last:
                continue
            out.append(text[last : f.start])
            out.append(f"[{f.entity}]")
            last = f.end
        out.append(text[last:])
        return "".join(out)

    def scrub_conversation(self, conv: Conversation) -> Conversation:
        messages = [Message(role=m.role, content=self.scrub_text(m.content)) for m in conv.messages]
        return conv.model_copy(update={"messages": messages})


class NullScrubber(Scrubber):
    name = "off"

    def find(self, text: str) -> list[Finding]:
        return []


REGISTRY: dict[str, str] = {
    "off": "valuescope.privacy.base:NullScrubber",
    "regex": "valuescope.privacy.regex:RegexScrubber",
    "ner": "valuescope.privacy.ner:NERScrubber",
}


def get_scrubber(config: PrivacyConfig) -> Scrubber:
    try:
        target = REGISTRY[config.scrub]
    except KeyError:
        raise ValueError(f"unknown scrub mode {config.scrub!r}; known: {', '.join(REGISTRY)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(config)
