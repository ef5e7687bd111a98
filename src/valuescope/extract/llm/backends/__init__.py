"""LLM backends by name: a new provider is one module registered as a plugin (valuescope.registry;
the built-ins are registered in extract/plugin.py).

``get_backend(config)`` returns a :class:`Backend`; its ``complete_json(system,
user, schema)`` is the small blocking entry point other stages may reuse
(see docs/extractor-llm.md).
"""

from __future__ import annotations

from valuescope import registry
from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.base import (
    Backend,
    BackendError,
    Completion,
    FatalError,
    PermanentError,
    TransientError,
)

__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "FatalError",
    "PermanentError",
    "TransientError",
    "get_backend",
]


def get_backend(config: ExtractConfig, model: str | None = None) -> Backend:
    return registry.get("llm_backend", config.backend)(config, model)
