"""Analyses as plugins: an analysis registers its stage, its tables and its report section together.

valuescope's own analyses are registered here exactly as a third party's would be (docs/extending.md);
the run's analysis stages are the registered ones, in registration order.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from valuescope.analysis.config import AnalysisConfig
from valuescope.engine.stage import Stage
from valuescope.privacy.config import PrivacyConfig
from valuescope.tables import TableSpec, register_table


def _resolve(target: Any) -> Any:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Analysis:
    """One analysis: a stage class taking (AnalysisConfig, PrivacyConfig), what it writes, how it is shown.

    ``section`` is "module:function" (or the function) with signature ``(data, config) -> Section | None``
    (valuescope.report.sections); the report calls it, so the analysis package never imports the report.
    """

    stage: Any  # "module:Class" or the class
    tables: tuple[TableSpec, ...] = ()  # declared once, here (valuescope.tables)
    section: Any = None

    def __post_init__(self) -> None:
        for spec in self.tables:
            register_table(spec)

    def build(self, config: AnalysisConfig, privacy: PrivacyConfig) -> Stage:
        stage: Stage = _resolve(self.stage)(config, privacy)
        return stage

    def section_builder(self) -> Any:
        return _resolve(self.section) if self.section is not None else None


def register(registry: Any) -> None:
    """The built-in analyses (their tables are declared in valuescope.tables; their report sections are the
    report's own chapters)."""
    for name, cls in (
        ("anomalies", "AnomaliesStage"),
        ("frequencies", "FrequenciesStage"),
        ("context", "ContextStage"),
        ("responses", "ResponsesStage"),
        ("compare", "CompareStage"),
    ):
        registry.add("analysis", name, Analysis(stage=f"valuescope.analysis.stage:{cls}"))
    # probe runs only (valuescope probe); a no-op otherwise
    registry.add("analysis", "pressure", Analysis(stage="valuescope.analysis.pressure:PressureStage"))
