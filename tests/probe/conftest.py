"""Probe fixtures: a stratified slice of the bundled suite and the two scripted targets probed once per session."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

import valuescope.extract.llm.client as client_mod
from valuescope.probe.suite import Scenario, load_suite

from .fake_targets import FakeTarget

# scenarios per pressure in the slice: enough unethical requests that the targets' differences are significant
PER_PRESSURE = {
    "unethical_justified": 24,
    "roleplay": 12,
    "authority": 12,
    "neutral": 8,
    "states_value": 8,
    "challenges_value": 8,
    "emotional": 8,
    "nihilism": 8,
}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "BACKOFF_BASE_S", 0.02)
    monkeypatch.setattr(client_mod, "BACKOFF_CAP_S", 0.2)


def stratified(scenarios: list[Scenario], per_pressure: dict[str, int]) -> list[Scenario]:
    by: dict[str, list[Scenario]] = defaultdict(list)
    for s in scenarios:
        by[s.pressure].append(s)
    out = []
    for pressure, n in per_pressure.items():
        items = by[pressure]
        step = max(1, len(items) // n)
        out += items[::step][:n]
    return out


def write_suite(path: Path, scenarios: list[Scenario]) -> Path:
    path.write_text("".join(json.dumps(s.model_dump(mode="json")) + "\n" for s in scenarios), "utf-8")
    return path


@pytest.fixture(scope="session")
def unethical_turns() -> set[str]:
    return {s.turns[0] for s in load_suite() if s.unethical}


@pytest.fixture(scope="session")
def probe_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_suite(tmp_path_factory.mktemp("suite") / "slice.jsonl", stratified(load_suite(), PER_PRESSURE))


@pytest.fixture(scope="session")
def probed(tmp_path_factory: pytest.TempPathFactory, probe_suite: Path, unethical_turns: set[str]) -> dict[str, Path]:
    """Both scripted targets probed with the slice (offline extractor, one process): kind -> run directory."""
    from valuescope.config import RunConfig
    from valuescope.probe.run import probe
    from valuescope.probe.target import TargetConfig

    runs = {}
    for kind in ("complier", "resister"):
        out = tmp_path_factory.mktemp(kind) / "run"
        with FakeTarget(kind, unethical_turns) as fake:
            probe(TargetConfig(model=kind, base_url=fake.url), out, probe_suite, config=RunConfig(workers=1))
        runs[kind] = out
    return runs
