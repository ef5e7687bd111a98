"""The stages of a run, in data-flow order: ingest -> extract -> taxonomy -> analysis -> report.

Privacy is not a separate pass over stored text: the ingest stage scrubs each
batch before anything is written (see valuescope.privacy), so no table ever
holds unscrubbed text unless the user asked for a raw copy.
"""

from __future__ import annotations

from valuescope.config import RunConfig
from valuescope.engine.stage import Stage


def build_stages(config: RunConfig, inputs: list[str] | None = None) -> list[Stage]:
    """The stages `valuescope analyze` runs. With `inputs`, ingestion comes first."""
    from valuescope.analysis.stage import analysis_stages
    from valuescope.extract.stage import ExtractStage
    from valuescope.ingest.stage import ingest_stages
    from valuescope.report.stage import ReportStage
    from valuescope.taxonomy.stage import taxonomy_stages

    stages: list[Stage] = []
    if inputs:
        stages += ingest_stages(inputs, config)
    stages.append(ExtractStage(config.extract))
    stages += taxonomy_stages(config.taxonomy)
    stages += analysis_stages(config.analysis, config.privacy)
    stages.append(ReportStage(config.report, config.privacy))
    return stages
