"""Privacy settings (owned by the privacy package)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PrivacyConfig(BaseModel):
    scrub: str = "regex"  # "off" | "regex" | "ner"
    entities: list[str] = Field(default_factory=list)  # empty = every supported type
    keep_raw: bool = False  # keep an unscrubbed copy (conversations_raw.parquet)
    min_conversations: int = 5  # privacy floor: smallest cell that may leave a run
    min_users: int = 3  # ...and fewest distinct users, when user ids exist
