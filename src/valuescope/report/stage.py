"""The report stage: the run's tables -> RUN/report.html (the last stage of `valuescope analyze`)."""

from __future__ import annotations

from typing import Any

from valuescope.engine.rundir import RunDir
from valuescope.engine.stage import TableStage
from valuescope.privacy.config import PrivacyConfig
from valuescope.report.config import ReportConfig
from valuescope.report.data import ROW_TABLES, analysis_table_names
from valuescope.report.html import REPORT_FILE, write_report


class ReportStage(TableStage):
    name = "report"
    version = "1"
    outputs = ()
    output_files = (REPORT_FILE,)  # not a table; `valuescope report RUN` always rewrites it

    def __init__(self, report_config: ReportConfig | None = None, privacy_config: PrivacyConfig | None = None) -> None:
        self.report_config = report_config or ReportConfig()
        self.privacy_config = privacy_config or PrivacyConfig()
        # everything the page reads (registered analyses' tables included): a change in any makes it stale
        self.inputs = ("conversations", *ROW_TABLES, *(f"analysis/{t}" for t in analysis_table_names()))

    def config(self) -> dict[str, Any]:
        return {
            "report": self.report_config.model_dump(mode="json"),
            "floor": [self.privacy_config.min_conversations, self.privacy_config.min_users],
        }

    def run(self, run: RunDir) -> dict[str, float]:
        path = write_report(run.path, self.report_config, self.privacy_config)
        return {"report_bytes": path.stat().st_size, "examples": int(self.report_config.examples)}


__all__ = ["REPORT_FILE", "ReportStage"]
