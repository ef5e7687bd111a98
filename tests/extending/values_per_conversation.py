"""How many AI values a subjective conversation expresses, per task category: an analysis plugin.

It registers its stage, its table and its report section together (docs/extending.md).
"""

from __future__ import annotations

from typing import Any

from valuescope.analysis.plugin import Analysis
from valuescope.analysis.stage import AnalysisStage
from valuescope.engine.rundir import RunDir
from valuescope.tables import Floor, TableSpec

TABLE = TableSpec("analysis/values_per_conversation", "analysis.values_per_conversation", floor=Floor())


class ValuesPerConversation(AnalysisStage):
    name = TABLE.writer
    version = "1"
    outputs = (TABLE.name,)

    def run(self, run: RunDir) -> dict[str, float]:
        judged = run.read_df("judgments", columns=["id", "subjective", "task_category"])
        judged = judged[judged["subjective"].fillna(False).astype(bool)]
        mentions = run.read_df("mentions", columns=["id", "side"])
        per_conversation = mentions[mentions["side"] == "ai"].groupby("id").size()
        users = run.read_df("conversations", columns=["id", "user_id"]).set_index("id")["user_id"]
        judged = judged.assign(
            n_values=judged["id"].map(per_conversation).fillna(0),
            user=judged["id"].map(users).fillna(judged["id"]),  # no user id: each conversation counts as a user
        )
        table = (
            judged.groupby("task_category")
            .agg(n=("id", "size"), n_users=("user", "nunique"), mean_values=("n_values", "mean"))
            .reset_index()
        )
        kept, suppressed = self.floor(table)  # the privacy floor, as every analysis table
        self.record(run, {"values_per_conversation": suppressed})
        return self.write(run, {"values_per_conversation": kept}) | {"suppressed": suppressed}


def section(data: Any, config: Any) -> Any:
    """The report's chapter for this table (called by the report; None = nothing to show)."""
    from valuescope.report.sections import Section, Table

    df = data.get("values_per_conversation")
    if df is None or df.empty:
        return None
    rows = [[r.task_category, int(r.n), f"{r.mean_values:.2f}"] for r in df.itertuples()]
    columns = ["task category", "conversations", "mean AI values"]
    return Section(
        id="values_per_conversation",
        title="Values per conversation",
        tables=[Table("AI values per subjective conversation, by task category", columns, rows)],
    )


def register(registry: Any) -> None:
    registry.add(
        "analysis", "values_per_conversation", Analysis(stage=ValuesPerConversation, tables=(TABLE,), section=section)
    )
