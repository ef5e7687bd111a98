"""Helpers for ingest tests: real shared records, and a one-call ingest into a temp run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valuescope import api
from valuescope.config import RunConfig


@pytest.fixture(scope="session")
def hh_records(conversations_dir: Path) -> list[dict]:
    """The first 40 usable real hh-rlhf conversations (multi-turn, with user and assistant)."""
    out = []
    with (conversations_dir / "hh_rlhf_harmless_base_test.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if all(m["content"].strip() for m in rec["messages"]):
                out.append(rec)
            if len(out) == 40:
                break
    return out


def _ingest(tmp_path: Path, *files: Path | str, name: str = "run", **overrides) -> api.Run:
    cfg = api.apply_overrides(RunConfig(), scrub=overrides.pop("scrub", "off"), **overrides)
    return api.ingest([str(f) for f in files], tmp_path / name, cfg)


def _messages_of(run: api.Run) -> list[list[tuple[str, str]]]:
    return [
        [(m["role"], m["content"]) for m in row] for row in run.dir.read_table("conversations")["messages"].to_pylist()
    ]


@pytest.fixture
def ingest():
    """ingest(tmp_path, *files, name=..., **config overrides) -> Run (scrub off unless given)."""
    return _ingest


@pytest.fixture
def messages_of():
    return _messages_of
