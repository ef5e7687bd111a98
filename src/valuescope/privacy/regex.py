"""Regex-only scrubber: every pattern type, no model, thousands of messages a second."""

from __future__ import annotations

from typing import Any

from valuescope.privacy.base import Finding, Scrubber
from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.patterns import NER_ENTITIES, PATTERN_ENTITIES, find_patterns, merge_spans


def resolve_entities(config: PrivacyConfig, supported: tuple[str, ...]) -> tuple[str, ...]:
    """The entity types to find: the configured list (validated) or all the mode supports."""
    if not config.entities:
        return supported
    wanted = tuple(dict.fromkeys(e.upper() for e in config.entities))
    unknown = [e for e in wanted if e not in PATTERN_ENTITIES + NER_ENTITIES]
    if unknown:
        raise ValueError(f"unknown privacy entities {unknown}; known: {', '.join(PATTERN_ENTITIES + NER_ENTITIES)}")
    unsupported = [e for e in wanted if e not in supported]
    if unsupported:
        raise ValueError(f"scrub mode {config.scrub!r} cannot find {unsupported}; use scrub='ner' for person names")
    return wanted


class RegexScrubber(Scrubber):
    name = "regex"
    supported: tuple[str, ...] = PATTERN_ENTITIES

    def __init__(self, config: PrivacyConfig) -> None:
        super().__init__(config)
        self.entities = resolve_entities(config, self.supported)

    def cache_config(self) -> dict[str, Any]:
        return {"scrubber": self.name, "entities": sorted(self.entities), "version": 1}

    def find(self, text: str) -> list[Finding]:
        if not text:
            return []
        return [Finding(e, s, t) for e, s, t in merge_spans(find_patterns(text, self.entities))]
