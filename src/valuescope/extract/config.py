"""Extractor settings (owned by the extract package)."""

from __future__ import annotations

from pydantic import BaseModel


class ExtractConfig(BaseModel):
    extractor: str = "offline"  # a name in valuescope.extract.registry
    # LLM extractor
    backend: str = "openai"  # a name in valuescope.extract.llm.backends registry
    model: str | None = None
    base_url: str | None = None
    concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 5
    temperature: float = 0.0
    screen_subjective: bool = False  # cheap first call; skip objective conversations
    batch_api: bool = False  # use the provider's batch API
    dry_run: bool = False
    # reference extractor: judgments made elsewhere, in GUIDELINES.md's JSONL format
    reference: str | None = None
