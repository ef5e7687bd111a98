"""The Extractor interface: conversations in, per-conversation judgments and value mentions out.

An extractor never raises for one bad conversation: it returns an
``Extraction`` with ``error`` set, and the extract stage quarantines it with
that reason. Conversation text is data, never instructions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from valuescope.extract.config import ExtractConfig
from valuescope.records import Conversation, Extraction


class Extractor(ABC):
    #: may the local engine run this extractor in several processes at once?
    #: (False for network extractors that manage their own concurrency.)
    parallel: bool = True
    #: conversations per engine batch (one checkpoint each)
    batch_size: int = 128
    max_workers: int | None = None

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config

    @property
    @abstractmethod
    def name(self) -> str:
        """Recorded in judgments.extractor, e.g. 'offline:minilm-v1'."""

    def cache_config(self) -> dict[str, Any]:
        """Everything that changes this extractor's output (model, weights, prompt version...)."""
        return {"name": self.name}

    def load(self) -> None:
        """Load models / open clients; called once per worker before extract()."""

    @abstractmethod
    def extract(self, conversations: list[Conversation]) -> list[Extraction]:
        """One Extraction per input conversation, in the same order."""

    def estimate(self, conversations: list[Conversation]) -> dict[str, Any] | None:
        """For --dry-run: calls, input/output tokens, cost. None when nothing is sent anywhere."""
        return None

    def close(self) -> None:
        """Release clients; record usage."""
