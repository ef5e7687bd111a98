"""Report settings (owned by the report package)."""

from __future__ import annotations

from pydantic import BaseModel


class ReportConfig(BaseModel):
    examples: bool = False  # include scrubbed example snippets (cells above the floor only)
