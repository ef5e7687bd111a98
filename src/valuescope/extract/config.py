"""Extractor settings (owned by the extract package), and the LLM settings the taxonomy namer shares."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import create_model

from valuescope.settings import StrictModel


class LLMSettings(StrictModel):
    """Which LLM to talk to and how: the extractor's, and by default the taxonomy namer's (``[taxonomy.llm]``)."""

    backend: str = "openai"  # a name in valuescope.extract.llm.backends registry
    model: str | None = None
    base_url: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 5
    temperature: float = 0.0
    # "auto": plain-http servers get the lean keep-alive transport (extract/llm/backends/http.py); "default": always
    # the SDK's own stack ($VALUESCOPE_LLM_HTTP=default). Speed only: not part of any stage key.
    http: Literal["auto", "default"] = "auto"


#: the same fields, each optional: what a section overrides of another's LLM settings (None = inherit)
LLMOverrides: type[StrictModel] = create_model(  # type: ignore[call-overload]
    "LLMOverrides",
    __base__=StrictModel,
    **{name: (field.annotation | None, None) for name, field in LLMSettings.model_fields.items()},
)


def llm_settings(base: LLMSettings, overrides: Any = None) -> LLMSettings:
    """``base``'s LLM fields with the fields ``overrides`` sets (an :data:`LLMOverrides`, or None) replacing them."""
    fields = {name: getattr(base, name) for name in LLMSettings.model_fields}
    if overrides is not None:
        fields.update(overrides.model_dump(exclude_none=True))
    return LLMSettings(**fields)


class ExtractConfig(LLMSettings):
    extractor: str = "offline"  # a name in valuescope.extract.registry
    # LLM extractor: the LLMSettings fields (backend, model, base_url, timeout_s, max_retries, temperature, http), and
    concurrency: int = 16  # requests in flight in all
    llm_processes: int = 1  # engine processes sharing them (each keeps concurrency / N in flight; needs --workers >= N)
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
    llm_cache_dir: str | None = None  # answer cache; None = RUN/.cache/llm, or cache_dir/llm ($VALUESCOPE_CACHE_DIR)
    batch_poll_s: float = 60.0  # batch API polling interval
    answers: str | None = None  # backend "replay": JSONL of stored answers {key, answer} (docs/extractor-llm.md)
    # reference extractor: judgments made elsewhere, in GUIDELINES.md's JSONL format
    reference: str | None = None
    # offline extractor: folder of another model bundle (model.npz + model.json); None = the bundled one
    offline_model: str | None = None
