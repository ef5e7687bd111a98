"""The analysis stages: whole-table steps from judgments and values to RUN/analysis/*.parquet.

Every aggregate passes the privacy floor (valuescope.privacy.floor) before it
is written; the number of suppressed cells per table goes to the manifest's
``privacy_floor`` section. The anomalies stage writes ``anomaly_scores.parquet``
(id -> anomaly_score and its parts), read by the report and joined into the
``judgments`` view of valuescope.duckdb.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from valuescope import registry
from valuescope.analysis import anomalies, compare, context, frequencies, responses
from valuescope.analysis.config import AnalysisConfig
from valuescope.analysis.data import RunData, load
from valuescope.engine.rundir import RunDir
from valuescope.engine.stage import TableStage
from valuescope.privacy.config import PrivacyConfig
from valuescope.privacy.floor import apply_floor, floor_section
from valuescope.records import stable_hash
from valuescope.taxonomy.stream import write_batches

INPUTS = ("judgments", "values", "mentions", "conversations")
ANOMALY_TABLE = "anomaly_scores"  # one row per judged conversation (row-level, like judgments: never exported)


class AnalysisStage(TableStage):
    """Shared plumbing: config in the cache key, loading, floor + manifest bookkeeping."""

    inputs = INPUTS

    def __init__(self, config: AnalysisConfig | None = None, privacy: PrivacyConfig | None = None) -> None:
        self.cfg = config or AnalysisConfig()
        self.privacy = privacy or PrivacyConfig()

    def config(self) -> dict[str, Any]:
        return {
            "analysis": self.cfg.model_dump(),
            "min_conversations": self.privacy.min_conversations,
            "min_users": self.privacy.min_users,
        }

    def floor(self, df: pd.DataFrame, **kw: Any) -> tuple[pd.DataFrame, int]:
        return apply_floor(df, min_conversations=self.privacy.min_conversations, min_users=self.privacy.min_users, **kw)

    def record(self, run: RunDir, suppressed: dict[str, int]) -> None:
        previous = run.read_manifest().get("privacy_floor")
        run.update_manifest(
            privacy_floor=floor_section(self.privacy.min_conversations, self.privacy.min_users, suppressed, previous)
        )

    def write(self, run: RunDir, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
        stats: dict[str, float] = {}
        for name, df in tables.items():
            run.write_table(f"analysis/{name}", df.reset_index(drop=True))
            stats[f"rows:{name}"] = len(df)
        return stats


class AnomaliesStage(AnalysisStage):
    """Scores every judged conversation into its own table, anomaly_scores.parquet.

    It never rewrites judgments.parquet: each table has one writer, so a rerun of
    extract (which rewrites judgments from its checkpoints) cannot drop the scores.
    """

    name = "analysis.anomalies"
    version = "2"
    outputs = (ANOMALY_TABLE, "analysis/alerts")

    def config(self) -> dict[str, Any]:
        """The policy's content is part of the key: editing the TOML reruns the stage."""
        policy = anomalies.load_policy(self.cfg.policy)
        return {**super().config(), "policy": stable_hash([policy.entries, policy.matching, policy.scoring])}

    def run(self, run: RunDir) -> dict[str, float]:
        data = load(run)
        policy = anomalies.load_policy(self.cfg.policy)
        top = anomalies.TopAlerts(self.cfg.alert_top, self.cfg.alert_min_score)
        scored = (top.add(b) for b in anomalies.scored_batches(data, policy, self.cfg.embedder))
        tables = (pa.Table.from_pandas(anomalies.scores_table(b), schema=anomalies.SCORE_SCHEMA) for b in scored)
        write_batches(run, ANOMALY_TABLE, tables, anomalies.SCORE_SCHEMA)
        alerts = top.table()
        stats = self.write(run, {"alerts": alerts})
        run.update_manifest(analysis={"policy": policy.source, "alerts": len(alerts)})
        mean = top.total / top.n if top.n else 0.0
        return {**stats, "alerts": len(alerts), "mean_anomaly_score": mean}


class FrequenciesStage(AnalysisStage):
    name = "analysis.frequencies"
    version = "1"
    outputs = ("analysis/frequencies", "analysis/summary")

    def run(self, run: RunDir) -> dict[str, float]:
        data = load(run)
        freq, n_sup = self.floor(frequencies.frequencies(data, self.cfg.alpha))
        self.record(run, {"frequencies": n_sup})
        return self.write(run, {"frequencies": freq, "summary": frequencies.summary(data, self.cfg.alpha)}) | {
            "suppressed": n_sup
        }


class ContextStage(AnalysisStage):
    name = "analysis.context"
    version = "1"
    outputs = ("analysis/context", "analysis/context_invariance", "analysis/responses")

    def run(self, run: RunDir) -> dict[str, float]:
        data = load(run)
        ctx = context.context_columns(data, self.cfg, self.privacy)
        tables, suppressed = {}, {}
        tables["context"], suppressed["context"] = self.floor(context.context_table(data, self.cfg, ctx))
        tables["context_invariance"], suppressed["context_invariance"] = self.floor(
            context.invariance_table(data, self.cfg, ctx)
        )
        tables["responses"], suppressed["responses"] = self.floor(responses.responses_table(data, self.cfg, ctx))
        self.record(run, suppressed)
        return self.write(run, tables) | {f"suppressed:{k}": v for k, v in suppressed.items()}


class ResponsesStage(AnalysisStage):
    name = "analysis.responses"
    version = "1"
    outputs = ("analysis/mirroring", "analysis/resistance_values", "analysis/value_pairs")

    def run(self, run: RunDir) -> dict[str, float]:
        data = load(run)
        tables, suppressed = {}, {}
        tables["mirroring"], suppressed["mirroring"] = self.floor(responses.mirroring_table(data, self.cfg))
        tables["resistance_values"], suppressed["resistance_values"] = self.floor(
            responses.resistance_table(data, self.cfg), n_col="n_resist"
        )
        tables["value_pairs"], suppressed["value_pairs"] = self.floor(responses.pairs_table(data, self.cfg))
        self.record(run, suppressed)
        return self.write(run, tables) | {f"suppressed:{k}": v for k, v in suppressed.items()}


class CompareStage(AnalysisStage):
    """Within-run comparison when the run holds several models (or weeks); nothing otherwise."""

    name = "analysis.compare"
    version = "1"
    outputs = ("analysis/compare", "analysis/compare_responses")  # absent when the run holds one group
    output_files = ("analysis/drift_summary.json",)

    def run(self, run: RunDir) -> dict[str, float]:
        data: RunData = load(run)
        pairs = [] if self.cfg.compare_by == "none" else compare.groups_within(data, self.cfg.compare_by)
        if not pairs:
            for name in ("analysis/compare", "analysis/compare_responses"):
                run.drop_table(name)
            (run.path / "analysis/drift_summary.json").unlink(missing_ok=True)
            return {"pairs": 0}
        vals, resp, drift, suppressed = compare.compare_many(
            pairs, self.cfg, self.privacy.min_conversations, self.privacy.min_users
        )
        drift["by"] = self.cfg.compare_by
        compare.write_comparison(run, vals, resp, drift, prefix="analysis/")
        self.record(run, suppressed)
        return {"pairs": len(pairs), "rows:compare": len(vals)} | {f"suppressed:{k}": v for k, v in suppressed.items()}


def analysis_stages(
    analysis_config: AnalysisConfig | None = None, privacy_config: PrivacyConfig | None = None
) -> list[TableStage]:
    """The registered analyses' stages (built-ins: analysis/plugin.py), in registration order."""
    config, privacy = analysis_config or AnalysisConfig(), privacy_config or PrivacyConfig()
    return [registry.get("analysis", name).build(config, privacy) for name in registry.names("analysis")]
