"""valuescope's built-in extractors and LLM backends, registered like any plugin (valuescope.registry)."""

from __future__ import annotations

from typing import Any


def register(registry: Any) -> None:
    registry.add("extractor", "offline", "valuescope.extract.offline.extractor:OfflineExtractor")
    registry.add("extractor", "llm", "valuescope.extract.llm.extractor:LLMExtractor")
    registry.add("extractor", "reference", "valuescope.extract.reference:ReferenceExtractor")
    registry.add("llm_backend", "openai", "valuescope.extract.llm.backends.openai:OpenAIBackend")
    registry.add("llm_backend", "anthropic", "valuescope.extract.llm.backends.anthropic:AnthropicBackend")
    # stored answers, no API (docs/extractor-llm.md)
    registry.add("llm_backend", "replay", "valuescope.extract.llm.backends.replay:ReplayBackend")
