"""Extractors by name: a new extractor is one module plus one line here."""

from __future__ import annotations

import importlib

from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig

REGISTRY: dict[str, str] = {
    "offline": "valuescope.extract.offline.extractor:OfflineExtractor",
    "llm": "valuescope.extract.llm.extractor:LLMExtractor",
    "reference": "valuescope.extract.reference:ReferenceExtractor",
}


def get_extractor(config: ExtractConfig) -> Extractor:
    try:
        target = REGISTRY[config.extractor]
    except KeyError:
        raise ValueError(f"unknown extractor {config.extractor!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(config)
