"""The stages of a run, ordered by the data they declare: a stage runs after every stage writing one of its inputs.

The built-in flow is ingest -> extract -> taxonomy -> analysis -> report; analyses come from the plugin
registry (valuescope.registry, kind "analysis"), so a plugin's analysis lands in the run without any change
here. Privacy is not a separate pass over stored text: the ingest stage scrubs each batch before anything is
written (see valuescope.privacy), so no table ever holds unscrubbed text unless the user asked for a raw copy.
"""

from __future__ import annotations

from valuescope.analysis.stage import analysis_stages
from valuescope.config import RunConfig
from valuescope.engine.stage import Stage
from valuescope.errors import ConfigError
from valuescope.extract.stage import ExtractStage
from valuescope.ingest.stage import ingest_stages
from valuescope.report.stage import ReportStage
from valuescope.taxonomy.stage import taxonomy_stages


def build_stages(config: RunConfig, inputs: list[str] | None = None) -> list[Stage]:
    """The stages `valuescope analyze` runs. With `inputs`, ingestion comes first."""
    stages: list[Stage] = list(ingest_stages(inputs, config)) if inputs else []
    stages.append(ExtractStage(config.extract))
    stages += taxonomy_stages(config.taxonomy_for_run())
    stages += analysis_stages(config.analysis, config.privacy)
    stages.append(ReportStage(config.report, config.privacy))
    return in_data_order(stages)


def in_data_order(stages: list[Stage]) -> list[Stage]:
    """Stages sorted so each runs after the writers of its inputs; otherwise in the order given.

    Two stages declaring the same output, or a cycle, is a configuration error (the engine's rule: one
    writer per table).
    """
    writer: dict[str, int] = {}
    for i, stage in enumerate(stages):
        for table in stage.outputs:
            if table in writer:
                raise ConfigError(f"table {table!r} is written by both {stages[writer[table]].name} and {stage.name}")
            writer[table] = i
    after = [{writer[t] for t in stage.inputs if t in writer and writer[t] != i} for i, stage in enumerate(stages)]
    done: list[int] = []
    while len(done) < len(stages):
        ready = [i for i in range(len(stages)) if i not in done and after[i] <= set(done)]
        if not ready:
            stuck = ", ".join(stages[i].name for i in range(len(stages)) if i not in done)
            raise ConfigError(f"stages wait on each other's tables: {stuck}")
        done.append(ready[0])
    return [stages[i] for i in done]
