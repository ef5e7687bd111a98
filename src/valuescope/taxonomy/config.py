"""Taxonomy settings (owned by the taxonomy package)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from valuescope.extract.config import LLMOverrides
from valuescope.settings import StrictModel

#: run.toml keys before the shared LLM settings, still read: ``[taxonomy] llm_model = "m"`` is ``[taxonomy.llm] model``
RENAMED = {"llm_backend": "backend", "llm_model": "model", "llm_base_url": "base_url"}


class TaxonomyConfig(StrictModel):
    tree: str | None = None  # path to a tree in the published schema; None = bundled
    new_value_threshold: float | None = None  # below this placement score a value is "new"; None = default
    build: bool = True  # also discover a fresh hierarchy over the run's own values
    embedder: str = "minilm"  # registry name in valuescope.embed
    hint_strength: float = Field(4.0, ge=1.0)  # hint_rule "weight": likelihood ratio given to an l2_hint (1 = ignore)
    # how an extractor's l2_hint is used (docs/taxonomy.md): "inside" = a published leaf keeps the tree's path, any
    # other value keeps the hinted l2 (the placer picks l1/leaf inside it); "weight" = the hint only reweights
    hint_rule: Literal["inside", "weight"] = "inside"
    sides: list[Literal["ai", "human"]] = Field(default_factory=lambda: ["ai"])  # mentions counted in exported trees
    level_sizes: list[int] | None = None  # discovered clusters per level, bottom-up; None = geometric to 5
    namer: Literal["offline", "llm"] = "offline"  # how discovered clusters are named
    # for namer="llm": the LLM settings that differ from [extract]'s (backend, model, base_url, ...); unset = the same
    llm: LLMOverrides = Field(default_factory=LLMOverrides)  # type: ignore[valid-type]
    llm_restructure: bool = True  # with namer="llm": rebuild the levels above the base clusters Clio-style
    seed: int = 0
    # placement encoders (docs/taxonomy.md); both change values.parquet, so both are part of the stage key
    place_second: bool = True  # the second encoder (e5); off = MiniLM alone, ~5x faster, a few points lower
    place_tuned: bool = True  # the bundled fine-tuned heads (used only for the tree they were trained on)

    @model_validator(mode="before")
    @classmethod
    def _renamed_llm_keys(cls, data: Any) -> Any:
        """The old flat keys (``llm_model`` ...) land in ``llm``; setting one in both places is an error."""
        if not isinstance(data, dict) or not any(k in data for k in RENAMED):
            return data
        data = dict(data)
        llm = dict(data.get("llm") or {})
        for old, new in RENAMED.items():
            if old not in data:
                continue
            value = data.pop(old)
            if llm.get(new) is not None and value is not None and llm[new] != value:
                raise ValueError(f"taxonomy.{old} and taxonomy.llm.{new} disagree; keep taxonomy.llm.{new}")
            if value is not None:
                llm[new] = value
        data["llm"] = llm
        return data
