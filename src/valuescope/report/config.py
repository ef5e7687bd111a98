"""Report settings (owned by the report package)."""

from __future__ import annotations

from typing import Literal

from valuescope.settings import StrictModel


class ReportConfig(StrictModel):
    examples: bool = False  # include scrubbed example snippets (cells above the floor only)
    max_examples: int = 3  # snippets per value, with --examples
    snippet_chars: int = 280  # each snippet's length cap (characters per turn)
    top_n: int = 20  # values per bar chart / table
    title: str | None = None  # page title; None = "valuescope report: <run folder name>"
    plotly: Literal["gzip", "raw"] = "gzip"  # how plotly.js is inlined: base64 gzip (~2 MB) | raw (~4.8 MB)
