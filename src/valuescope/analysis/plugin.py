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


#: where a plugin's chapters go in the report by default: after the built-in analyses' chapters on one
#: corpus, before the comparison between sources and the probe's pressure chapter
PLUGIN_REPORT_ORDER = 100


@dataclass(frozen=True)
class Analysis:
    """One analysis: a stage class taking (AnalysisConfig, PrivacyConfig), what it writes, how it is shown.

    ``section`` is "module:function" (or the function), or a tuple of them for several chapters in reading
    order, each with signature ``(data, config) -> Section | None`` (valuescope.report.sections); the report
    calls them, so the analysis package never imports the report. ``report_order`` places the chapters among
    the other analyses' (ties keep registration order).
    """

    stage: Any  # "module:Class" or the class
    tables: tuple[TableSpec, ...] = ()  # declared once, here (valuescope.tables)
    section: Any = None
    report_order: int = PLUGIN_REPORT_ORDER

    def __post_init__(self) -> None:
        for spec in self.tables:
            register_table(spec)

    def build(self, config: AnalysisConfig, privacy: PrivacyConfig) -> Stage:
        stage: Stage = _resolve(self.stage)(config, privacy)
        return stage

    def section_builders(self) -> list[Any]:
        """The report chapter functions, in reading order (none: the analysis shows nothing)."""
        if self.section is None:
            return []
        targets = self.section if isinstance(self.section, tuple) else (self.section,)
        return [_resolve(t) for t in targets]


REPORT = "valuescope.report"
#: valuescope's own analyses: (name, stage, report chapters, report order); their tables are declared in
#: valuescope.tables
BUILT_IN: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    (
        "anomalies",
        "valuescope.analysis.stage:AnomaliesStage",
        (f"{REPORT}.sections_analysis:anomalies_section",),
        40,
    ),
    (
        "frequencies",
        "valuescope.analysis.stage:FrequenciesStage",
        (
            f"{REPORT}.sections_values:categories_section",
            f"{REPORT}.sections_values:values_with_examples_section",
            f"{REPORT}.sections_values:published_section",
        ),
        10,
    ),
    ("context", "valuescope.analysis.stage:ContextStage", (f"{REPORT}.sections_analysis:context_section",), 20),
    (
        "responses",
        "valuescope.analysis.stage:ResponsesStage",
        (f"{REPORT}.sections_analysis:responses_section", f"{REPORT}.sections_analysis:resistance_section"),
        30,
    ),
    ("compare", "valuescope.analysis.stage:CompareStage", (f"{REPORT}.sections_compare:comparison_section",), 110),
    # probe runs only (valuescope probe); a no-op otherwise
    ("pressure", "valuescope.analysis.pressure:PressureStage", (f"{REPORT}.sections_pressure:pressure_section",), 120),
)


def register(registry: Any) -> None:
    """The built-in analyses, each with its stage and its report chapters, exactly as a plugin registers one."""
    for name, stage, sections, order in BUILT_IN:
        registry.add("analysis", name, Analysis(stage=stage, section=sections, report_order=order))
