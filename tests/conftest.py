"""Shared fixtures: where the read-only shared data lives (../shared beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set VALUESCOPE_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def conversations_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "conversations"


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "reference-annotations"
