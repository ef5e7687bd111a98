"""valuescope's built-in scrubbers, registered like any plugin (valuescope.registry)."""

from __future__ import annotations

from typing import Any


def register(registry: Any) -> None:
    registry.add("scrubber", "off", "valuescope.privacy.base:NullScrubber")
    registry.add("scrubber", "regex", "valuescope.privacy.regex:RegexScrubber")
    registry.add("scrubber", "ner", "valuescope.privacy.ner:NERScrubber")  # Presidio + spaCy (the [ner] extra)
