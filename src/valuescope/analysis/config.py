"""Analysis settings (owned by the analysis package)."""

from __future__ import annotations

from pydantic import BaseModel


class AnalysisConfig(BaseModel):
    policy: str | None = None  # TOML policy of disfavoured values; None = bundled default
    min_support: int = 5  # a value x context cell needs this many conversations
    correction: str = "bh"  # "bh" (Benjamini-Hochberg) | "bonferroni"
    alpha: float = 0.05
