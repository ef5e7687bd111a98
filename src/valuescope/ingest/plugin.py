"""valuescope's built-in input formats, registered like any plugin (valuescope.registry).

A reader is a module with ``NAME``, ``sniff(record)`` and ``parse(record)``. The order here is the order
records are sniffed in: most specific first. (Inspect AI logs, Parquet, CSV and Arrow are read whole by
``ingest/source.py`` and are not sniffed record by record.)
"""

from __future__ import annotations

from typing import Any

READERS = (  # (format name = the module's NAME, module)
    ("valuescope", "native"),
    ("chatgpt", "chatgpt"),
    ("claude_export", "claude_export"),
    ("gemini", "gemini"),
    ("openai_batch", "openai_batch"),
    ("langsmith", "langsmith"),
    ("langfuse", "langfuse"),
    ("otel", "otel"),
    ("sharegpt", "sharegpt"),
    ("transcript", "transcript"),
    ("anthropic", "anthropic"),
    ("openai", "openai"),
)


def register(registry: Any) -> None:
    for name, module in READERS:
        registry.add("reader", name, f"valuescope.ingest.{module}")
