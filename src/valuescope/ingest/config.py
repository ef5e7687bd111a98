"""Ingest settings (owned by the ingest package)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from valuescope.settings import StrictModel


class IngestConfig(StrictModel):
    format: str | None = None  # None = auto-detect per file
    strict: bool = False  # fail on the first quarantined record
    max_record_bytes: int = 2_000_000  # a larger record is quarantined
    max_gzip_ratio: int = 200  # a gzip stream expanding more (x its file size, past 64 MiB) is cut there
    column_map: dict[str, str] = Field(default_factory=dict)  # CSV/Parquet: our field -> their column
    batch_size: int = 1000
    # Reasoning blocks (Claude thinking, ChatGPT thoughts, Gemini thought parts): kept out of the judged
    # text by default; "include" prepends them to their turn as [thinking] ... [/thinking].
    thinking: Literal["exclude", "include"] = "exclude"
