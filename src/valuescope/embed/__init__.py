"""Embedding models behind one interface, chosen by name.

Each embedder is registered by name (valuescope.registry, built-ins in embed/plugin.py). Instances are cached per process
because loading a model costs far more than a batch of embeddings.
"""

from __future__ import annotations

from functools import lru_cache

from valuescope import registry
from valuescope.embed.base import Embedder

DEFAULT = "minilm"


@lru_cache(maxsize=4)
def get_embedder(name: str = DEFAULT) -> Embedder:
    """The embedder registered under ``name`` (built-ins: embed/plugin.py), one instance per process."""
    return registry.get("embedder", name)()


__all__ = ["DEFAULT", "Embedder", "get_embedder"]
