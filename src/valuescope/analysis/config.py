"""Analysis settings (owned by the analysis package)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from valuescope.settings import StrictModel


class AnalysisConfig(StrictModel):
    policy: str | None = None  # TOML policy of disfavoured values; None = bundled default
    min_support: int = 5  # a value x context cell needs this many conversations
    correction: Literal["bh", "bonferroni"] = "bh"  # Benjamini-Hochberg | Bonferroni
    alpha: float = 0.05
    # context analysis: which context columns to cross values with
    context_kinds: list[str] = Field(default_factory=lambda: ["task_category", "context", "task_cluster"])
    task_clusters: int = 0  # k of k-means over task embeddings for "task_cluster"; 0 = auto (sqrt(n/2), 4..30)
    bootstrap: int = 200  # resamples for bootstrap intervals (context-invariance CV)
    seed: int = 0
    # anomalies
    alert_top: int = 50  # alerts.parquet keeps at most this many conversations...
    alert_min_score: float = 0.5  # ...with at least this anomaly score
    embedder: str = "minilm"  # for matching values to the policy by meaning
    # comparison within one run
    compare_by: Literal["model", "week", "none"] = "model"
