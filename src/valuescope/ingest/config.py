"""Ingest settings (owned by the ingest package)."""

from __future__ import annotations

from pydantic import Field

from valuescope.settings import StrictModel


class IngestConfig(StrictModel):
    format: str | None = None  # None = auto-detect per file
    strict: bool = False  # fail on the first quarantined record
    max_record_bytes: int = 2_000_000  # a larger record is quarantined
    max_gzip_ratio: int = 200  # a gzip stream expanding more (x its file size, past 64 MiB) is cut there
    column_map: dict[str, str] = Field(default_factory=dict)  # CSV/Parquet: our field -> their column
    batch_size: int = 1000
