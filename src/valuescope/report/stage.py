"""The report stage: the run's tables -> RUN/report.html (the last stage of `valuescope analyze`)."""

from __future__ import annotations

from typing import Any

from valuescope.engine.stage import TableStage
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.config import ReportConfig
from valuescope.report.data import ANALYSIS_TABLES, ROW_TABLES
from valuescope.report.html import REPORT_FILE, write_report


class ReportStage(TableStage):
    name = "report"
    version = "1"
    # everything the page reads: a change in any of these makes the report stale
    inputs = ("conversations", *ROW_TABLES, *(f"analysis/{t}" for t in ANALYSIS_TABLES))
    outputs = ()
    output_files = (REPORT_FILE,)  # not a table; `valuescope report RUN` always rewrites it

    def __init__(self, report_config: ReportConfig | None = None, privacy_config: PrivacyConfig | None = None) -> None:
        self.report_config = report_config or ReportConfig()
        self.privacy_config = privacy_config or PrivacyConfig()

    def config(self) -> dict[str, Any]:
        return {
            "report": self.report_config.model_dump(mode="json"),
            "floor": [self.privacy_config.min_conversations, self.privacy_config.min_users],
        }

    def run(self, run: Any) -> dict[str, float]:
        path = write_report(run.path, self.report_config, self.privacy_config)
        return {"report_bytes": path.stat().st_size, "examples": int(self.report_config.examples)}


__all__ = ["REPORT_FILE", "ReportStage"]
