"""Real conversations chosen to stress the offline extractor, read once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.offline.data import CORPORA, read_corpus
from valuescope.extract.config import ExtractConfig
from valuescope.extract.offline.extractor import OfflineExtractor
from valuescope.records import Conversation


def _stress(convs: list[Conversation]) -> list[Conversation]:
    """Per corpus: first, longest, shortest, most non-ASCII, and a code-heavy one."""
    size = lambda c: sum(len(m.content) for m in c.messages)  # noqa: E731
    non_ascii = lambda c: sum(ord(ch) > 127 for m in c.messages for ch in m.content)  # noqa: E731
    code = lambda c: sum(m.content.count("```") + m.content.count(";") for m in c.messages)  # noqa: E731
    picks = [convs[0], max(convs, key=size), min(convs, key=size), max(convs, key=non_ascii), max(convs, key=code)]
    out, seen = [], set()
    for c in picks:
        if c.id not in seen:
            seen.add(c.id)
            out.append(c)
    return out


@pytest.fixture(scope="session")
def corpora(conversations_dir: Path) -> dict[str, list[Conversation]]:
    return {name: read_corpus(conversations_dir / f"{name}.jsonl") for name in CORPORA}


@pytest.fixture(scope="session")
def stress_set(corpora: dict[str, list[Conversation]]) -> list[Conversation]:
    return [c for convs in corpora.values() for c in _stress(convs)]


@pytest.fixture(scope="session")
def extractor() -> OfflineExtractor:
    ex = OfflineExtractor(ExtractConfig())
    ex.load()
    return ex
