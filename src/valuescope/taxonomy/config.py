"""Taxonomy settings (owned by the taxonomy package)."""

from __future__ import annotations

from pydantic import BaseModel


class TaxonomyConfig(BaseModel):
    tree: str | None = None  # path to a tree in the published schema; None = bundled
    new_value_threshold: float | None = None  # below this placement score a value is "new"; None = default
    build: bool = True  # also discover a fresh hierarchy over the run's own values
