"""LLM backends by name: a new provider is one module plus one line here.

``get_backend(config)`` returns a :class:`Backend`; its ``complete_json(system,
user, schema)`` is the small blocking entry point other stages may reuse
(see docs/extractor-llm.md).
"""

from __future__ import annotations

from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.base import (
    Backend,
    BackendError,
    Completion,
    FatalError,
    PermanentError,
    TransientError,
)
from valuescope.registry import load_plugin

REGISTRY: dict[str, str] = {
    "openai": "valuescope.extract.llm.backends.openai:OpenAIBackend",
    "anthropic": "valuescope.extract.llm.backends.anthropic:AnthropicBackend",
    "replay": "valuescope.extract.llm.backends.replay:ReplayBackend",  # stored answers, no API (docs/extractor-llm.md)
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
    return load_plugin(REGISTRY, config.backend, "LLM backend")(config, model)
