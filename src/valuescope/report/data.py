"""Everything the report reads from a run, loaded once and tolerant of gaps.

A missing table is not an error: the section that needs it is omitted with a
short note, so a report can be made from a partial run (say, extraction only).
Conversation text is loaded only when examples were asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from valuescope import registry
from valuescope.engine.rundir import RunDir
from valuescope.privacy.floor import apply_floor
from valuescope.report.floor import Floor
from valuescope.tables import TABLES, analysis_tables

# the analysis tables and their floors are declared once, in valuescope.tables (plugins' included): the
# report re-applies the floor, so a report made with a stricter floor than the analysis never shows a smaller cell


def analysis_table_names() -> list[str]:
    """Names of the aggregate tables under RUN/analysis/ (built-ins, then registered analyses')."""
    registry.REGISTRY.load()  # analyses declare their tables when registered
    return [t.name.removeprefix("analysis/") for t in analysis_tables()]


# row-level tables read whole (conversations is read separately, metadata only)
ROW_TABLES = ("judgments", "mentions", "values", "anomaly_scores")
# conversations columns the report may read: metadata only, never text
CONVERSATION_META = ("id", "model", "source", "context", "user_id", "timestamp")


@dataclass
class ReportData:
    run: RunDir
    manifest: dict[str, Any]
    quarantine: list[dict[str, Any]]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    floor: Floor | None = None

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    def has(self, *names: str) -> bool:
        return all(n in self.tables for n in names)

    def mentions_with_meta(self) -> pd.DataFrame:
        """values (or mentions) joined with per-conversation metadata, for floor-checked counts."""
        values = self.get("values")
        if values is None:
            values = self.get("mentions")
        if values is None:
            return pd.DataFrame(columns=["id", "side", "value_norm"])
        out = values.copy()
        if "value_norm" not in out.columns:
            out["value_norm"] = out["value"].str.strip().str.lower()
        convs = self.get("conversations")
        if convs is not None:
            out = out.merge(convs, on="id", how="left")
        judg = self.get("judgments")
        if judg is not None:
            cols = [c for c in ("id", "task_category", "response", "subjective") if c in judg.columns]
            out = out.merge(judg[cols], on="id", how="left")
        return out


def _read(run: RunDir, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    if not run.has_table(name):
        return None
    try:
        if columns is not None:
            present = set(run.read_table(name).schema.names)
            columns = [c for c in columns if c in present]
        return run.read_df(name, columns)
    except Exception:  # unreadable table: treat as missing, the section says so
        return None


def refloor(name: str, df: pd.DataFrame, floor: Floor) -> pd.DataFrame:
    spec = TABLES.get(f"analysis/{name}")
    if spec is None or spec.floor is None or df.empty:
        return df
    n_cols = [c for c in spec.floor.counts if c in df.columns]
    if not n_cols:
        return df
    users = [c for c in spec.floor.users if c in df.columns]
    kept, _ = apply_floor(
        df, n_cols, users or None, floor.min_conversations, floor.min_users, allow_zero=spec.floor.allow_zero
    )
    groups = [c for c in spec.floor.groups if c in kept.columns]
    if groups:
        kept, _ = apply_floor(kept, groups, None, floor.min_conversations, floor.min_users)
    return kept


def withhold_cluster_names(data: ReportData) -> None:
    """Cluster names quoting a below-floor value (automatic names of a discovered tree) are
    replaced wherever the report could show them (report/export.py decides which)."""
    from valuescope.report.export import withheld_cluster_names
    from valuescope.taxonomy.reference import published_cluster_names

    values = data.get("values")
    if values is None:
        return
    convs = data.get("conversations")
    users = (
        convs[["id", "user_id"]]
        if convs is not None and "user_id" in convs.columns and convs["user_id"].notna().any()
        else None
    )
    withheld = withheld_cluster_names(values, users, data.floor, keep=published_cluster_names())
    if not withheld:
        return
    for name, df in data.tables.items():
        if name != "conversations":
            text = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
            data.tables[name] = df.assign(
                **{c: df[c].map(lambda x: withheld.get(x, x) if isinstance(x, str) else x) for c in text}
            )


def _pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["group_a"], df["group_b"], strict=True))


def load_report_data(run: RunDir, floor: Floor | None = None, with_text: bool = False) -> ReportData:
    data = ReportData(run=run, manifest=run.read_manifest(), quarantine=run.read_quarantine(), floor=floor)
    for name in ROW_TABLES:
        df = _read(run, name)
        if df is not None:
            data.tables[name] = df
    cols = None if with_text else list(CONVERSATION_META)
    convs = _read(run, "conversations", cols)
    if convs is not None:
        data.tables["conversations"] = convs
    for name in analysis_table_names():
        df = _read(run, f"analysis/{name}")
        if df is None and name.startswith("compare"):  # a `valuescope compare --out DIR` folder
            df = _read(run, name)
        if df is not None:
            data.tables[name] = refloor(name, df, floor) if floor is not None else df
    if floor is not None:
        withhold_cluster_names(data)
    if floor is not None and "compare_responses" in data.tables:  # only group pairs whose groups pass
        ok = _pairs(data.tables["compare"]) if "compare" in data.tables else set()
        cr = data.tables["compare_responses"]
        data.tables["compare_responses"] = cr[[p in ok for p in zip(cr["group_a"], cr["group_b"], strict=True)]]
    return data
