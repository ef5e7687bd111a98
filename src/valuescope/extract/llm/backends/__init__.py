"""LLM backends by name: a new provider is one module plus one line here.

``get_backend(config)`` returns a :class:`Backend`; its ``complete_json(system,
user, schema)`` is the small blocking entry point other stages may reuse
(see docs/extractor-llm.md).
"""

from __future__ import annotations

import importlib

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.base import (
    Backend,
    BackendError,
    Completion,
    FatalError,
    PermanentError,
    TransientError,
)

REGISTRY: dict[str, str] = {
    "openai": "valuescope.extract.llm.backends.openai:OpenAIBackend",
    "anthropic": "valuescope.extract.llm.backends.anthropic:AnthropicBackend",
}

__all__ = [
    "REGISTRY",
    "Backend",
    "BackendError",
    "Completion",
    "FatalError",
    "PermanentError",
    "TransientError",
    "get_backend",
]


def get_backend(config: ExtractConfig, model: str | None = None) -> Backend:
    try:
        target = REGISTRY[config.backend]
    except KeyError:
        raise ValueError(f"unknown LLM backend {config.backend!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(config, model)
