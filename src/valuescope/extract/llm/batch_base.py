"""The interface every provider batch API implements (``batch_openai``, ``batch_anthropic``).

Apart from ``batch.py`` (which picks a provider by backend name) so the providers do not import the module
that imports them.
"""

from __future__ import annotations

from typing import Any

from valuescope.extract.llm.backends.base import Backend, Completion

Result = Completion | str  # a completion, or the provider's reason for not answering


class BatchProvider:
    """The three calls every batch API offers."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def submit(self, requests: list[tuple[str, dict[str, Any]]]) -> str:
        raise NotImplementedError

    def poll(self, batch_id: str) -> tuple[bool, str]:
        """(finished?, provider status)."""
        raise NotImplementedError

    def collect(self, batch_id: str) -> dict[str, Result]:
        raise NotImplementedError
