"""Extractors by name: a new extractor is one module plus one line here."""

from __future__ import annotations

from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig
from valuescope.registry import load_plugin

REGISTRY: dict[str, str] = {
    "offline": "valuescope.extract.offline.extractor:OfflineExtractor",
    "llm": "valuescope.extract.llm.extractor:LLMExtractor",
    "reference": "valuescope.extract.reference:ReferenceExtractor",
}


def get_extractor(config: ExtractConfig) -> Extractor:
    return load_plugin(REGISTRY, config.extractor, "extractor")(config)
