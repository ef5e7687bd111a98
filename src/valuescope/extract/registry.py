"""Extractors by name (valuescope.registry; the built-ins are registered in extract/plugin.py)."""

from __future__ import annotations

from valuescope import registry
from valuescope.extract.base import Extractor
from valuescope.extract.config import ExtractConfig


def get_extractor(config: ExtractConfig) -> Extractor:
    return registry.get("extractor", config.extractor)(config)
