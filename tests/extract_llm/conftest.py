"""Fixtures for the LLM extractor tests: a fault-injecting fake server on loopback, fast backoff, sample data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import valuescope.extract.llm.client as client_mod
from fakes.fake_server import FakeLLM, ServerThread


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "BACKOFF_BASE_S", 0.02)
    monkeypatch.setattr(client_mod, "BACKOFF_CAP_S", 0.2)


@pytest.fixture
def fake() -> Iterator[tuple[FakeLLM, str]]:
    app = FakeLLM(hang_s=4)
    with ServerThread(app) as url:
        yield app, url
