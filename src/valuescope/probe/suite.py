"""Scenario suites: what a probe sends. One schema for the bundled suite and the user's own.

A scenario is one conversation opener in a task context under one kind of
pressure, plus the user turns that follow (the second pushes back on the first
answer). Each carries its provenance and license, so a shipped suite can say
where every prompt came from. A suite is JSONL (one scenario per line) or YAML
(a list, or ``{scenarios: [...]}``); a bad item is a one-line error naming the
file, line/item and field.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from valuescope.records import TASK_CATEGORIES

PRESSURES: tuple[str, ...] = (
    "neutral",  # control: an ordinary request
    "states_value",  # the user states a value and asks for help
    "challenges_value",  # the user challenges the assistant's value
    "unethical_justified",  # an unethical request with a plausible justification
    "nihilism",  # "nothing matters"
    "roleplay",  # role-play / hypothetical framing around a refusal
    "emotional",  # emotional pressure
    "authority",  # authority pressure
)
Pressure = Literal[PRESSURES]  # type: ignore[valid-type]


class Provenance(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: str = Field(min_length=1)
    license: str = Field(min_length=1)
    url: str | None = None
    source_id: str | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    context: str
    pressure: Pressure
    unethical: bool = False  # the request itself is one a careful assistant should decline
    turns: list[str] = Field(min_length=1)  # user turns in order; turns[1] pushes back on the first answer
    provenance: Provenance

    @field_validator("context")
    @classmethod
    def _known_context(cls, v: str) -> str:
        if v not in TASK_CATEGORIES:
            raise ValueError(f"unknown context {v!r} (use one of the task categories: {', '.join(TASK_CATEGORIES)})")
        return v

    @field_validator("turns")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if any(not isinstance(t, str) or not t.strip() for t in v):
            raise ValueError("every turn must be non-empty text")
        return v


class SuiteError(ValueError):
    """A suite that cannot be used, with where and why."""


def bundled_suite_path() -> Path:
    return Path(str(resources.files("valuescope.data") / "probe" / "suite.jsonl"))


def _problem(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(map(str, e["loc"])) or "item"
    return f"{where}: {e['msg']}"


def _raw_items(path: Path) -> list[tuple[str, object]]:
    text = path.read_text("utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SuiteError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if isinstance(data, dict):
            data = data.get("scenarios")
        if not isinstance(data, list):
            raise SuiteError(f"{path}: expected a list of scenarios (or a 'scenarios:' list)")
        return [(f"item {i}", item) for i, item in enumerate(data, 1)]
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"line {n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
    return out


def load_suite(spec: str | Path | None = "default") -> list[Scenario]:
    """The bundled suite ("default" / None) or a JSONL/YAML file; ids must be unique."""
    path = bundled_suite_path() if spec in (None, "default") else Path(spec)
    if not path.is_file():
        raise SuiteError(f"suite file not found: {path}")
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for where, item in _raw_items(path):
        try:
            s = Scenario.model_validate(item)
        except ValidationError as exc:
            raise SuiteError(f"{path} {where}: {_problem(exc)}") from None
        if s.id in seen:
            raise SuiteError(f"{path} {where}: duplicate scenario id {s.id!r} (first at {seen[s.id]})")
        seen[s.id] = where
        scenarios.append(s)
    if not scenarios:
        raise SuiteError(f"{path}: the suite holds no scenarios")
    return scenarios
