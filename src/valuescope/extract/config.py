"""Extractor settings (owned by the extract package)."""

from __future__ import annotations

from typing import Literal

from valuescope.settings import StrictModel


class ExtractConfig(StrictModel):
    extractor: str = "offline"  # a name in valuescope.extract.registry
    # LLM extractor
    backend: str = "openai"  # a name in valuescope.extract.llm.backends registry
    model: str | None = None
    base_url: str | None = None
    concurrency: int = 16  # requests in flight in all
    llm_processes: int = 1  # engine processes sharing them (each keeps concurrency / N in flight; needs --workers >= N)
    timeout_s: float = 120.0
    max_retries: int = 5
    temperature: float = 0.0
    screen_subjective: bool = False  # cheap first call; skip objective conversations
    batch_api: bool = False  # use the provider's batch API
    dry_run: bool = False
    # LLM extractor, continued (docs/extractor-llm.md)
    screen_model: str | None = None  # cheaper model for the subjectivity screen; None = model
    response_format: Literal["auto", "json_schema", "json_object", "tool", "prompt"] = "auto"
    max_input_tokens: int = 6000  # conversation budget; longer ones are windowed (extract/llm/window.py)
    max_output_tokens: int = 1024
    price_input_per_mtok: float | None = None  # USD per 1M input tokens, for --dry-run cost
    price_output_per_mtok: float | None = None
    llm_cache_dir: str | None = None  # answer cache; None = $VALUESCOPE_CACHE_DIR or ~/.cache/valuescope/llm
    batch_poll_s: float = 60.0  # batch API polling interval
    answers: str | None = None  # backend "replay": JSONL of stored answers {key, answer} (docs/extractor-llm.md)
    # reference extractor: judgments made elsewhere, in GUIDELINES.md's JSONL format
    reference: str | None = None
    # offline extractor: folder of another model bundle (model.npz + model.json); None = the bundled one
    offline_model: str | None = None
